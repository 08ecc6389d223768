"""``bench/server.py`` runs (on a small thread) and reports what the README quotes."""

from __future__ import annotations

from bench.server import run_benchmark


def test_the_server_benchmark_runs_on_a_small_thread() -> None:
    figures = run_benchmark(messages=60, branches=6, repeat=2, screens=False)
    assert figures["messages"] == 60 and figures["branches"] == 6
    for key in ("page_200_library_ms", "page_200_api_in_process_ms", "page_200_api_http_ms"):
        assert figures[key] > 0
    assert figures["ratio_in_process"] > 0 and figures["first_screen_ms"] is None
