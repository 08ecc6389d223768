"""The maintenance part of the backend contract, on SQLite, PostgreSQL and a pool.

Damage the checks look for (orphans, bad current leaves, stale statuses) is written
with raw SQL beside the store, as the seed version of the original or another tool
would have left it.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StoreFactory
from tests.support.pg import drop_schema, new_schema, require_postgres, schema_dsn
from threadloom import StateStore
from threadloom.contract import CHILD_TABLES, ThreadCounts
from threadloom.errors import Conflict, ReadOnlyStore, StoreBusy, ThreadloomError
from threadloom.maintenance import diagnose, repair, select_threads_to_prune, vacuum
from threadloom.records import JobStateRecord, JobStateStatus, ThreadMetadata, ThreadStatus


@contextmanager
def raw(store: StateStore) -> Iterator[tuple[Any, str]]:
    """A connection to the store's database beside the store, and its placeholder.

    On SQLite foreign keys are off (as the seed version ran); on PostgreSQL the
    session skips the foreign-key triggers (``session_replication_role = replica``).
    """
    backend: Any = store.backend
    if backend.engine == "sqlite":
        conn = sqlite3.connect(backend.path, isolation_level=None)
        try:
            yield conn, "?"
        finally:
            conn.close()
        return
    with backend.connections.session("test") as conn:
        conn.execute("SET session_replication_role = replica")
        try:
            yield conn, "%s"
        finally:
            conn.execute("RESET session_replication_role")


def _thread(store: StateStore, thread_id: str, **fields: Any) -> ThreadMetadata:
    thread = ThreadMetadata.create(thread_id, cwd="/w", **fields)
    store.upsert_thread(thread)
    return thread


def _orphans(store: StateStore) -> None:
    with raw(store) as (conn, p):
        conn.execute(
            "INSERT INTO messages (thread_id, role, content, created_at) "
            f"VALUES ({p}, 'user', 'left behind', 1)",
            ("ghost",),
        )
        conn.execute(
            "INSERT INTO checkpoints (thread_id, checkpoint_id, state_json, created_at) "
            f"VALUES ({p}, 'c1', '{{}}', 1)",
            ("ghost",),
        )


def test_orphans_are_found_and_deleted(store: StateStore) -> None:
    _thread(store, "t1")
    kept = store.append_message("t1", "user", "hello")
    _orphans(store)
    found = store.backend.find_orphans()
    assert found.rows == {
        "messages": 1,
        "checkpoints": 1,
        "thread_dynamic_tools": 0,
        "thread_goals": 0,
    }
    assert found.thread_ids == ("ghost",)
    if store.backend.engine == "sqlite":  # the server enforces them on PostgreSQL
        assert store.backend.foreign_key_violations() == {"messages": 1, "checkpoints": 1}
    else:
        assert store.backend.foreign_key_violations() == {}
    with store.transaction():
        deleted = store.backend.delete_orphans()
    assert deleted == {
        "messages": 1,
        "checkpoints": 1,
        "thread_dynamic_tools": 0,
        "thread_goals": 0,
    }
    assert store.backend.find_orphans().rows == dict.fromkeys(CHILD_TABLES, 0)
    assert [m.id for m in store.list_all_messages("t1")] == [kept]


def test_a_bad_leaf_is_found_and_reset_to_the_newest_tip(store: StateStore) -> None:
    _thread(store, "t1")
    _thread(store, "t2")
    root = store.append_message("t1", "user", "root")
    store.append_message("t1", "assistant", "first answer")
    newest = store.fork_at_message(root, "assistant", "second answer")
    elsewhere = store.append_message("t2", "user", "not t1's")
    with raw(store) as (conn, p):
        conn.execute(f"UPDATE threads SET current_leaf_id = {p} WHERE id = 't1'", (elsewhere,))
    assert store.backend.find_bad_leaves() == {"t1": elsewhere}
    assert store.backend.reset_bad_leaves(["t1", "t2", "missing"]) == {"t1": newest}
    assert store.backend.find_bad_leaves() == {}
    thread = store.get_thread("t1")
    assert thread is not None and thread.current_leaf_id == newest


def test_a_stale_archived_status_is_found_and_reset(store: StateStore) -> None:
    _thread(store, "t1")
    _thread(store, "t2")
    store.mark_archived("t2")  # archived for real: not stale
    with raw(store) as (conn, _):
        conn.execute("UPDATE threads SET status = 'archived' WHERE id = 't1'")
    assert store.backend.find_stale_archived() == ["t1"]
    assert store.backend.reset_stale_archived(["t1", "t2", "missing"]) == ["t1"]
    assert store.backend.find_stale_archived() == []
    thread = store.get_thread("t1")
    assert thread is not None and thread.status is ThreadStatus.IDLE


def test_checks_of_a_healthy_store(store: StateStore) -> None:
    _thread(store, "t1")
    store.append_message("t1", "user", "hi")
    backend = store.backend
    assert backend.integrity_check() == (["ok"] if backend.engine == "sqlite" else [])
    assert backend.invalid_indexes() == []
    assert backend.find_orphans().rows == dict.fromkeys(CHILD_TABLES, 0)
    assert backend.find_bad_leaves() == {} and backend.find_stale_archived() == []
    assert backend.existing_threads(["t1", "gone", "t1"]) == {"t1"}
    assert backend.existing_threads([]) == set()


def test_prune_selection_matches_every_criterion(store: StateStore) -> None:
    day = 86_400
    now = 1_750_000_000
    _thread(store, "old-done", now=now - 40 * day, status="completed")
    _thread(store, "old-idle", now=now - 30 * day)
    _thread(store, "new-done", now=now - day // 2, status="completed")
    _thread(store, "archived", now=now - 10 * day)
    store.mark_archived("archived")

    def pick(**criteria: Any) -> list[str]:
        return [t.id for t in select_threads_to_prune(store, now=now, **criteria)]

    assert pick(older_than_days=20) == ["old-idle", "old-done"]  # newest first
    assert pick(older_than_days=20, statuses=["completed"]) == ["old-done"]
    assert pick(statuses=["completed"]) == ["new-done", "old-done"]
    assert pick(archived=True) == ["archived"]
    assert pick(archived=True, older_than_days=20) == []
    assert pick() == []
    selected = store.backend.select_threads(
        updated_before=now, archived_only=False, statuses=["completed"]
    )
    assert [t.id for t in selected] == ["new-done", "old-done"]
    assert selected[1] == store.get_thread("old-done")


def test_thread_counts_are_counted_by_the_backend(store: StateStore) -> None:
    _thread(store, "t1")
    _thread(store, "empty")
    root = store.append_message("t1", "user", "root")
    store.append_message("t1", "assistant", "a")
    store.append_message("t1", "user", "b")
    store.fork_at_message(root, "assistant", "c")
    counts = store.backend.thread_counts(["t1", "empty", "missing", "t1"])
    assert counts == {
        "t1": ThreadCounts(messages=4, branches=2),
        "empty": ThreadCounts(),
        "missing": ThreadCounts(),
    }
    assert counts["t1"].messages == len(store.list_all_messages("t1"))
    assert counts["t1"].branches == len(store.list_leaf_messages("t1"))
    many = [f"x{i}" for i in range(1200)] + ["t1"]  # several IN lists
    assert store.backend.thread_counts(many)["t1"].messages == 4


def test_table_stats_and_largest_threads(store: StateStore) -> None:
    _thread(store, "small", name="Small")
    _thread(store, "big", name="Big")
    store.append_message("small", "user", "hi")
    for _ in range(3):
        store.append_message("big", "user", "x" * 1000, {"type": "message"})
    with store.snapshot():
        tables = {t.name: t for t in store.backend.table_stats()}
        largest = store.backend.largest_threads(5)
    assert tables["threads"].rows == 2 and tables["messages"].rows == 4
    assert tables["jobs"].rows == 0
    for name in ("threads", "messages", "checkpoints", "thread_goals", "jobs"):
        size, index_size = tables[name].bytes, tables[name].index_bytes
        assert isinstance(size, int) and size > 0 and isinstance(index_size, int)
    assert [(t.id, t.name, t.messages) for t in largest] == [
        ("big", "Big", 3),
        ("small", "Small", 1),
    ]
    assert largest[0].bytes == 3 * (1000 + len('{"type":"message"}')) and largest[1].bytes == 2
    assert [t.id for t in store.backend.largest_threads(1)] == ["big"]


def test_storage_info_and_compaction(store: StateStore) -> None:
    _thread(store, "t1")
    for _ in range(50):
        store.append_message("t1", "user", "y" * 2000)
    store.clear_messages("t1")
    info = store.backend.storage_info()
    assert info.engine == store.backend.engine and info.database_bytes > 0
    if info.engine == "sqlite":
        assert isinstance(info.wal_bytes, int) and isinstance(info.free_bytes, int)
        assert info.dead_tuples is None
    else:
        assert info.wal_bytes is None and info.free_bytes is None
        assert info.dead_tuples is not None and "messages" in info.dead_tuples
    done = store.backend.compact()
    assert done.bytes_before > 0 and done.bytes_after > 0
    if info.engine == "sqlite":
        assert done.bytes_after < done.bytes_before  # the freed pages went back
        assert store.backend.storage_info().free_bytes == 0
    assert store.get_thread("t1") is not None
    with pytest.raises(ThreadloomError, match="inside a transaction"), store.transaction():
        store.backend.compact()


def test_rebuild_indexes_rebuilds_a_named_index(store: StateStore) -> None:
    _thread(store, "t1")
    store.append_message("t1", "user", "hi")
    name = "idx_messages_thread_" + ("created_at" if store.backend.engine == "sqlite" else "id")
    assert store.backend.rebuild_indexes([name]) == [name]
    assert store.backend.invalid_indexes() == []
    assert len(store.list_all_messages("t1")) == 1


def test_doctor_and_repair_through_the_contract(store: StateStore) -> None:
    _thread(store, "t1")
    _thread(store, "t2")
    store.append_message("t1", "user", "root")
    other = store.append_message("t2", "user", "t2's")
    _orphans(store)
    with raw(store) as (conn, p):
        conn.execute(f"UPDATE threads SET current_leaf_id = {p} WHERE id = 't1'", (other,))
        conn.execute("UPDATE threads SET status = 'archived' WHERE id = 't2'")
    report = diagnose(store)
    assert report.backend == store.backend.engine and report.sqlite is (report.backend == "sqlite")
    assert report.orphans["messages"] == 1 and report.orphan_threads == ["ghost"]
    assert report.bad_leaves == {"t1": other}
    assert report.stale_archived_status == ["t2"]
    assert len(report.problems()) == 4
    done = repair(store, report)
    assert done.orphans_deleted["messages"] == 1 and done.orphans_deleted["checkpoints"] == 1
    assert list(done.leaves_reset) == ["t1"] and done.statuses_reset == ["t2"]
    after = diagnose(store)
    assert after.problems() == []
    assert dataclasses.asdict(after).keys() == dataclasses.asdict(report).keys()
    assert vacuum(store)[1] > 0


def test_the_same_report_keys_on_every_backend(make_store: StoreFactory) -> None:
    store = make_store()
    _thread(store, "t1")
    report = diagnose(store).to_dict()
    assert list(report) == [
        "location", "backend", "sqlite", "schema_version", "pending_steps", "integrity",
        "foreign_key_violations", "orphans", "orphan_threads", "bad_leaves",
        "stale_archived_status", "invalid_indexes", "session_index", "wal_bytes",
        "db_bytes", "free_bytes", "dead_tuples", "error", "damaged", "problems",
    ]  # fmt: skip


# -- engine-specific ------------------------------------------------------------------


def test_a_lock_during_vacuum_is_store_busy_on_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with StateStore.open(db, busy_timeout=0.2) as store:
        _thread(store, "t1")
        holder = sqlite3.connect(db, isolation_level=None)  # another writer, mid-transaction
        try:
            holder.execute("BEGIN IMMEDIATE")
            holder.execute("UPDATE threads SET preview = 'busy' WHERE id = 't1'")
            with pytest.raises(StoreBusy, match="locked"):
                vacuum(store)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert vacuum(store)[1] > 0  # the lock gone, it works
    with StateStore.open(db, read_only=True) as reader, pytest.raises(ReadOnlyStore):
        vacuum(reader)


def test_a_lock_during_vacuum_is_store_busy_on_postgres() -> None:
    require_postgres()
    import psycopg

    schema = new_schema()
    try:
        with StateStore.open(schema_dsn(schema), busy_timeout=0.2) as store:
            _thread(store, "t1")
            with psycopg.connect(schema_dsn(schema)) as holder:  # holds its lock until rollback
                holder.execute("LOCK TABLE messages IN SHARE UPDATE EXCLUSIVE MODE")
                with pytest.raises(StoreBusy):
                    vacuum(store)
                holder.rollback()
            assert vacuum(store)[1] > 0
        with (
            StateStore.open(schema_dsn(schema), read_only=True) as reader,
            pytest.raises(ReadOnlyStore),
        ):
            vacuum(reader)
    finally:
        drop_schema(schema)


def test_postgres_doctor_finds_an_invalid_index_and_repair_rebuilds_it() -> None:
    require_postgres()
    import psycopg

    schema = new_schema()
    try:
        with (
            StateStore.open(schema_dsn(schema)) as store,
            psycopg.connect(schema_dsn(schema), autocommit=True) as admin,
        ):
            for job_id in ("j1", "j2"):
                store.upsert_job(
                    JobStateRecord(
                        id=job_id,
                        name="same name",
                        status=JobStateStatus.QUEUED,
                        progress=None,
                        detail=None,
                        created_at=1,
                        updated_at=1,
                    )
                )
            # A unique index built concurrently over duplicates fails and stays, invalid.
            with pytest.raises(psycopg.errors.UniqueViolation):
                admin.execute("CREATE UNIQUE INDEX CONCURRENTLY idx_jobs_name ON jobs(name)")
            report = diagnose(store)
            assert report.invalid_indexes == ["idx_jobs_name"]
            assert "index idx_jobs_name is invalid (a failed build): queries do not use it" in (
                report.problems()
            )
            with pytest.raises(Conflict):  # rebuilding it over the duplicates fails again
                store.backend.rebuild_indexes(report.invalid_indexes)
            store.delete_job("j2")
            done = repair(store, diagnose(store))
            assert done.indexes_rebuilt == ["idx_jobs_name"]
            assert done.wal_bytes_before is None and done.wal_bytes_after is None
            assert diagnose(store).problems() == []
    finally:
        drop_schema(schema)
