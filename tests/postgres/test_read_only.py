"""A PostgreSQL store opened ``read_only=True``: no migration, READ ONLY transactions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.support.pg import admin_connection
from threadloom import ReadOnlyStore, SchemaError, StateStore, ThreadMetadata

pytestmark = pytest.mark.postgres


def _tables(schema: str) -> list[str]:
    with admin_connection() as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
    return sorted(str(r[0]) for r in rows)


def _snapshot(store: StateStore) -> Any:
    threads = store.list_threads(include_archived=True, limit=100)
    return threads, {
        t.id: (store.list_all_messages(t.id), store.list_checkpoints(t.id, 100)) for t in threads
    }


@pytest.mark.parametrize("how", ["dsn", "connection"])
def test_read_only_reads_and_refuses_every_write(pg_dsn: str, how: str) -> None:
    with StateStore.open(pg_dsn) as writer:
        writer.upsert_thread(ThreadMetadata.create("t1", cwd="/w", now=100, name="one"))
        first = writer.append_message("t1", "user", "hello")
        writer.save_checkpoint("t1", "latest", {"step": 1})
        expected = _snapshot(writer)
    conn = psycopg.connect(pg_dsn, autocommit=True) if how == "connection" else None
    try:
        with StateStore.open(conn or pg_dsn, read_only=True) as reader:
            assert _snapshot(reader) == expected
            assert reader.find_thread_name_by_id("t1") == "one"
            thread = reader.get_thread("t1")
            assert thread is not None
            writes: list[Callable[[], object]] = [
                lambda: reader.upsert_thread(thread),
                lambda: reader.append_message("t1", "user", "more"),
                lambda: reader.fork_at_message(first, "user", "other"),
                lambda: reader.save_checkpoint("t1", "latest", {"step": 2}),
                lambda: reader.mark_archived("t1"),
                lambda: reader.delete_thread("t1"),
                lambda: reader.append_thread_name("t1", "renamed", 200),
                reader.migrate,
            ]
            for write in writes:
                with pytest.raises(ReadOnlyStore, match="read-only"):
                    write()
            with pytest.raises(ReadOnlyStore), reader.transaction():
                reader.append_message("t1", "user", "inside")
            assert _snapshot(reader) == expected  # and reads still work after refusals
    finally:
        if conn is not None:
            conn.close()
    with StateStore.open(pg_dsn) as writer:
        assert _snapshot(writer) == expected
        assert writer.find_thread_name_by_id("t1") == "one"


def test_read_only_never_migrates(pg_dsn: str, pg_schema: str) -> None:
    with pytest.raises(SchemaError, match="run `threadloom migrate`"):
        StateStore.open(pg_dsn, read_only=True)
    assert _tables(pg_schema) == []


def test_read_only_reads_a_schema_with_a_later_step_pending(pg_dsn: str, pg_schema: str) -> None:
    from threadloom.backends.postgres.schema import VERSION_TABLE

    with StateStore.open(pg_dsn) as writer:
        writer.upsert_thread(ThreadMetadata.create("t1", cwd="/w", now=100))
    with admin_connection() as conn:
        conn.execute(f"DELETE FROM {pg_schema}.{VERSION_TABLE} WHERE name = 'threadloom-v1'")
    with StateStore.open(pg_dsn, read_only=True) as reader:
        assert [s.name for s in reader.schema_info().pending] == ["threadloom-v1"]
        assert [t.id for t in reader.iter_threads()] == ["t1"]
    with admin_connection() as conn:
        rows = conn.execute(f"SELECT name FROM {pg_schema}.{VERSION_TABLE}").fetchall()
    assert "threadloom-v1" not in {r[0] for r in rows}  # still pending: nothing migrated


def test_a_read_only_dsn_store_is_read_only_on_the_server_too(pg_dsn: str) -> None:
    # Writes are refused before anything is sent; a statement that slipped past that
    # (no such path should exist) would still be refused by the session setting.
    with StateStore.open(pg_dsn) as writer:
        writer.upsert_thread(ThreadMetadata.create("t1", cwd="/w"))
    with StateStore.open(pg_dsn, read_only=True) as reader:
        conns: Any = reader.backend.connections  # type: ignore[attr-defined]
        with conns.call("probe") as conn:
            assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("DELETE FROM threads")
        assert reader.get_thread("t1") is not None
