"""Load test: a fleet of agent processes on one PostgreSQL, through PgBouncer.

``python -m bench.fleet [--processes 32] [--seconds 20] [--png docs/scale.png]``

Starts its own PgBouncer (transaction pooling, ``default_pool_size`` server
connections) on a free 127.0.0.1 port in front of the test server, then forks
``--processes`` agent processes. Each runs two threads, so 32 processes are 64 threads:

- a writer: an event loop with ``--tasks`` async writers (``AsyncStateStore``), each
  appending to a thread of its own, with a checkpoint every tenth append;
- a reader: a sync ``StateStore`` browsing (``list_threads``, ``get_thread``, a
  20-message page of a random writer's thread), the lag-tolerant reads.

Every call's latency is recorded; the report gives throughput, p50/p99 per kind,
errors (the goal is 0) and PgBouncer's wait (``SHOW STATS``: how long clients waited
for a server connection), and writes a plot. Not a test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import statistics
import sys
import threading
import time
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from threadloom import AsyncStateStore, StateStore, ThreadMetadata

__all__ = ["main", "run"]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _writers(
    dsn: str, proc: int, tasks: int, until: float, lat: list[float], errs: list[str]
) -> int:
    async with await AsyncStateStore.open(dsn, pool_size=2) as store:
        ids = [f"p{proc}-w{k}" for k in range(tasks)]
        for thread_id in ids:
            await store.upsert_thread(ThreadMetadata.create(thread_id, cwd="/fleet"))

        async def one(thread_id: str) -> None:
            n = 0
            while time.monotonic() < until:
                start = time.perf_counter()
                try:
                    if n % 10 == 9:
                        await store.save_checkpoint(thread_id, f"c{n}", {"step": n})
                    else:
                        await store.append_message(thread_id, "assistant", f"step {n} " * 20)
                    lat.append(time.perf_counter() - start)
                except Exception as exc:  # counted: the report shows them
                    errs.append(f"{type(exc).__name__}: {exc}")
                n += 1

        await asyncio.gather(*(one(t) for t in ids))
    return len(lat)


def _reader(
    dsn: str, processes: int, tasks: int, until: float, lat: list[float], errs: list[str]
) -> None:
    rng = random.Random()
    with StateStore.open(dsn, pool_size=1) as store:
        while time.monotonic() < until:
            thread_id = f"p{rng.randrange(processes)}-w{rng.randrange(tasks)}"
            start = time.perf_counter()
            try:
                kind = rng.randrange(3)
                if kind == 0:
                    store.list_threads(limit=20)
                elif kind == 1:
                    store.get_thread(thread_id)
                else:
                    store.list_messages(thread_id, 20)
                lat.append(time.perf_counter() - start)
            except Exception as exc:
                errs.append(f"{type(exc).__name__}: {exc}")


def _agent(
    dsn: str,
    proc: int,
    processes: int,
    tasks: int,
    start_at: float,
    seconds: float,
    out: Queue[dict[str, Any]],
) -> None:
    time.sleep(max(0.0, start_at - time.time()))
    until = time.monotonic() + seconds
    w_lat: list[float] = []
    r_lat: list[float] = []
    errs: list[str] = []
    reader = threading.Thread(target=_reader, args=(dsn, processes, tasks, until, r_lat, errs))
    reader.start()
    try:
        asyncio.run(_writers(dsn, proc, tasks, until, w_lat, errs))
    except Exception as exc:
        errs.append(f"{type(exc).__name__}: {exc}")
    reader.join()
    out.put({"write": w_lat, "read": r_lat, "errors": errs})


def _pgbouncer_stats(bouncer: Any) -> dict[str, float]:
    import psycopg

    with psycopg.connect(bouncer.dsn("pgbouncer"), autocommit=True) as conn:
        cur = conn.execute("SHOW STATS")
        names = [d.name for d in cur.description or ()]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    test = next(r for r in rows if r["database"] == "test")
    return {k: float(test[k]) for k in ("total_xact_count", "total_wait_time")}


def run(processes: int, tasks: int, seconds: float, pool_size: int) -> dict[str, Any]:
    """Run the fleet; the figures (seconds for latencies)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.pgbouncer import Bouncer

    bouncer = Bouncer("transaction", pool_size=pool_size)
    role = bouncer.fresh_schema()
    dsn = bouncer.dsn("test", user=role)
    try:
        StateStore.open(dsn).close()  # migrate once, before the clock starts
        before = _pgbouncer_stats(bouncer)
        ctx = mp.get_context("fork")
        out: Queue[dict[str, Any]] = ctx.Queue()
        start_at = time.time() + 2.0 + processes * 0.05
        procs = [
            ctx.Process(target=_agent, args=(dsn, p, processes, tasks, start_at, seconds, out))
            for p in range(processes)
        ]
        for proc in procs:
            proc.start()
        results = [out.get(timeout=seconds + 300) for _ in procs]
        for proc in procs:
            proc.join(60)
        after = _pgbouncer_stats(bouncer)
    finally:
        bouncer.release(role)
        bouncer.close()
    writes = [x for r in results for x in r["write"]]
    reads = [x for r in results for x in r["read"]]
    errors = [e for r in results for e in r["errors"]]
    xacts = after["total_xact_count"] - before["total_xact_count"]
    wait_us = after["total_wait_time"] - before["total_wait_time"]
    return {
        "processes": processes,
        "threads": processes * 2,
        "async_writers": processes * tasks,
        "seconds": seconds,
        "server_connections": pool_size,
        "writes": len(writes),
        "reads": len(reads),
        "writes_per_s": len(writes) / seconds,
        "reads_per_s": len(reads) / seconds,
        "write_p50_ms": _percentile(writes, 0.5) * 1e3,
        "write_p99_ms": _percentile(writes, 0.99) * 1e3,
        "read_p50_ms": _percentile(reads, 0.5) * 1e3,
        "read_p99_ms": _percentile(reads, 0.99) * 1e3,
        "errors": len(errors),
        "first_errors": sorted(set(errors))[:5],
        "pgbouncer_transactions": xacts,
        "pgbouncer_wait_ms_per_transaction": wait_us / 1e3 / xacts if xacts else 0.0,
        "write_latencies_ms": [x * 1e3 for x in writes],
        "read_latencies_ms": [x * 1e3 for x in reads],
    }


def _plot(figures: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    for key, label in (("write_latencies_ms", "async writes"), ("read_latencies_ms", "reads")):
        values = sorted(figures[key])
        if not values:
            continue
        ys = [i / len(values) * 100 for i in range(len(values))]
        ax.plot(values, ys, label=f"{label} (p50 {statistics.median(values):.1f} ms)")
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log)")
    ax.set_ylabel("calls at or below (%)")
    ax.set_title(
        f"{figures['processes']} processes, {figures['threads']} threads, "
        f"{figures['async_writers']} async writers via PgBouncer"
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """Run the load test and print its figures as JSON (latency lists left out)."""
    parser = argparse.ArgumentParser(prog="python -m bench.fleet")
    parser.add_argument("--processes", type=int, default=32)
    parser.add_argument("--tasks", type=int, default=4, help="async writers per process")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--server-connections", type=int, default=16)
    parser.add_argument("--png", type=Path, default=None)
    args = parser.parse_args(argv)
    figures = run(args.processes, args.tasks, args.seconds, args.server_connections)
    if args.png is not None:
        _plot(figures, args.png)
    shown = {k: v for k, v in figures.items() if not k.endswith("latencies_ms")}
    print(json.dumps(shown, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
