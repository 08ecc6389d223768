"""The async API, runnable: many agents writing at once from one event loop.

Run it with ``.venv/bin/python examples/async_quickstart.py`` (or pass a
``postgresql://`` DSN as the first argument); it works in a temporary folder and
leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from threadloom import AsyncStateStore, ThreadMetadata


async def agent(store: AsyncStateStore, name: str, turns: int) -> None:
    """One agent: a thread of its own, a few turns, a checkpoint per turn."""
    await store.upsert_thread(ThreadMetadata.create(name, name=name, cwd="/work"))
    for turn in range(turns):
        async with store.transaction():  # the turn is one atomic write
            await store.append_message(name, "user", f"turn {turn}: what next?")
            await store.append_message(name, "assistant", f"turn {turn}: done", {"type": "text"})
            await store.save_checkpoint(name, "latest", {"turn": turn})


async def main(target: str | Path) -> None:
    async with await AsyncStateStore.open(target) as store:
        names = [f"agent-{i}" for i in range(50)]
        await asyncio.gather(*(agent(store, name, turns=3) for name in names))

        threads = [thread.id async for thread in store.iter_threads()]
        assert sorted(threads) == sorted(names)
        transcript = await store.list_messages("agent-7")
        assert [m.content for m in transcript][-1] == "turn 2: done"
        checkpoint = await store.load_checkpoint("agent-7")
        assert checkpoint is not None and checkpoint.state == {"turn": 2}

        # A block that fails (or is cancelled) leaves nothing behind.
        try:
            async with store.transaction():
                await store.append_message("agent-7", "user", "never stored")
                raise RuntimeError("the model call failed")
        except RuntimeError:
            pass
        assert len(await store.list_messages("agent-7")) == 6

        # asyncio.timeout() around any call or block is safe: it happened whole or not at all.
        async with asyncio.timeout(10):
            await store.append_message("agent-7", "user", "in time")
        print(f"{len(threads)} agents, {len(transcript)} messages in agent-7's transcript")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        asyncio.run(main(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            asyncio.run(main(Path(folder) / "state.db"))
