"""bench/search.py runs end to end at a small size and reports every figure (no timing)."""

from __future__ import annotations

from pathlib import Path

from bench.search import run_benchmark


def test_search_benchmark_runs_small(tmp_path: Path) -> None:
    result = run_benchmark(tmp_path / "state.db", messages=3000, threads=300, queries=2)
    assert result["catch_up_messages"] == 3000 + 2000  # the filled ones and the first appends
    assert 0 < result["index_fraction"] < 1
    for name in ("common", "rare", "phrase"):
        for order in ("recent", "relevance"):
            assert 1 <= result[f"{name}_{order}"]["hits"] <= 20
        assert result[f"like_{name}"]["median_ms"] >= 0
