"""Schema steps are tuples of whole statements, never one script split on ``;``.

A trigger body or a string literal holds a ``;`` of its own; a step that splits its
script on ``;`` cuts such a statement in two. Both backends run each statement as is.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from threadloom import StateStore
from threadloom.backends.sqlite import schema as sqlite_schema

# A trigger (';' inside BEGIN ... END) writing a string literal that holds ';'.
_SQLITE_TRIGGER_STEP = (
    "CREATE TABLE threadloom_audit (note TEXT NOT NULL)",
    """
CREATE TRIGGER threadloom_audit_jobs AFTER INSERT ON jobs
BEGIN
    INSERT INTO threadloom_audit (note) VALUES ('job; ' || NEW.id);
    INSERT INTO threadloom_audit (note) VALUES ('done;');
END
""",
)


def test_every_sqlite_step_is_a_tuple_of_single_statements() -> None:
    steps = sqlite_schema.MIGRATIONS + sqlite_schema.OWN_MIGRATIONS
    assert all(isinstance(step.statements, tuple) for step in steps)
    conn = sqlite3.connect(":memory:")
    try:
        for step in steps:
            for statement in step.statements:
                assert sqlite3.complete_statement(statement + ";"), statement
                # execute() refuses more than one statement: each item is exactly one.
                conn.execute(statement)
    finally:
        conn.close()


def test_a_sqlite_step_with_a_trigger_and_a_semicolon_literal_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    step = sqlite_schema.Migration(
        sqlite_schema.OWN_SCHEMA_VERSION + 1, "audit", _SQLITE_TRIGGER_STEP, own=True
    )
    monkeypatch.setattr(sqlite_schema, "OWN_MIGRATIONS", (*sqlite_schema.OWN_MIGRATIONS, step))
    monkeypatch.setattr(sqlite_schema, "OWN_SCHEMA_VERSION", step.version)
    db = tmp_path / "state.db"
    with StateStore.open(db) as store:
        assert store.schema_info().own_version == step.version
    conn = sqlite3.connect(db)
    try:
        conn.execute(
            "INSERT INTO jobs (id, name, status, created_at, updated_at) "
            "VALUES ('j1', 'n', 'queued', 1, 1)"
        )
        notes = [r[0] for r in conn.execute("SELECT note FROM threadloom_audit ORDER BY rowid")]
    finally:
        conn.close()
    assert notes == ["job; j1", "done;"]
