"""``python -m bench.internals`` runs every variant and the report carries its tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench import internals, report
from bench.runner import Results
from bench.workloads import workloads


def test_every_variant_is_measured_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures = internals.run(rounds=1, scale=0.001)
    assert set(figures["records end to end"]) == {"list_messages(200)", "list_threads(50)"}
    assert set(figures["json end to end"]) == {"append_message", "save_checkpoint (9.8 KB)"}
    for table in figures.values():
        for by_variant in table.values():
            assert all(cost > 0 for cost in by_variant.values())
    lines = internals.markdown(figures, rounds=1)
    assert "| list_messages(200) |" in "\n".join(lines)
    # The plot needs matplotlib (the bench extra) and is not what is tested here.
    monkeypatch.setattr(report, "_plot", lambda results, png: png.write_bytes(b""))
    results = Results(workloads=workloads(0.001)[:1], contenders=[], reps=1, internals=lines)
    md, _ = report.write_report(results, tmp_path / "docs")
    text = md.read_text("utf-8")
    assert "## Design measurements" in text
    assert "| list_messages(200) |" in text and "| save_checkpoint (9.8 KB) |" in text
