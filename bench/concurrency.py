"""Several writer processes appending at once; total throughput and error count.

Every writer opens its connection first, then all start together at a barrier, so
the measured span holds only appends. Each writer appends to its own thread in one
shared database (separate sessions of one user, the original's situation).
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Lock
from pathlib import Path

from .workloads import Sample

__all__ = ["OpenWriter", "run_writers"]

#: ``open_writer(db, thread_id)`` returns ``(append(i), close())``; called in the child.
OpenWriter = Callable[[Path, str], tuple[Callable[[int], object], Callable[[], None]]]


def _child(
    open_writer: OpenWriter,
    db: Path,
    thread_id: str,
    count: int,
    barrier: Barrier,
    open_lock: Lock,
    results: Queue[tuple[int, int, float, float, str]],
) -> None:
    # Opens one at a time (not timed): several connections switching a rollback-journal
    # file to WAL at once can get "database is locked" without waiting (SQLite refuses
    # to wait where waiting could deadlock), which would fail the run, not measure it.
    with open_lock:
        append, close = open_writer(db, thread_id)
    barrier.wait()
    start = time.perf_counter()
    ok = errors = 0
    first_error = ""
    for i in range(count):
        try:
            append(i)
            ok += 1
        except Exception as exc:  # counted, not fatal: the report shows errors
            errors += 1
            first_error = first_error or f"{type(exc).__name__}: {exc}"
    end = time.perf_counter()
    close()
    results.put((ok, errors, start, end, first_error))


def run_writers(open_writer: OpenWriter, db: Path, writers: int, per_writer: int) -> Sample:
    """Run ``writers`` processes of ``per_writer`` appends each on threads ``t0..``.

    ``perf_counter`` is ``CLOCK_MONOTONIC`` on Linux, one clock for all processes.
    """
    # fork: the children inherit the loaded modules and start in milliseconds.
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(writers + 1)
    open_lock = ctx.Lock()
    results: Queue[tuple[int, int, float, float, str]] = ctx.Queue()
    procs = [
        ctx.Process(
            target=_child, args=(open_writer, db, f"t{w}", per_writer, barrier, open_lock, results)
        )
        for w in range(writers)
    ]
    for proc in procs:
        proc.start()
    barrier.wait(timeout=120)
    got = [results.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    ok = sum(r[0] for r in got)
    errors = sum(r[1] for r in got)
    # The span from the first writer past the barrier to the last one done (the
    # parent may wake after the writers of a tiny run have finished).
    start = min(r[2] for r in got)
    end = max(r[3] for r in got)
    messages = [r[4] for r in got if r[4]]
    extra: dict[str, object] = {"writers": writers}
    if messages:
        extra["first_error"] = messages[0]
    return Sample(ops=ok, seconds=end - start, errors=errors, extra=extra)
