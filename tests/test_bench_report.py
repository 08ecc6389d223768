"""The README's benchmark summary and docs/benchmarks.md come from one run and agree.

``make bench`` writes both from the same results (``bench/report.py``): the report's
Targets table, and the README's block between two marker lines made of rows of that
same table. Tested on a small synthetic run, and on the committed files.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bench.report import (
    README_END,
    README_START,
    _target_row,
    _targets,
    kept_sections,
    readme_summary,
    write_readme_summary,
)
from bench.runner import Results
from bench.workloads import Sample, workloads

ROOT = Path(__file__).resolve().parents[1]


def _synthetic() -> Results:
    """A run where threadloom beats the original on append but misses the floor on
    read_branch and loses to LangGraph on checkpoint."""
    suite = [w for w in workloads(0.001) if w.family in ("append", "read_branch", "checkpoint")]
    names = ["threadloom normal", "threadloom full", "raw SQL normal", "raw SQL full"]
    names += ["original", "LangGraph SqliteSaver"]
    results = Results(workloads=suite, contenders=names, reps=3, seconds=90.0)
    costs = {  # µs per op, by (family, contender)
        "threadloom normal": {"append": 10, "read_branch": 400, "checkpoint": 50},
        "threadloom full": {"append": 100, "read_branch": 400, "checkpoint": 150},
        "raw SQL normal": {"append": 9, "read_branch": 200, "checkpoint": 45},
        "raw SQL full": {"append": 90, "read_branch": 210, "checkpoint": 140},
        "original": {"append": 1000, "checkpoint": 2000},
        "LangGraph SqliteSaver": {"checkpoint": 100},
    }
    for w in suite:
        for name, by_family in costs.items():
            if w.family in by_family:
                sample = Sample(ops=1000, seconds=by_family[w.family] * 1000 / 1e6)
                results.samples[(w.key, name)] = [sample]
    return results


def _readme(tmp_path: Path) -> Path:
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# x\n\nbefore\n\n{README_START}\nstale figures\n{README_END}\n\nafter\n", "utf-8"
    )
    return readme


def test_readme_block_is_written_from_the_reports_rows(tmp_path: Path) -> None:
    results = _synthetic()
    targets = _targets(results)
    readme = _readme(tmp_path)
    write_readme_summary(readme, readme_summary(targets, results.reps, 1.5))
    text = readme.read_text("utf-8")
    assert text.startswith("# x\n\nbefore\n\n" + README_START + "\n")
    assert text.endswith(README_END + "\n\nafter\n")
    assert "stale figures" not in text
    report_rows = {_target_row(t) for t in targets}
    block = text[text.index(README_START) : text.index(README_END)]
    rows = [line for line in block.splitlines() if line.startswith("| `")]
    assert rows and set(rows) <= report_rows
    # Every missed target is in the README, including the ones a summary would rather
    # leave out.
    missed = {_target_row(t) for t in targets if t[2] is False}
    assert missed == {r for r in rows if r.endswith("| **no** |")}
    assert any("read_branch" in r for r in missed)
    assert any("LangGraph" in r for r in missed)
    held = sum(t[2] is True for t in targets)
    assert f"{held} of {len(targets)} targets held" in block
    # Written twice, the block is replaced, not appended.
    write_readme_summary(readme, readme_summary(targets, results.reps, 1.5))
    assert readme.read_text("utf-8") == text


def test_a_readme_without_the_block_is_refused_untouched(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n", "utf-8")
    with pytest.raises(ValueError, match="bench-summary"):
        write_readme_summary(readme, ["x"])
    assert readme.read_text("utf-8") == "# no markers\n"


def test_committed_readme_and_report_agree() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    report = (ROOT / "docs" / "benchmarks.md").read_text("utf-8")
    assert README_START in readme and README_END in readme
    block = readme[readme.index(README_START) : readme.index(README_END)]
    targets = report[report.index("## Targets") :].split("\n## ")[0]

    def rows(text: str) -> list[str]:  # target rows, not headers or separators
        return [
            line
            for line in text.splitlines()
            if line.startswith("| ") and not line.startswith(("| target ", "| ---"))
        ]

    report_rows, block_rows = rows(targets), rows(block)
    assert block_rows and set(block_rows) <= set(report_rows)
    missed_report = {r for r in report_rows if r.endswith("| **no** |")}
    assert missed_report == {r for r in block_rows if r.endswith("| **no** |")}
    held = sum(r.endswith("| yes |") for r in report_rows)
    assert f"{held} of {len(report_rows)} targets held" in block
    run = re.search(r"run of (\d+) interleaved repetitions \(([\d.]+) minutes\)", report)
    assert run is not None
    assert f"({run.group(1)} interleaved repetitions, {run.group(2)} minutes" in block


def test_issue_16_targets_are_judged_from_the_run() -> None:
    """turn_tx against the original's turn, the flatness pairs, PostgreSQL threads."""
    suite = [
        w
        for w in workloads(0.001, messages=1_000_000)
        if w.family in ("turn", "turn_tx", "append_at", "read_branch_at", "pg_threads")
    ]
    names = ["threadloom normal", "threadloom full", "original", "threadloom postgres"]
    results = Results(workloads=suite, contenders=names, reps=1, seconds=60.0)

    def by_size(family: str) -> list[str]:
        return [w.key for w in sorted(suite, key=lambda w: w.size) if w.family == family]

    (append_small, append_big), (read_small, read_big) = (
        by_size("append_at"),
        by_size("read_branch_at"),
    )
    costs = {  # µs per op by workload key and contender
        ("turn", "original"): 4000,
        ("turn_tx", "threadloom normal"): 80,  # 50x: held
        ("turn_tx", "threadloom full"): 600,  # 6.7x: missed (needs 8x)
        (append_small, "threadloom normal"): 40,
        (append_big, "threadloom normal"): 44,  # 1.1: flat
        (read_small, "threadloom normal"): 400,
        (read_big, "threadloom normal"): 520,  # 1.3: not flat
        ("pg_threads@1", "threadloom postgres"): 400,
        ("pg_threads@8", "threadloom postgres"): 80,  # 5x the throughput: held
    }
    for (key, name), us in costs.items():
        results.samples[(key, name)] = [Sample(ops=1000, seconds=us * 1000 / 1e6)]
    held = [(t[0], t[2]) for t in _targets(results)]

    def verdicts(start: str) -> list[bool | None]:
        return [h for name, h in held if name.startswith(start)]

    assert verdicts("`turn_tx`") == [True, False]
    assert verdicts("`append` flat") == [True]
    assert verdicts("`read_branch(200)` flat") == [False]
    assert verdicts("`pg_threads`") == [True]


def test_sections_of_other_workloads_survive_a_rewrite() -> None:
    text = "# Benchmarks\n\n## Method\n\nx\n\n## Full-text search\n\nfigures\n\n## Later\n"
    assert kept_sections(text) == "\n## Full-text search\n\nfigures\n"
    assert kept_sections("# Benchmarks\n## Method\n") == ""
