"""The README's tour, runnable: each result the README states is checked here.

Run it with ``.venv/bin/python examples/quickstart.py``; it works in a temporary
folder and leaves nothing behind.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from threadloom import StateStore, ThreadMetadata


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        StateStore.open(Path(folder) / "state.db") as store,
    ):
        store.upsert_thread(
            ThreadMetadata.create(
                "t1", name="Refactor", cwd="/work", rollout_path="/work/rollouts/t1.jsonl"
            )
        )
        q = store.append_message("t1", "user", "List the files in src/")
        a = store.append_message("t1", "assistant", "main.py, store.py", {"type": "text"})
        b = store.fork_at_message(q, "assistant", "Let me run ls first.")  # a branch
        assert [m.id for m in store.list_messages("t1")] == [q, b]
        assert [m.id for m in store.list_leaf_messages("t1")] == [a, b]
        store.set_current_leaf_id("t1", a)  # switch back to the first branch
        assert [m.id for m in store.list_messages("t1")] == [q, a]
        store.save_checkpoint("t1", "latest", {"turn": 1})
        latest = store.load_checkpoint("t1")
        assert latest is not None and latest.state == {"turn": 1}
        assert store.find_thread_name_by_id("t1") == "Refactor"
        path = store.find_thread_path_by_name_str("refactor")
        assert path == "/work/rollouts/t1.jsonl"

        for message in store.list_messages("t1"):
            print(f"{message.id:>3} {message.role:<9} {message.content}")
        print("branch tips:", [m.id for m in store.list_leaf_messages("t1")])
        print("thread named 'refactor':", path)


if __name__ == "__main__":
    main()
