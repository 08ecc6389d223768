"""PostgreSQL migrations: numbered, recorded, applied once under concurrent starts."""

from __future__ import annotations

import multiprocessing

import pytest

from tests.support.pg import admin_connection
from threadloom import SchemaError, StateStore
from threadloom.backends.postgres.schema import MIGRATIONS, VERSION_TABLE

from ._workers import migrate_once

pytestmark = pytest.mark.postgres

PROCESSES = 6


def test_concurrent_starts_migrate_exactly_once(pg_dsn: str, pg_schema: str) -> None:
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    out = ctx.Queue()
    procs = [ctx.Process(target=migrate_once, args=(pg_dsn, start, out)) for _ in range(PROCESSES)]
    for proc in procs:
        proc.start()
    start.set()
    results = [out.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    assert [r for r in results if r[0] == "err"] == []
    applied = [r[1] for r in results if r[1]]
    # Exactly one process applied every step; the others found nothing to do.
    assert applied == [[m.name for m in MIGRATIONS]]
    with admin_connection() as conn:
        rows = conn.execute(f"SELECT name FROM {pg_schema}.{VERSION_TABLE}").fetchall()
    assert sorted(r[0] for r in rows) == sorted(m.name for m in MIGRATIONS)


def test_migrate_false_opens_without_applying(pg_dsn: str) -> None:
    with StateStore.open(pg_dsn, migrate=False) as store:
        info = store.schema_info()
        assert info.schema_version == 0 and info.applied == ()
        assert [s.name for s in info.pending] == [m.name for m in MIGRATIONS]
        assert [s.name for s in store.migrate()] == [m.name for m in MIGRATIONS]
        assert store.migrate() == []
        info = store.schema_info()
        assert (info.schema_version, info.own_version, info.pending) == (4, 3, ())


def test_a_newer_schema_is_refused_untouched(pg_dsn: str, pg_schema: str) -> None:
    StateStore.open(pg_dsn).close()
    with admin_connection() as conn:
        conn.execute(
            f"INSERT INTO {pg_schema}.{VERSION_TABLE} (name, description) "
            "VALUES ('threadloom-v99', 'from the future')"
        )
    with pytest.raises(SchemaError, match="threadloom-v99"):
        StateStore.open(pg_dsn)
