"""PostgreSQL schema steps are tuples of whole statements, never a script split on ``;``."""

from __future__ import annotations

import psycopg
import pytest

from threadloom import StateStore
from threadloom.backends.postgres import schema as pg_schema

pytestmark = pytest.mark.postgres


def test_every_postgres_step_is_a_tuple_of_statements() -> None:
    for step in pg_schema.MIGRATIONS:
        assert isinstance(step.statements, tuple) and step.statements, step.name
        for statement in step.statements:
            assert statement.strip() and not statement.strip().endswith(";"), statement


def test_a_postgres_step_with_a_function_and_a_semicolon_literal_applies(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    step = pg_schema.PgMigration(
        max(m.version for m in pg_schema.MIGRATIONS if m.own) + 1,
        "audit",
        (
            "CREATE TABLE threadloom_audit (note text NOT NULL)",
            """
CREATE FUNCTION threadloom_audit_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO threadloom_audit (note) VALUES ('job; ' || NEW.id);
    INSERT INTO threadloom_audit (note) VALUES ('done;');
    RETURN NEW;
END
$$
""",
            "CREATE TRIGGER threadloom_audit_jobs AFTER INSERT ON jobs "
            "FOR EACH ROW EXECUTE FUNCTION threadloom_audit_job()",
        ),
        own=True,
    )
    monkeypatch.setattr(pg_schema, "MIGRATIONS", (*pg_schema.MIGRATIONS, step))
    monkeypatch.setattr(pg_schema, "_KNOWN", {m.name for m in pg_schema.MIGRATIONS})
    with StateStore.open(pg_dsn) as store:
        assert store.schema_info().own_version == step.version
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO jobs (id, name, status, created_at, updated_at) "
            "VALUES ('j1', 'n', 'queued', 1, 1)"
        )
        notes = [r[0] for r in conn.execute("SELECT note FROM threadloom_audit ORDER BY note")]
    assert notes == ["done;", "job; j1"]
