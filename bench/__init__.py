"""threadloom's benchmark suite: the library beside the original, the raw-SQL floor and peers.

Run it with ``make bench`` (or ``python -m bench``); it writes ``docs/benchmarks.md``
and ``docs/benchmarks.png``. Numbers are medians of interleaved repetitions, never
pass/fail thresholds: the machine is shared, so only side-by-side ratios are stable.
"""
