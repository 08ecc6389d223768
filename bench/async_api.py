"""The async store beside the sync store and the async peers, and the event loop's lag.

``python -m bench.async_api`` prints the markdown section; ``python -m bench`` puts it
in ``docs/benchmarks.md``. Every case runs in each repetition, in an order rotated per
repetition (load that comes and goes hits every case alike); medians are reported.

- SQLite, at ``normal`` and ``full``: ``append`` and ``read_branch(200)`` through the
  sync store, the async store from one task, and the async store from 16 concurrent
  tasks (each on its own thread); at ``full`` beside the Agents SDK ``SQLiteSession``
  (``add_items``, ``get_items``) and LangGraph's ``AsyncSqliteSaver`` (``aput``,
  ``aget_tuple``) with threadloom's ``save_checkpoint``/``load_checkpoint``.
- Loop lag: 200 tasks appending and reading while a ticker sleeps 1 ms at a time and
  notes how late it wakes; beside the sync store called on the loop, which is what the
  async store spares a program.
- PostgreSQL: appends/s of 1, 8, 64 and 256 concurrent writers, each on its own
  thread, through one pool.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from threadloom import AsyncStateStore, StateStore, ThreadMetadata

from .workloads import CONTENT, checkpoint_state, message_item

__all__ = ["markdown", "run"]

DSN = os.environ.get(
    "THREADLOOM_BENCH_PG_DSN",
    os.environ.get("THREADLOOM_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
)
TASKS = 16
CHAIN = 500


def _thread(thread_id: str) -> ThreadMetadata:
    return ThreadMetadata.create(thread_id, cwd="/bench", model_provider="bench", now=1)


# -- SQLite cases: each returns microseconds per operation ---------------------------------


def _seed_chain(path: Path, durability: str) -> None:
    with StateStore.open(path, durability=durability) as store, store.transaction():
        store.upsert_thread(_thread("chain"))
        for i in range(CHAIN):
            store.append_message("chain", "user", CONTENT, message_item(i))
        for i in range(TASKS):
            store.upsert_thread(_thread(f"w{i}"))


def _sync_append(path: Path, durability: str, n: int) -> float:
    with StateStore.open(path, durability=durability) as store:
        start = time.perf_counter()
        for i in range(n):
            store.append_message("w0", "user", CONTENT, message_item(i))
        return (time.perf_counter() - start) * 1e6 / n


def _sync_read(path: Path, durability: str, n: int) -> float:
    with StateStore.open(path, durability=durability) as store:
        start = time.perf_counter()
        for _ in range(n):
            store.list_messages("chain", 200)
        return (time.perf_counter() - start) * 1e6 / n


async def _async_append(path: Path, durability: str, n: int, tasks: int) -> float:
    async with await AsyncStateStore.open(path, durability=durability) as store:
        each = max(1, n // tasks)

        async def writer(k: int) -> None:
            for i in range(each):
                await store.append_message(f"w{k}", "user", CONTENT, message_item(i))

        start = time.perf_counter()
        await asyncio.gather(*(writer(k) for k in range(tasks)))
        return (time.perf_counter() - start) * 1e6 / (each * tasks)


async def _async_read(path: Path, durability: str, n: int, tasks: int) -> float:
    async with await AsyncStateStore.open(path, durability=durability) as store:
        each = max(1, n // tasks)

        async def reader() -> None:
            for _ in range(each):
                await store.list_messages("chain", 200)

        start = time.perf_counter()
        await asyncio.gather(*(reader() for _ in range(tasks)))
        return (time.perf_counter() - start) * 1e6 / (each * tasks)


async def _async_checkpoint(path: Path, durability: str, n: int) -> float:
    state = checkpoint_state()
    async with await AsyncStateStore.open(path, durability=durability) as store:
        start = time.perf_counter()
        for i in range(n):
            await store.save_checkpoint("w0", f"c{i:08}", state)
        for _ in range(n):
            await store.load_checkpoint("w0")
        return (time.perf_counter() - start) * 1e6 / (2 * n)


async def _agents_append(path: Path, n: int) -> float:
    from agents.memory import SQLiteSession

    session = SQLiteSession("w0", path.with_name("agents.db"))
    try:
        start = time.perf_counter()
        for _ in range(n):
            await session.add_items([{"role": "user", "content": CONTENT}])
        return (time.perf_counter() - start) * 1e6 / n
    finally:
        session.close()


async def _agents_read(path: Path, n: int) -> float:
    from agents.memory import SQLiteSession

    session = SQLiteSession("chain", path.with_name("agents-read.db"))
    try:
        if not await session.get_items(limit=1):
            chain: list[Any] = [
                {"role": "user", "content": CONTENT, "index": i} for i in range(CHAIN)
            ]
            await session.add_items(chain)
        start = time.perf_counter()
        for _ in range(n):
            await session.get_items(limit=200)
        return (time.perf_counter() - start) * 1e6 / n
    finally:
        session.close()


async def _langgraph_checkpoint(path: Path, n: int) -> float:
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    state = checkpoint_state()
    async with AsyncSqliteSaver.from_conn_string(str(path.with_name("langgraph.db"))) as saver:
        await saver.setup()
        config: Any = {"configurable": {"thread_id": "w0", "checkpoint_ns": ""}}
        start = time.perf_counter()
        for i in range(n):
            checkpoint = empty_checkpoint()
            checkpoint["id"] = f"{time.time_ns():032d}{i:08d}"
            checkpoint["channel_values"] = state
            await saver.aput(config, checkpoint, {}, {})
        for _ in range(n):
            await saver.aget_tuple(config)
        return (time.perf_counter() - start) * 1e6 / (2 * n)


def _peers_installed() -> bool:
    try:
        import agents.memory  # noqa: F401
        import langgraph.checkpoint.sqlite.aio  # noqa: F401
    except ImportError:
        return False
    return True


def _sqlite_cases(
    path: Path, durability: str, n: int, peers: bool
) -> dict[str, Callable[[], float]]:
    cases: dict[str, Callable[[], float]] = {
        "append: sync": lambda: _sync_append(path, durability, n),
        "append: async, 1 task": lambda: asyncio.run(_async_append(path, durability, n, 1)),
        f"append: async, {TASKS} tasks": lambda: asyncio.run(
            _async_append(path, durability, n, TASKS)
        ),
        "read_branch(200): sync": lambda: _sync_read(path, durability, n // 4),
        "read_branch(200): async, 1 task": lambda: asyncio.run(
            _async_read(path, durability, n // 4, 1)
        ),
        f"read_branch(200): async, {TASKS} tasks": lambda: asyncio.run(
            _async_read(path, durability, n // 4, TASKS)
        ),
        "checkpoint: async": lambda: asyncio.run(_async_checkpoint(path, durability, n // 4)),
    }
    if peers and durability == "full":
        cases["append: Agents SDK add_items"] = lambda: asyncio.run(_agents_append(path, n))
        cases["read_branch(200): Agents SDK get_items"] = lambda: asyncio.run(
            _agents_read(path, n // 4)
        )
        cases["checkpoint: LangGraph aput/aget_tuple"] = lambda: asyncio.run(
            _langgraph_checkpoint(path, n // 4)
        )
    return cases


# -- loop lag ------------------------------------------------------------------------------


async def _lag(path: Path, mode: str, seconds: float) -> dict[str, float]:
    """Oversleep of a 1 ms ticker while 200 tasks append and read (ms: p50, p99, max)."""
    sync = StateStore.open(path) if mode != "async store" else None
    store = await AsyncStateStore.open(path) if mode == "async store" else None
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append((time.perf_counter() - before - 0.001) * 1000)

    async def call(fn: Callable[..., Any], *args: Any) -> Any:
        if store is not None:
            return await getattr(store, fn.__name__)(*args)
        if mode == "asyncio.to_thread":
            return await asyncio.to_thread(fn, *args)
        return fn(*args)  # on the loop: what a program without an async store does

    target: Any = sync if sync is not None else store.store  # type: ignore[union-attr]
    ops = 0

    async def worker(k: int) -> None:
        nonlocal ops
        while not stop.is_set():
            if k % 2:
                await call(target.append_message, f"w{k % TASKS}", "user", CONTENT)
            else:
                await call(target.list_messages, "chain", 200)
            ops += 1
            await asyncio.sleep(0)

    tick = asyncio.ensure_future(ticker())
    workers = [asyncio.ensure_future(worker(k)) for k in range(200)]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(tick, *workers)
    if store is not None:
        await store.close()
    if sync is not None:
        sync.close()
    lags.sort()
    return {
        "p50": statistics.median(lags),
        "p99": lags[int(len(lags) * 0.99)],
        "max": lags[-1],
        "ticks": len(lags),
        "ops_per_s": ops / seconds,
    }


# -- PostgreSQL ------------------------------------------------------------------------------


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(DSN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception:
        return False
    return True


async def _pg_writers(dsn: str, writers: int, total: int, pool_size: int) -> float:
    """Appends/s of ``writers`` concurrent tasks, each on its own thread."""
    async with await AsyncStateStore.open(dsn, pool_size=pool_size) as store:
        tag = uuid.uuid4().hex[:8]
        for k in range(writers):
            await store.upsert_thread(_thread(f"{tag}-{k}"))
        each = max(1, total // writers)

        async def writer(k: int) -> None:
            for i in range(each):
                await store.append_message(f"{tag}-{k}", "user", CONTENT, message_item(i))

        start = time.perf_counter()
        await asyncio.gather(*(writer(k) for k in range(writers)))
        return each * writers / (time.perf_counter() - start)


async def _pg_raw_writers(dsn: str, writers: int, total: int, pool_size: int) -> float:
    """The same append statement straight through psycopg's ``AsyncConnectionPool``.

    The floor for a natively async design: no validation, no records, no threads.
    """
    import orjson
    from psycopg_pool import AsyncConnectionPool

    from threadloom.backends.postgres.backend import _APPEND

    tag = uuid.uuid4().hex[:8]
    async with await AsyncStateStore.open(dsn) as store:
        for k in range(writers):
            await store.upsert_thread(_thread(f"{tag}-{k}"))
    each = max(1, total // writers)
    async with AsyncConnectionPool(
        dsn, min_size=pool_size, max_size=pool_size, kwargs={"autocommit": True}
    ) as pool:

        async def writer(k: int) -> None:
            for i in range(each):
                params = {
                    "thread": f"{tag}-{k}",
                    "role": "user",
                    "content": CONTENT,
                    "item": orjson.dumps(message_item(i)).decode(),
                    "now": 1,
                }
                async with pool.connection() as conn:
                    await conn.execute(_APPEND, params)

        start = time.perf_counter()
        await asyncio.gather(*(writer(k) for k in range(writers)))
        return each * writers / (time.perf_counter() - start)


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(DSN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)


# -- the run ---------------------------------------------------------------------------------


def run(
    reps: int = 5, ops: int = 2000, lag_seconds: float = 2.0, pg_total: int = 2048
) -> dict[str, Any]:
    """Measure everything; figures by section."""
    work = Path(tempfile.mkdtemp(prefix="threadloom-async-bench-"))
    peers = _peers_installed()
    figures: dict[str, Any] = {"reps": reps, "ops": ops, "peers": peers}
    try:
        for durability in ("normal", "full"):
            path = work / durability / "state.db"
            path.parent.mkdir()
            _seed_chain(path, durability)
            cases = _sqlite_cases(path, durability, ops, peers)
            samples: dict[str, list[float]] = {name: [] for name in cases}
            names = list(cases)
            for rep in range(reps):
                shift = rep % len(names)
                for name in names[shift:] + names[:shift]:
                    samples[name].append(cases[name]())
            figures[durability] = {name: statistics.median(v) for name, v in samples.items()}
        lag_path = work / "lag" / "state.db"
        lag_path.parent.mkdir()
        _seed_chain(lag_path, "normal")
        figures["lag"] = {
            mode: asyncio.run(_lag(lag_path, mode, lag_seconds))
            for mode in ("async store", "asyncio.to_thread", "sync store on the loop")
        }
        if _pg_available():
            schema = f"bench_async_{uuid.uuid4().hex[:8]}"
            _admin(f"CREATE SCHEMA {schema}")
            sep = "&" if "?" in DSN else "?"
            dsn = f"{DSN}{sep}options=-csearch_path%3D{schema}"
            try:
                counts = (1, 8, 64, 256)
                pg: dict[tuple[str, int], list[float]] = {}
                for rep in range(max(1, reps // 2)):
                    for writers in counts[rep % 4 :] + counts[: rep % 4]:
                        for kind, fn in (("threadloom", _pg_writers), ("raw", _pg_raw_writers)):
                            rate = asyncio.run(fn(dsn, writers, pg_total, 16))
                            pg.setdefault((kind, writers), []).append(rate)
                figures["postgres"] = {
                    writers: statistics.median(pg[("threadloom", writers)]) for writers in counts
                }
                figures["postgres_raw"] = {
                    writers: statistics.median(pg[("raw", writers)]) for writers in counts
                }
            finally:
                with contextlib.suppress(Exception):
                    _admin(f"DROP SCHEMA {schema} CASCADE")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return figures


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if not a or not b else f"{a / b:.2f}"


def markdown(figures: dict[str, Any]) -> list[str]:
    """The report section."""
    lines = [
        "## Async API",
        "",
        "`AsyncStateStore` runs the sync store's methods on threads it owns (SQLite: one",
        "writer thread and reader threads; PostgreSQL: one thread per pooled connection).",
        f"Medians of {figures['reps']} interleaved repetitions, µs per operation",
        f"(`bench/async_api.py`; {TASKS} tasks each use their own thread of messages).",
        "",
        "| operation | normal | full |",
        "| --- | ---: | ---: |",
    ]
    normal, full = figures["normal"], figures["full"]
    for name in full:
        at_normal = f"{normal[name]:.1f}" if name in normal else "—"
        lines.append(f"| {name} | {at_normal} | {full[name]:.1f} |")
    lines += [
        "",
        "Ratios (below 1: the left side is faster):",
        "",
        "| ratio | normal | full |",
        "| --- | ---: | ---: |",
    ]
    pairs = [
        ("async append, 1 task ÷ sync", "append: async, 1 task", "append: sync"),
        (f"async append, {TASKS} tasks ÷ sync", f"append: async, {TASKS} tasks", "append: sync"),
        (
            "async read_branch, 1 task ÷ sync",
            "read_branch(200): async, 1 task",
            "read_branch(200): sync",
        ),
        (
            f"async read_branch, {TASKS} tasks ÷ sync",
            f"read_branch(200): async, {TASKS} tasks",
            "read_branch(200): sync",
        ),
    ]
    for label, a, b in pairs:
        lines.append(
            f"| {label} | {_ratio(normal.get(a), normal.get(b))} | {_ratio(full.get(a), full.get(b))} |"
        )
    if figures["peers"]:
        peer_pairs = [
            (
                "async append ÷ Agents SDK add_items",
                "append: async, 1 task",
                "append: Agents SDK add_items",
            ),
            (
                "async read_branch(200) ÷ Agents SDK get_items(200)",
                "read_branch(200): async, 1 task",
                "read_branch(200): Agents SDK get_items",
            ),
            (
                "async checkpoint save+load ÷ LangGraph aput+aget_tuple",
                "checkpoint: async",
                "checkpoint: LangGraph aput/aget_tuple",
            ),
        ]
        for label, a, b in peer_pairs:
            lines.append(f"| {label} | — | {_ratio(full.get(a), full.get(b))} |")
    lag = figures["lag"]
    lines += [
        "",
        "Event-loop lag: a ticker sleeping 1 ms notes how late it wakes while 200 tasks",
        "append and read (SQLite, `normal`):",
        "",
        "| calls made through | lag p50 | lag p99 | lag max | store ops/s |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for mode, f in lag.items():
        lines.append(
            f"| {mode} | {f['p50']:.2f} ms | {f['p99']:.2f} ms | {f['max']:.2f} ms "
            f"| {f['ops_per_s']:,.0f} |"
        )
    if "postgres" in figures:
        pg, raw = figures["postgres"], figures["postgres_raw"]
        one = pg[1]
        lines += [
            "",
            "PostgreSQL: concurrent async writers through one pool of 16 connections (16",
            "threads), each writer appending to its own thread; beside them the same append",
            "statement sent straight through psycopg's `AsyncConnectionPool` (16",
            "connections, no threads, no validation or records): the floor of a natively",
            "async design.",
            "",
            "| writers | appends/s | × one writer | raw async psycopg | ÷ raw |",
            "| ---: | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {w} | {v:,.0f} | {v / one:.2f} | {raw[w]:,.0f} | {v / raw[w]:.2f} |"
            for w, v in pg.items()
        ]
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.async_api", description=__doc__)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--lag-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    print("\n".join(markdown(run(args.reps, args.ops, args.lag_seconds))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
