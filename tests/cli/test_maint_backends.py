"""``doctor``, ``repair``, ``prune``, ``stats``, ``threads`` and ``show`` on SQLite and
PostgreSQL: the same output shape (JSON keys, table headers, doctor's rows) and the
same numbers for the same demo data."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.support.pg import drop_schema, new_schema, require_postgres, schema_dsn
from threadloom.cli import cli

#: Objects keyed by data (table names, thread ids), or null on one engine: compared
#: as values, not key by key.
_DATA_KEYED = {"foreign_key_violations", "bad_leaves", "dead_tuples", "leaves_reset"}


def _run(db: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--db", db, *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result


def _json(db: str, *args: str) -> Any:
    return json.loads(_run(db, *args, "--json").stdout)


def _shape(value: Any, key: str | None = None) -> Any:
    if key in _DATA_KEYED:
        return "data"
    if isinstance(value, dict):
        return {k: _shape(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value and isinstance(value[0], dict) else "list"
    return "value"


def _labels(text: str) -> list[str]:
    """The row labels of doctor's grid and the header rows of every table."""
    out = []
    for line in text.splitlines():
        match = re.match(r"^(\S[^ ]*(?: \S+)?)\s{2,}", line)
        if match:
            out.append(match.group(1))
        elif line.strip().startswith(("ID ", "Table ")):
            out.append(" ".join(line.split()))
    return out


@pytest.fixture
def dbs(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A SQLite file and a PostgreSQL schema, each holding the demo."""
    require_postgres()
    schema = new_schema()
    try:
        found = {"sqlite": str(tmp_path / "state.db"), "postgres": schema_dsn(schema)}
        for db in found.values():
            _run(db, "demo")
        yield found
    finally:
        drop_schema(schema)


def test_reading_commands_have_the_same_shape_and_numbers(dbs: dict[str, str]) -> None:
    reads = [
        ("doctor",),
        ("stats",),
        ("threads", "--archived"),
        ("prune", "--archived", "--dry-run"),
        ("repair", "--dry-run"),
    ]
    for args in reads:
        sqlite, postgres = (_json(dbs[name], *args) for name in ("sqlite", "postgres"))
        assert _shape(sqlite) == _shape(postgres), args
    for args in [("doctor",), ("stats",), ("prune", "--archived", "--dry-run")]:
        sqlite_text, postgres_text = (_run(dbs[n], *args).stdout for n in ("sqlite", "postgres"))
        assert _labels(sqlite_text) == _labels(postgres_text), args
        assert "not available" not in postgres_text
    doctor = {name: _json(db, "doctor") for name, db in dbs.items()}
    assert doctor["sqlite"]["backend"] == "sqlite" and doctor["postgres"]["backend"] == "postgresql"
    assert doctor["postgres"]["problems"] == [] == doctor["sqlite"]["problems"]
    assert doctor["postgres"]["db_bytes"] > 0 and doctor["postgres"]["wal_bytes"] is None
    assert set(doctor["postgres"]["dead_tuples"]) >= {"threads", "messages"}
    stats = {name: _json(db, "stats") for name, db in dbs.items()}
    for data in stats.values():
        tables = {t["name"]: t for t in data["tables"]}
        assert (tables["threads"]["rows"], tables["messages"]["rows"]) == (3, 16)
        assert tables["messages"]["bytes"] > 0 and tables["messages"]["index_bytes"] > 0
        assert [t["messages"] for t in data["largest_threads"]] == [11, 3, 2]
        assert set(data["files"]) == {"database", "wal", "session_index"}
    counts = {
        name: sorted(
            (t["title"], t["message_count"], t["branch_count"])
            for t in _json(db, "threads", "--archived")["threads"]
        )
        for name, db in dbs.items()
    }
    assert counts["sqlite"] == counts["postgres"]
    assert ("Fix 'database is locked'", 11, 3) in counts["postgres"]


def test_writing_commands_have_the_same_shape(dbs: dict[str, str]) -> None:
    done = {name: _json(db, "prune", "--archived", "--yes") for name, db in dbs.items()}
    assert _shape(done["sqlite"]) == _shape(done["postgres"])
    assert done["postgres"]["deleted"] == 1 and done["postgres"]["bytes_after"] > 0
    repaired = {name: _json(db, "repair", "--yes") for name, db in dbs.items()}
    assert _shape(repaired["sqlite"]) == _shape(repaired["postgres"])
    for name, data in repaired.items():
        assert data["repair"]["index_threads_dropped"] == [done[name]["threads"][0]["id"]]
    assert _run(dbs["postgres"], "doctor", "--check").exit_code == 0
