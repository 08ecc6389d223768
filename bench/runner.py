"""Run every workload for every contender, interleaved, and keep the samples.

Repetition r runs workload w's contenders in an order rotated by ``r + w``: on a
shared machine, load that comes and goes then hits every contender alike instead of
whichever ran in that minute. The report uses the median of the repetitions.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .contenders import Contender, default_contenders
from .workloads import Fixtures, Sample, Workload, workloads

__all__ = ["Results", "main", "run_suite"]


@dataclass
class Results:
    """Samples of one run, by ``(workload key, contender name)``."""

    workloads: list[Workload]
    contenders: list[str]
    reps: int
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    depth_sweep: dict[str, dict[int, float]] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)
    #: The workflow replay lookup figures (``bench/workflow_replay.py``), if run.
    replay: dict[str, Any] | None = None
    #: The "Design measurements" tables (``bench/internals.py``), if run.
    internals: list[str] | None = None
    #: The async API section (``bench/async_api.py``), if run.
    async_api: list[str] | None = None
    started: float = 0.0
    seconds: float = 0.0

    def median_us(self, workload: str, contender: str) -> float | None:
        """Median cost per op in microseconds, or ``None`` if not measured."""
        got = self.samples.get((workload, contender))
        if not got:
            return None
        return statistics.median(s.per_op_us for s in got)

    def errors(self, workload: str, contender: str) -> int:
        return sum(s.errors for s in self.samples.get((workload, contender), []))


def run_suite(
    contenders: Sequence[Contender],
    suite: Sequence[Workload],
    reps: int,
    workdir: Path,
    log: Callable[[str], None] = lambda _: None,
) -> Results:
    """Run ``reps`` interleaved repetitions of every supported (workload, contender)."""
    results = Results(list(suite), [c.name for c in contenders], reps, started=time.time())
    fixtures = Fixtures(workdir / "fixtures")
    t0 = time.perf_counter()
    for rep in range(reps):
        for wi, w in enumerate(suite):
            shift = (rep + wi) % len(contenders)
            for c in [*contenders[shift:], *contenders[:shift]]:
                if not c.supports(w) or (w.key, c.name) in results.failures:
                    continue
                scratch = workdir / f"scratch-{rep}-{wi}-{c.name.replace(' ', '_')}"
                scratch.mkdir(parents=True)
                try:
                    sample = c.run(w, fixtures, scratch)
                except Exception as exc:
                    # One broken contender must not sink the whole run: report it.
                    results.failures[(w.key, c.name)] = f"{type(exc).__name__}: {exc}"
                    log(traceback.format_exc())
                    continue
                finally:
                    shutil.rmtree(scratch, ignore_errors=True)
                results.samples.setdefault((w.key, c.name), []).append(sample)
                log(
                    f"rep {rep + 1}/{reps} {w.key:<18} {c.name:<26} "
                    f"{sample.per_op_us:10.1f} us/op  ({sample.ops} ops, {sample.errors} errors)"
                )
    results.seconds = time.perf_counter() - t0
    return results


def profile_workload(contender: Contender, workload: Workload, workdir: Path, top: int = 14) -> str:
    """cProfile of one run, the ``top`` functions by own time (for gaps to the floor)."""
    fixtures = Fixtures(workdir / "fixtures")
    scratch = workdir / "profile"
    scratch.mkdir(parents=True, exist_ok=True)
    # A first run builds the fixture (100,000 threads take a while): profiled, that
    # set-up buried the workload itself (list_threads@100k showed only upserts).
    contender.run(workload, fixtures, scratch)
    profiler = cProfile.Profile()
    profiler.enable()
    contender.run(workload, fixtures, scratch)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
    # Keep the table (from its header), not pstats' preamble.
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    return "\n".join(ln.replace(str(Path.cwd()) + "/", "") for ln in lines[start:])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench``: run the suite, write the markdown report and the plot."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--reps", type=int, default=3, help="repetitions (median reported)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every op count")
    parser.add_argument("--only", default="", help="comma-separated workload keys or families")
    parser.add_argument("--no-original", action="store_true", help="skip seed-oracle")
    parser.add_argument("--no-peers", action="store_true", help="skip LangGraph and Agents SDK")
    parser.add_argument("--no-profile", action="store_true", help="skip profiles of gaps")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="report directory")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch (default: a temp dir)")
    args = parser.parse_args(argv)

    from .report import write_report
    from .sweep import depth_sweep

    suite = workloads(args.scale)
    wanted: set[str] = set()
    if args.only:
        wanted = set(args.only.split(","))
        suite = [w for w in suite if w.key in wanted or w.family in wanted]
    contenders = default_contenders(original=not args.no_original, peers=not args.no_peers)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="threadloom-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    log(f"workdir {workdir}; contenders: {', '.join(c.name for c in contenders)}")
    try:
        results = run_suite(contenders, suite, args.reps, workdir, log)
        results.depth_sweep = depth_sweep(contenders, workdir, args.scale)
        if not args.only or "workflow_replay" in wanted:
            from .workflow_replay import run_benchmark as replay_benchmark

            log("workflow replay lookup with 100,000 leaf runs")
            results.replay = replay_benchmark(workdir / "replay" / "state.db")
        if not args.only or "internals" in wanted:
            from . import internals

            log("internals: the clever code beside the plain way")
            results.internals = internals.markdown(internals.run(), rounds=7)
        if not args.only or "async" in wanted:
            from . import async_api

            log("async API: beside the sync store and the async peers; loop lag")
            results.async_api = async_api.markdown(async_api.run())
        if not args.no_profile:
            by_name = {c.name: c for c in contenders}
            for w in suite:
                for level in ("normal", "full"):
                    ours = results.median_us(w.key, f"threadloom {level}")
                    floor = results.median_us(w.key, f"raw SQL {level}")
                    lib = by_name.get(f"threadloom {level}")
                    if ours and floor and lib and ours > 1.5 * floor:
                        log(f"profiling {w.key} at {level} ({ours / floor:.2f}x the floor)")
                        results.profiles[f"{w.key} ({level})"] = profile_workload(
                            lib, w, workdir / f"prof-{w.key}-{level}"
                        )
        md, png = write_report(results, args.out)
        log(f"wrote {md} and {png}")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0
