"""The benchmark harness runs every workload and counts operations right (no timing)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.contenders import Contender
from bench.contenders.library import ThreadloomContender
from bench.contenders.rawsql import RawSqlContender
from bench.runner import run_suite
from bench.workloads import Workload, workloads

from tests.support.require import PEERS, required, skip_unless_required

#: The peers of the ``bench`` extra, by contender name (``bench.contenders.peers``).
PEER_NAMES = {"Agents SDK SQLiteSession", "LangGraph SqliteSaver"}


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
    assert {w.family for w in suite if any(c.supports(w) for c in contenders)} == {
        "append",
        "read_branch",
        "list_threads",
        "name_lookup",
        "checkpoint",
        "upsert_thread",
        "fork",
        "turn",
        "turn_tx",
        "resume",
        "concurrent",
        "append_at",
        "read_branch_at",
    }
    for w in suite:
        for c in contenders:
            if not c.supports(w):
                continue
            (sample,) = results.samples[(w.key, c.name)]
            assert sample.ops == _expected_ops(w), (w.key, c.name)
            assert sample.errors == 0
            assert sample.seconds > 0


@pytest.mark.parametrize("family", ["append", "read_branch", "checkpoint"])
def test_peers_run_when_installed(tmp_path: Path, family: str) -> None:
    from bench.contenders.peers import available_peers

    installed = available_peers()
    if required(PEERS):
        # CI installs the bench extra: every peer must be there, not just one.
        assert {p.name for p in installed} == PEER_NAMES
    peers = [
        p for p in installed if p.supports(next(w for w in workloads(0.001) if w.family == family))
    ]
    if not peers:
        skip_unless_required(
            PEERS,
            "no peer library installed with an equivalent operation (pip install -e '.[bench]')",
        )
    suite = [w for w in workloads(scale=0.001) if w.family == family]
    results = run_suite(peers, suite, reps=1, workdir=tmp_path)
    assert results.failures == {}
    for p in peers:
        assert results.samples[(suite[0].key, p.name)][0].ops == _expected_ops(suite[0])


def test_a_bulk_extended_chain_is_the_chain_appends_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    import bench.workloads as wl

    def dump(db: Path) -> list[object]:
        conn = sqlite3.connect(db)
        try:
            return [
                conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                for table in ("messages", "threads")
            ]
        finally:
            conn.close()

    wl.Fixtures._build("chain", 250, tmp_path / "appended.db")
    monkeypatch.setattr(wl, "_APPENDED", 100)
    wl.Fixtures._build("chain", 250, tmp_path / "bulk.db")
    assert dump(tmp_path / "bulk.db") == dump(tmp_path / "appended.db")
