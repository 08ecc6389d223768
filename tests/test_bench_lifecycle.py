"""The lifecycle benchmark runs (tiny sizes) and reports every workload's variants."""

from __future__ import annotations

from bench import lifecycle


def test_the_lifecycle_benchmark_reports_each_workload() -> None:
    results = lifecycle.run(rounds=1, ops=5, messages=3)
    assert set(results) == {"encryption", "idempotency", "secure_delete"}
    assert set(results["encryption"]) == {"plain", "encrypted"}
    assert set(results["encryption"]["encrypted"]) == {
        "append_message",
        "list_messages(50)",
        "load_checkpoint",
    }
    text = "\n".join(lifecycle.markdown(results, rounds=1))
    assert "#### `secure_delete`" in text and "| ratio |" in text
