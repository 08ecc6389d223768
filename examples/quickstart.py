"""Record a branching agent session in a temporary database and print it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from threadloom import StateStore, ThreadMetadata


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        StateStore.open(Path(folder) / "state.db") as store,
    ):
        store.upsert_thread(ThreadMetadata.create("demo", name="Demo session", cwd=folder))
        question = store.append_message("demo", "user", "List the files in src/")
        store.append_message("demo", "assistant", "src/ has main.py and store.py")
        store.fork_at_message(question, "assistant", "Let me run `ls src/` first.")
        store.save_checkpoint("demo", "latest", {"turn": 1})
        for message in store.list_messages("demo"):
            print(f"{message.id:>3} {message.role:<9} {message.content}")
        print("branch tips:", [m.id for m in store.list_leaf_messages("demo")])


if __name__ == "__main__":
    main()
