"""The one timer every in-process contender uses."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..workloads import Sample

__all__ = ["timed"]


@contextmanager
def timed(ops: int) -> Iterator[Sample]:
    """Time the block; the yielded sample gets its seconds when the block ends.

    Garbage from set-up is collected first, so a collection it would trigger does not
    land in the timing; collections caused by the timed work itself stay in (they
    are part of what a caller pays).
    """
    gc.collect()
    sample = Sample(ops=ops, seconds=0.0)
    start = time.perf_counter()
    try:
        yield sample
    finally:
        sample.seconds = time.perf_counter() - start
