"""The PostgreSQL benchmark column runs every workload and counts right (no timing)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.contenders.postgres import PostgresContender, available_postgres
from bench.runner import run_suite
from bench.workloads import workloads

pytestmark = pytest.mark.postgres


def test_every_workload_runs_on_postgres(tmp_path: Path, pg_schema: str) -> None:
    assert [c.name for c in available_postgres()] == ["threadloom postgres"]
    contender = PostgresContender()
    suite = [w for w in workloads(scale=0.001) if contender.supports(w)]
    try:
        results = run_suite([contender], suite, reps=1, workdir=tmp_path)
    finally:
        contender.drop_all()
    assert results.failures == {}
    for w in suite:
        (sample,) = results.samples[(w.key, contender.name)]
        expected = {
            "checkpoint": 2 * w.ops,
            "concurrent": w.size * w.ops,
            "pg_threads": w.size * w.ops,
        }.get(w.family, w.ops)
        assert (sample.ops, sample.errors) == (expected, 0), w.key
