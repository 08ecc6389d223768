"""``retention`` and ``encryption`` give the same answers on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.support.pg import drop_schema, new_schema, require_postgres, schema_dsn
from threadloom.cli import cli

pytestmark = pytest.mark.postgres

#: The commands this module runs on both backends (the test checks each one ran).
COVERED = (
    "retention set",
    "retention show",
    "retention run",
    "encryption keygen",
    "encryption enable",
    "encryption status",
    "encryption rotate",
)
RAN: set[str] = set()


@pytest.fixture
def targets(tmp_path: Path) -> Iterator[dict[str, str]]:
    require_postgres()
    schema = new_schema()
    try:
        yield {"sqlite": str(tmp_path / "state.db"), "postgres": schema_dsn(schema)}
    finally:
        drop_schema(schema)


def _run(db: str, *args: str, env: dict[str, str] | None = None) -> Any:
    RAN.add(" ".join(args[:2]))
    result = CliRunner().invoke(cli, ["--db", db, *args, "--json"], env=env or {})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_retention_and_encryption_agree_on_both_backends(targets: dict[str, str]) -> None:
    key = _run(targets["sqlite"], "encryption", "keygen")["key"]
    new = _run(targets["sqlite"], "encryption", "keygen")["key"]
    seen: dict[str, list[Any]] = {}
    for name, db in targets.items():
        CliRunner().invoke(cli, ["--db", db, "demo"], catch_exceptions=False)
        answers: list[Any] = []
        _run(db, "retention", "set", "--older-than", "0", "--keep-checkpoints", "1", "--all")
        answers.append(_run(db, "retention", "show")["policy"])
        dry = _run(db, "retention", "run", "--dry-run")
        answers.append(sorted(t["reason"] for t in dry["plan"]["threads"]))
        answers.append(len(dry["plan"]["checkpoints"]))
        enabled = _run(db, "encryption", "enable", "--yes", env={"THREADLOOM_ENCRYPTION_KEY": key})
        answers.append(enabled["encrypted"])
        rotated = _run(
            db, "encryption", "rotate", env={"THREADLOOM_ENCRYPTION_KEY": f"{new},{key}"}
        )
        answers.append(rotated["resealed"])
        status = _run(db, "encryption", "status")
        answers.append([(c["column"], c["plain"], c["sealed"]) for c in status["columns"]])
        ran = _run(db, "retention", "run", "--yes", env={"THREADLOOM_ENCRYPTION_KEY": new})
        answers.append(ran["deleted"])
        seen[name] = answers
    assert seen["sqlite"] == seen["postgres"]
    assert seen["sqlite"][-1]["threads"] == 3
    assert set(COVERED) <= RAN
