"""The benchmark harness runs every workload and counts operations right (no timing)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.contenders import Contender
from bench.contenders.library import ThreadloomContender
from bench.contenders.rawsql import RawSqlContender
from bench.runner import run_suite
from bench.workloads import Workload, workloads


def _expected_ops(w: Workload) -> int:
    if w.family == "checkpoint":
        return 2 * w.ops  # N saves then N loads
    if w.family == "concurrent":
        return w.size * w.ops  # every writer's appends
    return w.ops


def test_every_workload_runs_and_counts_ops(tmp_path: Path) -> None:
    suite = workloads(scale=0.001)
    contenders: list[Contender] = [ThreadloomContender("normal"), RawSqlContender("normal")]
    results = run_suite(contenders, suite, reps=1, workdir=tmp_path)
    assert results.failures == {}
    assert {w.family for w in suite} == {
        "append",
        "read_branch",
        "list_threads",
        "name_lookup",
        "checkpoint",
        "upsert_thread",
        "fork",
        "turn",
        "resume",
        "concurrent",
    }
    for w in suite:
        for c in contenders:
            (sample,) = results.samples[(w.key, c.name)]
            assert sample.ops == _expected_ops(w), (w.key, c.name)
            assert sample.errors == 0
            assert sample.seconds > 0


@pytest.mark.parametrize("family", ["append", "read_branch", "checkpoint"])
def test_peers_run_when_installed(tmp_path: Path, family: str) -> None:
    from bench.contenders.peers import available_peers

    peers = [
        p
        for p in available_peers()
        if p.supports(next(w for w in workloads(0.001) if w.family == family))
    ]
    if not peers:
        pytest.skip("no peer library installed with an equivalent operation")
    suite = [w for w in workloads(scale=0.001) if w.family == family]
    results = run_suite(peers, suite, reps=1, workdir=tmp_path)
    assert results.failures == {}
    for p in peers:
        assert results.samples[(suite[0].key, p.name)][0].ops == _expected_ops(suite[0])
