"""The adapters' benchmark runs end to end (tiny sizes) and reports every operation."""

from __future__ import annotations

from tests.integrations.conftest import need

need("langgraph.checkpoint.sqlite", "adapters-test")
need("agents", "agents")
need("google.adk.sessions", "adk")

from bench import adapters  # noqa: E402


def test_the_adapters_benchmark_reports_each_operation() -> None:
    figures = adapters.run(reps=1, ops=4, large=0)
    lines = adapters.markdown(figures)
    table = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert len(table) == 7
    assert all(line.endswith("x |") for line in table)
