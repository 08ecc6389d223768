"""Reads on a real streaming replica (``read_dsn``), and a writer reading its own writes.

The replica is the session's own (``tests/support/cluster.py``: ``initdb`` and
``pg_basebackup -R`` on free ports). Pausing its WAL replay makes lag certain, so the
tests say which server answered without any timing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.support.cluster import Pair, replica_pair, schema_dsn
from threadloom import StateStore, ThreadMetadata

pytestmark = pytest.mark.postgres


@pytest.fixture
def pair_schema() -> Iterator[tuple[Pair, str]]:
    """The session's primary+replica and a fresh schema on it (replayed on the replica)."""
    pair = replica_pair()
    schema = f"test_{uuid.uuid4().hex}"
    with psycopg.connect(pair.primary, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield pair, schema
    finally:
        _replay(pair, resume=True)
        with psycopg.connect(pair.primary, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _replay(pair: Pair, *, resume: bool) -> None:
    with psycopg.connect(pair.replica, autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_resume()" if resume else "SELECT pg_wal_replay_pause()")


def _caught_up(pair: Pair) -> None:
    with psycopg.connect(pair.primary, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    with psycopg.connect(pair.replica, autocommit=True) as conn:
        for _ in range(600):
            done = conn.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0],)
            ).fetchone()
            if done and done[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the replica did not catch up")


def _stores(pair: Pair, schema: str) -> tuple[StateStore, StateStore]:
    writer = StateStore.open(schema_dsn(pair.primary, schema), pool_size=2)
    reader = StateStore.open(
        schema_dsn(pair.primary, schema),
        read_dsn=schema_dsn(pair.replica, schema),
        pool_size=2,
    )
    return writer, reader


def test_lag_tolerant_reads_go_to_the_replica(pair_schema: tuple[Pair, str]) -> None:
    pair, schema = pair_schema
    writer, reader = _stores(pair, schema)
    with writer, reader:
        _caught_up(pair)
        assert reader.list_threads() == []
        _replay(pair, resume=False)
        writer.upsert_thread(ThreadMetadata.create("elsewhere", cwd="/w"))
        # Another process's write: the replica has not replayed it, and it answered.
        assert reader.get_thread("elsewhere") is None
        assert reader.list_threads() == []
        # A transaction is the primary's.
        with reader.snapshot():
            assert reader.get_thread("elsewhere") is not None
        _replay(pair, resume=True)
        _caught_up(pair)
        assert [t.id for t in reader.list_threads()] == ["elsewhere"]


def test_a_writer_reads_its_own_writes_while_the_replica_lags(
    pair_schema: tuple[Pair, str],
) -> None:
    pair, schema = pair_schema
    writer, reader = _stores(pair, schema)
    with writer, reader:
        _caught_up(pair)
        _replay(pair, resume=False)
        reader.upsert_thread(ThreadMetadata.create("mine", cwd="/w"))
        ids = [reader.append_message("mine", "user", f"m{n}") for n in range(3)]
        # The replica is behind this store's writes: these reads go to the primary.
        assert reader.get_thread("mine") is not None
        assert [m.id for m in reader.list_messages("mine")] == ids
        assert [t.id for t in reader.iter_threads()] == ["mine"]
        _replay(pair, resume=True)
        _caught_up(pair)
        # Caught up: the replica answers again, and it has them.
        writer.upsert_thread(ThreadMetadata.create("other", cwd="/w"))
        _replay(pair, resume=False)
        assert [m.id for m in reader.list_messages("mine")] == ids


def test_reads_fall_back_to_the_primary_when_the_replica_is_unreachable(
    pair_schema: tuple[Pair, str],
) -> None:
    pair, schema = pair_schema
    dead = f"postgresql://postgres@127.0.0.1:1/postgres?connect_timeout=1&options=-csearch_path%3D{schema}"
    with StateStore.open(schema_dsn(pair.primary, schema), read_dsn=dead, pool_size=2) as store:
        store.upsert_thread(ThreadMetadata.create("t", cwd="/w"))
        assert [t.id for t in store.list_threads()] == ["t"]
        assert store.get_thread("t") is not None
