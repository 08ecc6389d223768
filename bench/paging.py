"""Reading a whole long branch page by page: memory stays flat, time stays linear.

``store.iter_messages(thread, page_size=500)`` over branches of 10,000 and 100,000
messages, against ``list_messages(thread, limit=N)`` (the whole branch at once). Peak
memory is what ``tracemalloc`` sees allocated by the read (records, items, rows), so
the two are compared on the same terms; time is measured in a separate pass without
``tracemalloc``.

Run it as ``python -m bench.paging``; ``make bench`` adds its table to
docs/benchmarks.md ("Reading a long branch page by page").
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from threadloom import StateStore

from .workloads import THREAD_ID, Fixtures

__all__ = ["PAGE_SIZE", "SIZES", "main", "markdown", "run_benchmark"]

SIZES = (10_000, 100_000)
PAGE_SIZE = 500


def _measure(read: Callable[[], int]) -> tuple[int, float, int]:
    """(messages read, seconds, peak bytes allocated during the read)."""
    gc.collect()
    start = time.perf_counter()
    count = read()
    seconds = time.perf_counter() - start
    gc.collect()
    tracemalloc.start()
    try:
        read()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, seconds, peak


def run_benchmark(workdir: Path, sizes: Sequence[int] = SIZES) -> dict[str, Any]:
    """Figures for every branch length in ``sizes``: both ways of reading it whole."""
    fixtures = Fixtures(workdir / "fixtures")
    out: dict[str, Any] = {"page_size": PAGE_SIZE, "rows": []}
    for size in sizes:
        db = fixtures.copy("chain", size, workdir / f"paging-{size}")
        with StateStore.open(db) as store:

            def paged() -> int:
                return sum(1 for _ in store.iter_messages(THREAD_ID, page_size=PAGE_SIZE))

            def whole(size: int = size) -> int:
                return len(store.list_messages(THREAD_ID, size))

            n_paged, t_paged, peak_paged = _measure(paged)
            n_whole, t_whole, peak_whole = _measure(whole)
        assert n_paged == n_whole == size, (n_paged, n_whole, size)
        out["rows"].append(
            {
                "messages": size,
                "paged_seconds": t_paged,
                "paged_peak_bytes": peak_paged,
                "whole_seconds": t_whole,
                "whole_peak_bytes": peak_whole,
            }
        )
    return out


def flat_ratio(figures: dict[str, Any]) -> float | None:
    """Peak memory of paging the longest branch over that of the shortest."""
    rows = figures.get("rows") or []
    if len(rows) < 2 or not rows[0]["paged_peak_bytes"]:
        return None
    return float(rows[-1]["paged_peak_bytes"] / rows[0]["paged_peak_bytes"])


def markdown(figures: dict[str, Any]) -> list[str]:
    """The report's section."""
    lines = [
        "## Reading a long branch page by page",
        "",
        f"`store.iter_messages(thread, page_size={figures['page_size']})` (keyset pages over",
        "the parent links) against `list_messages(thread, limit=N)` (the whole branch at",
        "once): peak memory allocated by the read (`tracemalloc`), and time",
        "(`bench/paging.py`).",
        "",
        "| messages | paged: peak | paged: time | whole: peak | whole: time |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in figures["rows"]:
        lines.append(
            f"| {row['messages']:,} | {row['paged_peak_bytes'] / 1e6:,.1f} MB "
            f"| {row['paged_seconds'] * 1e3:,.0f} ms "
            f"| {row['whole_peak_bytes'] / 1e6:,.1f} MB "
            f"| {row['whole_seconds'] * 1e3:,.0f} ms |"
        )
    lines.append("")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.paging``: print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.paging", description=__doc__)
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="comma-separated branch lengths"
    )
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="threadloom-paging-") as tmp:
        print("\n".join(markdown(run_benchmark(Path(tmp), sizes))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
