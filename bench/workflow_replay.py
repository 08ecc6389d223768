"""Replay lookup speed with many leaf runs stored.

Fills a fresh SQLite store with ``--leaves`` leaf runs (default 100,000: ``--runs``
runs of equal size, bulk-inserted through ``WorkflowStore.record_leaf_runs`` in a few
transactions), then times ``WorkflowStore.find_replay`` one call at a time: hits on
random recorded leaves and misses on unknown input hashes of a real run. Also times
the full ``replay_leaf`` helper (a lookup plus a write) on a hit.

Run it as ``python bench/workflow_replay.py [--leaves N] [--lookups N]``; it prints
one JSON line with the medians in microseconds.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from threadloom import LeafRun, RunStatus, StateStore, compute_leaf_input_hash

__all__ = ["main", "run_benchmark"]

_BATCH = 20_000


def _median_us(calls: Sequence[Callable[[], object]]) -> float:
    """Median wall time of each call, in microseconds (one timer read per call)."""
    samples: list[int] = []
    clock = time.perf_counter_ns
    for call in calls:
        start = clock()
        call()
        samples.append(clock() - start)
    return statistics.median(samples) / 1000


def _fill(store: StateStore, runs: int, per_run: int) -> list[tuple[str, str, str]]:
    """Record ``runs`` runs of ``per_run`` completed leaves; their replay keys."""
    wf = store.workflows
    keys: list[tuple[str, str, str]] = []
    pending: list[LeafRun] = []
    for r in range(runs):
        run = wf.start_run("bench-wf", "benchmark replay", run_id=f"run-{r}")
        for i in range(per_run):
            leaf_id = f"leaf-{i}"
            spec = {"prompt": f"task {i}", "role": "coder"}
            digest = compute_leaf_input_hash("bench-wf", "benchmark replay", spec, {"run": r})
            keys.append((run.id, leaf_id, digest))
            pending.append(
                LeafRun(
                    id=f"{run.id}/{leaf_id}",
                    workflow_run_id=run.id,
                    branch_run_id=None,
                    leaf_id=leaf_id,
                    task_id=f"task-{i}",
                    input_hash=digest,
                    status=RunStatus.SUCCEEDED,
                    output={"text": f"result {i}", "tokens": i},
                    artifacts=[],
                    started_at=1_700_000_000,
                    completed_at=1_700_000_001,
                )
            )
            if len(pending) >= _BATCH:
                wf.record_leaf_runs(pending)
                pending = []
    if pending:
        wf.record_leaf_runs(pending)
    return keys


def run_benchmark(
    db_path: Path, *, leaves: int = 100_000, runs: int = 100, lookups: int = 20_000, seed: int = 7
) -> dict[str, Any]:
    """Fill a store at ``db_path`` (which must not exist) and time replay lookups.

    Returns:
        ``{"scenario", "leaf_runs", "lookups", "fill_seconds", "hit_median_us",
        "miss_median_us", "replay_leaf_median_us"}``.
    """
    rng = random.Random(seed)
    per_run = max(1, leaves // runs)
    with StateStore.open(db_path) as store:
        started = time.perf_counter()
        keys = _fill(store, runs, per_run)
        fill_seconds = time.perf_counter() - started
        wf = store.workflows
        # Counted back through the API (every run's tree), not by SQL on the file.
        stored = sum(
            len(list(wf.get_run_tree(run.id).iter_leaves()))
            for run in wf.list_runs(workflow_id="bench-wf", limit=runs)
        )

        picks = [rng.choice(keys) for _ in range(lookups)]
        for key in picks[:100]:  # warm the page cache and statement cache
            wf.find_replay(*key)
        hit_us = _median_us([lambda k=k: wf.find_replay(*k) for k in picks])  # type: ignore[misc]
        misses = [(run, leaf, "0" * 64) for run, leaf, _ in picks]
        miss_us = _median_us([lambda k=k: wf.find_replay(*k) for k in misses])  # type: ignore[misc]

        target = wf.start_run("bench-wf", "benchmark replay", run_id="replay-target").id
        few = picks[: min(2_000, lookups)]
        replay_us = _median_us(
            [
                lambda k=k: wf.replay_leaf(k[0], target, k[1], k[2], task_id="t")  # type: ignore[misc]
                for k in few
            ]
        )
        assert all(wf.find_replay(*k) is not None for k in picks[:50])
        assert wf.find_replay(*misses[0]) is None
    return {
        "scenario": "workflow_replay_lookup",
        "leaf_runs": stored,
        "lookups": lookups,
        "fill_seconds": round(fill_seconds, 3),
        "hit_median_us": round(hit_us, 2),
        "miss_median_us": round(miss_us, 2),
        "replay_leaf_median_us": round(replay_us, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: parse arguments, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--leaves", type=int, default=100_000, help="leaf runs to store")
    parser.add_argument("--runs", type=int, default=100, help="workflow runs they belong to")
    parser.add_argument("--lookups", type=int, default=20_000, help="timed lookups")
    parser.add_argument("--db", type=Path, help="database path (default: a temp dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tl-bench-replay-") as tmp:
        db = args.db or Path(tmp) / "state.db"
        if db.exists():
            parser.error(f"{db} exists; give a new path")
        result = run_benchmark(db, leaves=args.leaves, runs=args.runs, lookups=args.lookups)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
