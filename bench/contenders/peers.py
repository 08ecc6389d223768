"""Peer libraries, where an equivalent operation exists, at their default durability.

Both peers put SQLite in WAL mode and leave ``synchronous`` at its default (FULL), so
their columns compare with ``threadloom full``.

- OpenAI Agents SDK ``SQLiteSession``: ``add_items([item])`` is ``append``;
  ``get_items(limit=200)`` is ``read_branch``; ``get_items(limit=500)`` is the message
  half of ``resume`` (it has no checkpoints, so its resume does less work).
- LangGraph ``SqliteSaver``: ``put`` + ``get_tuple`` (latest) is ``checkpoint``;
  ``list(None, limit=50)`` over one checkpoint per thread is how it lists threads
  (it has no thread table), so it is ``list_threads`` at 2,000 threads.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ..workloads import CONTENT, Fixtures, Sample, Workload, checkpoint_state
from .timing import timed

__all__ = ["AgentsSessionContender", "LangGraphContender", "available_peers"]


def available_peers() -> list[Any]:
    """The peers whose packages are installed (the ``bench`` extra)."""
    out: list[Any] = []
    try:
        import agents.memory  # noqa: F401

        out.append(AgentsSessionContender())
    except ImportError:
        pass
    try:
        import langgraph.checkpoint.sqlite  # noqa: F401

        out.append(LangGraphContender())
    except ImportError:
        pass
    return out


class AgentsSessionContender:
    """OpenAI Agents SDK ``SQLiteSession``."""

    name = "Agents SDK SQLiteSession"
    durability = "full"

    def supports(self, workload: Workload) -> bool:
        return workload.family in ("append", "read_branch", "resume")

    def run(self, workload: Workload, fixtures: Fixtures, workdir: Path) -> Sample:
        return asyncio.run(self._run(workload, workdir))

    @staticmethod
    async def _run(w: Workload, workdir: Path) -> Sample:
        from agents.memory import SQLiteSession

        session = SQLiteSession("t-bench", workdir / "agents.db")
        try:
            n = w.ops
            if w.family == "append":
                items: list[Any] = [{"role": "user", "content": CONTENT} for _ in range(n)]
                with timed(n) as sample:
                    for item in items:
                        await session.add_items([item])
                return sample
            # Set-up in one call (untimed): a chain as long as the others'.
            chain: list[Any] = [
                {"role": "user", "content": CONTENT, "index": i} for i in range(w.size)
            ]
            await session.add_items(chain)
            limit = 200 if w.family == "read_branch" else 500
            with timed(n) as sample:
                for _ in range(n):
                    await session.get_items(limit=limit)
            return sample
        finally:
            session.close()


class LangGraphContender:
    """LangGraph ``SqliteSaver``."""

    name = "LangGraph SqliteSaver"
    durability = "full"

    def supports(self, workload: Workload) -> bool:
        return workload.family == "checkpoint" or (
            workload.family == "list_threads" and workload.size <= 2_000
        )

    def run(self, workload: Workload, fixtures: Fixtures, workdir: Path) -> Sample:
        import sqlite3

        from langgraph.checkpoint.base import empty_checkpoint
        from langgraph.checkpoint.sqlite import SqliteSaver

        conn = sqlite3.connect(workdir / "langgraph.db", check_same_thread=False)
        saver = SqliteSaver(conn)
        saver.setup()
        try:

            def put(thread_id: str, i: int, state: dict[str, Any]) -> None:
                checkpoint = empty_checkpoint()
                # Ids must sort by age: "latest" is the greatest id.
                checkpoint["id"] = f"{i:032d}"
                checkpoint["channel_values"] = state
                saver.put(
                    {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}},
                    checkpoint,
                    {},
                    {},
                )

            n = workload.ops
            if workload.family == "checkpoint":
                state = checkpoint_state()
                config: Any = {"configurable": {"thread_id": "t-bench"}}
                with timed(2 * n) as sample:
                    for i in range(n):
                        put("t-bench", i, state)
                    for _ in range(n):
                        saver.get_tuple(config)
                return sample
            for i in range(workload.size):
                put(f"t{i}", i, {"name": f"thread name {i}"})
            with timed(n) as sample:
                for _ in range(n):
                    list(saver.list(None, limit=50))
            return sample
        finally:
            conn.close()
