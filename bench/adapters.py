"""The framework adapters beside each framework's own SQLite store (workload ``adapters``).

``python -m bench.adapters`` prints the markdown section; ``python -m bench --only
adapters`` puts it in ``docs/benchmarks.md``. Equal durability: every commit reaches
the disk (the frameworks' stores run SQLite with ``synchronous=FULL``; threadloom at
``durability="full"``). Each repetition runs every case in a rotated order; medians of
microseconds per operation are reported, with the framework's time divided by
threadloom's (above 1: threadloom is faster).

- LangGraph: ``put`` (a checkpoint holding a 9.8 KB state), ``get_tuple`` (the latest
  of a thread of ``SIZE`` checkpoints, each with a pending write), ``list`` (the newest
  10 of that thread) beside ``SqliteSaver``.
- Agents SDK: ``add_items`` (a turn: a user and an assistant item) and ``get_items``
  (a session of ``SIZE`` items) beside ``SQLiteSession``.
- ADK: ``append_event`` (with a state delta) and ``get_session`` (``SIZE`` events;
  and the newest 20 of them) beside ``SqliteSessionService``; ``list_sessions`` and
  ``get_session`` at ``LARGE`` sessions and ``LARGE`` events (the scale ADK users
  report as slow).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from .workloads import CONTENT, checkpoint_state

__all__ = ["available", "markdown", "run"]

SIZE = 200
LARGE = 10_000

Case = Callable[[], float]


def available() -> bool:
    """Whether the three frameworks and LangGraph's SQLite saver are installed."""
    import importlib.util

    wanted = ("langgraph.checkpoint.sqlite", "agents", "google.adk.sessions")
    try:
        return all(importlib.util.find_spec(name) is not None for name in wanted)
    except ModuleNotFoundError:  # a missing parent package (google)
        return False


def _timed(fn: Callable[[], Any], ops: int) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e6 / ops


def _case(ops: int, fn: Callable[..., Any], *args: Any) -> Case:
    """A case timing ``fn(*args)`` as ``ops`` operations."""
    return partial(_timed, partial(fn, *args), ops)


def _sync_loop(count: int, fn: Callable[..., Any], *args: Any) -> None:
    for _ in range(count):
        fn(*args)


def _async_loop(count: int, fn: Callable[..., Any], *args: Any) -> None:
    async def go() -> None:
        for _ in range(count):
            await fn(*args)

    asyncio.run(go())


# -- LangGraph -------------------------------------------------------------------------------


def _lg_checkpoint(i: int) -> Any:
    from langgraph.checkpoint.base import empty_checkpoint

    cp = empty_checkpoint()
    cp["channel_values"] = {"state": checkpoint_state(i)}
    cp["channel_versions"] = {"state": i + 1}
    return cp


def _lg_cases(root: Path, ops: int) -> dict[str, Case]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    from threadloom import StateStore
    from threadloom.integrations.langgraph import ThreadloomSaver

    def savers(tag: str) -> tuple[Any, Any]:
        tl = ThreadloomSaver(StateStore.open(root / f"lg-{tag}" / "state.db", durability="full"))
        conn = sqlite3.connect(root / f"lg-{tag}-peer.db", check_same_thread=False)
        return tl, SqliteSaver(conn)

    def seed(saver: Any) -> dict[str, Any]:
        config: dict[str, Any] = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
        for i in range(SIZE):
            config = saver.put(config, _lg_checkpoint(i), {"source": "loop", "step": i}, {})
            saver.put_writes(config, [("state", i)], f"task-{i}")
        return {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}

    tl, peer = savers("read")
    latest = {"threadloom": seed(tl), "SqliteSaver": seed(peer)}
    write_tl, write_peer = savers("write")
    cases: dict[str, Case] = {}
    counter = [0]

    def put(saver: Any) -> None:
        for _ in range(ops):
            counter[0] += 1
            config = {"configurable": {"thread_id": f"w{counter[0] % 8}", "checkpoint_ns": ""}}
            saver.put(config, _lg_checkpoint(counter[0]), {"source": "loop", "step": 1}, {})

    def newest(saver: Any, config: Any) -> None:
        list(saver.list(config, limit=10))

    for name, saver, rsaver in (("threadloom", write_tl, tl), ("SqliteSaver", write_peer, peer)):
        cfg = latest[name]
        cases[f"LangGraph put|{name}"] = _case(ops, put, saver)
        cases[f"LangGraph get_tuple|{name}"] = _case(ops, _sync_loop, ops, rsaver.get_tuple, cfg)
        cases[f"LangGraph list(limit=10)|{name}"] = _case(
            ops // 4, _sync_loop, ops // 4, newest, rsaver, cfg
        )
    return cases


# -- Agents SDK ------------------------------------------------------------------------------


def _turn(i: int) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": f"{CONTENT} ({i})"},
        {"role": "assistant", "content": f"Here is what each module does ({i})."},
    ]


def _agents_cases(root: Path, ops: int) -> dict[str, Case]:
    from agents import SQLiteSession

    from threadloom import StateStore
    from threadloom.integrations.agents import ThreadloomSession

    store = StateStore.open(root / "agents" / "state.db", durability="full")
    sessions = {
        "threadloom": (ThreadloomSession("w", store), ThreadloomSession("r", store)),
        "SQLiteSession": (
            SQLiteSession("w", root / "agents-peer.db"),
            SQLiteSession("r", root / "agents-peer.db"),
        ),
    }

    async def seed(session: Any) -> None:
        for i in range(SIZE // 2):
            await session.add_items(_turn(i))

    cases: dict[str, Case] = {}
    for name, (writer, reader) in sessions.items():
        asyncio.run(seed(reader))
        cases[f"Agents add_items (a turn)|{name}"] = _case(
            ops, _async_loop, ops, writer.add_items, _turn(0)
        )
        cases[f"Agents get_items ({SIZE} items)|{name}"] = _case(
            ops // 4, _async_loop, ops // 4, reader.get_items
        )
    return cases


# -- ADK -------------------------------------------------------------------------------------


def _adk_event(i: int, timestamp: float | None = None) -> Any:
    from google.adk.events.event import Event
    from google.adk.events.event_actions import EventActions
    from google.genai import types

    event = Event(
        invocation_id=f"inv-{i}",
        author="user" if i % 2 == 0 else "agent",
        content=types.Content(role="user", parts=[types.Part(text=f"{CONTENT} ({i})")]),
        actions=EventActions(state_delta={"turn": i}),
    )
    if timestamp is not None:
        event.timestamp = timestamp
    return event


def _adk_services(root: Path, tag: str) -> dict[str, Any]:
    from google.adk.sessions.sqlite_session_service import SqliteSessionService

    from threadloom import StateStore
    from threadloom.integrations.adk import ThreadloomSessionService

    store = StateStore.open(root / f"adk-{tag}" / "state.db", durability="full")
    return {
        "threadloom": ThreadloomSessionService(store),
        "SqliteSessionService": SqliteSessionService(str(root / f"adk-{tag}-peer.db")),
    }


def _adk_cases(root: Path, ops: int, large: int) -> dict[str, Case]:
    from google.adk.sessions.base_session_service import GetSessionConfig

    cases: dict[str, Case] = {}

    async def seed(service: Any, events: int, sessions: int) -> Any:
        session = await service.create_session(app_name="app", user_id="u", session_id="long")
        base = time.time()
        for i in range(events):
            await service.append_event(session, _adk_event(i, base + i * 1e-3))
        for i in range(sessions - 1):
            await service.create_session(app_name="app", user_id=f"u{i % 100}", session_id=f"s{i}")
        return session

    async def append(service: Any, session: Any) -> None:
        # A fresh event each time (an event's id is its identity).
        await service.append_event(session, _adk_event(0))

    def get(service: Any, config: Any = None) -> Any:
        return service.get_session(app_name="app", user_id="u", session_id="long", config=config)

    def listed(service: Any) -> Any:
        return service.list_sessions(app_name="app")

    recent = GetSessionConfig(num_recent_events=20)
    for name, service in _adk_services(root, "small").items():
        asyncio.run(seed(service, SIZE, 1))
        writer = asyncio.run(service.create_session(app_name="app", user_id="w"))
        cases[f"ADK append_event|{name}"] = _case(ops, _async_loop, ops, append, service, writer)
        cases[f"ADK get_session ({SIZE} events)|{name}"] = _case(
            ops // 4, _async_loop, ops // 4, get, service
        )
    if large:
        for name, service in _adk_services(root, "large").items():
            asyncio.run(seed(service, large, large))
            cases[f"ADK get_session ({large:,} events)|{name}"] = _case(
                2, _async_loop, 2, get, service
            )
            cases[f"ADK get_session (newest 20 of {large:,})|{name}"] = _case(
                20, _async_loop, 20, get, service, recent
            )
            cases[f"ADK list_sessions ({large:,} sessions)|{name}"] = _case(
                2, _async_loop, 2, listed, service
            )
    return cases


# -- running and reporting -------------------------------------------------------------------


def run(reps: int = 3, ops: int = 200, large: int = LARGE) -> dict[str, float]:
    """Every case ``reps`` times in rotated order; the median µs/op of each."""
    root = Path(tempfile.mkdtemp(prefix="threadloom-bench-adapters-"))
    try:
        cases = {**_lg_cases(root, ops), **_agents_cases(root, ops), **_adk_cases(root, ops, large)}
        names = list(cases)
        samples: dict[str, list[float]] = {name: [] for name in names}
        for rep in range(reps):
            shift = rep % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(cases[name]())
        return {name: statistics.median(values) for name, values in samples.items()}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def markdown(figures: dict[str, float]) -> list[str]:
    """The section: one row per operation, threadloom beside the framework's store."""
    rows: dict[str, dict[str, float]] = {}
    for key, value in figures.items():
        operation, contender = key.split("|")
        rows.setdefault(operation, {})[contender] = value
    lines = [
        "## Framework adapters beside the frameworks' own SQLite stores",
        "",
        "Median µs per operation at equal durability (every commit synced); ratio = the",
        "framework's store ÷ threadloom (above 1: threadloom is faster).",
        "",
        "| operation | threadloom | framework's store | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for operation, by in rows.items():
        ours = by.pop("threadloom")
        (peer_name, peer), *_ = by.items()
        lines.append(
            f"| {operation} ({peer_name}) | {ours:,.1f} | {peer:,.1f} | {peer / ours:.2f}x |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.adapters", description=__doc__)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--large", type=int, default=LARGE, help="0 skips the 10,000 cases")
    args = parser.parse_args()
    print("\n".join(markdown(run(args.reps, args.ops, args.large))))


if __name__ == "__main__":
    main()
