"""Read cost against depth: ``list_messages(limit=L)`` on one long chain, for the plot."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from threadloom import StateStore

from .contenders import Contender
from .workloads import THREAD_ID, Fixtures

__all__ = ["DEPTHS", "depth_sweep"]

DEPTHS = (10, 50, 200, 500, 1000, 2000, 5000)


def depth_sweep(
    contenders: Sequence[Contender], workdir: Path, scale: float
) -> dict[str, dict[int, float]]:
    """Median µs per ``list_messages(limit=L)`` for threadloom, the floor and the original."""
    chain = max(600, int(10_000 * scale))
    calls = max(3, int(30 * scale))
    fixtures = Fixtures(workdir / "fixtures")
    out: dict[str, dict[int, float]] = {}
    names = {c.name for c in contenders}
    depths = [d for d in DEPTHS if d <= chain]
    if "threadloom normal" in names:
        db = fixtures.copy("chain", chain, workdir / "sweep-tl")
        with StateStore.open(db) as store:
            out["threadloom normal"] = {
                d: _median_us(lambda d=d: store.list_messages(THREAD_ID, d), calls) for d in depths
            }
    if "raw SQL normal" in names:
        from .contenders.rawsql import _Floor

        db = fixtures.copy("chain", chain, workdir / "sweep-raw")
        floor = _Floor(db, "normal")
        try:
            out["raw SQL normal"] = {
                d: _median_us(lambda d=d: floor.list_branch(THREAD_ID, d), calls) for d in depths
            }
        finally:
            floor.close()
    oracle = next((c for c in contenders if c.name == "original"), None)
    if oracle is not None:
        from .contenders.oracle import _MARKER, _Run

        db = fixtures.copy("chain", chain, workdir / "sweep-oracle")
        series: dict[int, float] = {}
        for d in depths:
            line = json.dumps({"op": "list_messages", "thread_id": THREAD_ID, "limit": d})
            run = _Run(oracle.binary, db, [_MARKER, *[line] * calls])  # type: ignore[attr-defined]
            run.wait()
            series[d] = (run.last - run.first) * 1e6 / max(1, run.answers)
        out["original"] = series
    return out


def _median_us(call: object, calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1e6)
    times.sort()
    return times[len(times) // 2]
