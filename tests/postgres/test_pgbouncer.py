"""Through a real PgBouncer in transaction pooling: what a pooler breaks, and that it doesn't.

The contract suite runs through PgBouncer too (``pgbouncer-transaction`` and
``pgbouncer-session`` in ``tests/support/pgbouncer.py``); these are the pooler's own
failure modes, as a new user met them: concurrent first opens racing the migration,
prepared statements landing on another client's server connection, and session
settings leaking from one client to the next.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator

import psycopg
import pytest

from tests.support import pg
from tests.support.pgbouncer import Bouncer, bouncer
from threadloom import InvalidRecord, StateStore, ThreadloomError, ThreadMetadata
from threadloom.backends.postgres.connection import PgConnections, translate_errors
from threadloom.backends.postgres.schema import MIGRATIONS

from ._workers import migrate_once

pytestmark = pytest.mark.postgres

PROCESSES = 6


@pytest.fixture
def pooled() -> Iterator[tuple[Bouncer, str]]:
    """Transaction-pooling PgBouncer and a DSN through it to a fresh schema."""
    the_bouncer = bouncer("transaction")
    role = the_bouncer.fresh_schema()
    try:
        yield the_bouncer, the_bouncer.dsn("test", user=role)
    finally:
        the_bouncer.release(role)


def test_concurrent_first_opens_migrate_each_step_once(pooled: tuple[Bouncer, str]) -> None:
    # A session-level advisory lock was taken on one server connection and released on
    # another: lock timeouts, duplicate pg_type rows, or every process hanging.
    _, dsn = pooled
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    out = ctx.Queue()
    procs = [ctx.Process(target=migrate_once, args=(dsn, start, out)) for _ in range(PROCESSES)]
    for proc in procs:
        proc.start()
    start.set()
    results = [out.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    assert [r for r in results if r[0] == "err"] == []
    assert sorted(name for r in results for name in r[1]) == sorted(m.name for m in MIGRATIONS)
    with StateStore.open(dsn) as store:
        assert store.schema_info().pending == ()


def test_a_pooler_is_detected_and_a_direct_connection_is_not(
    pooled: tuple[Bouncer, str],
) -> None:
    _, dsn = pooled
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert PgConnections.behind_pooler(conn)
    pg.require_postgres()
    with psycopg.connect(pg.DSN, autocommit=True) as conn:
        assert not PgConnections.behind_pooler(conn)


def test_auto_turns_prepared_statements_off_through_the_pooler(
    pooled: tuple[Bouncer, str],
) -> None:
    _, dsn = pooled
    # Two stores, statements prepared on first use: PgBouncer hands the second the
    # server connection where the first prepared "_pg3_0".
    with StateStore.open(dsn, pool_size=1) as a, StateStore.open(dsn, pool_size=1) as b:
        for store in (a, b, a, b):
            for _ in range(8):
                assert store.get_thread("nope") is None
                store.list_threads()


def test_a_prepared_statement_mixup_is_one_line_naming_the_option() -> None:
    # One server connection for every client: the second client's "_pg3_0" meets the
    # first one's. (Through a store the mix-up needs concurrent clients to show up: the
    # issue's six processes; here two raw connections make it certain.)
    tiny = Bouncer("transaction", pool_size=1)
    role = tiny.fresh_schema()
    dsn = tiny.dsn("test", user=role)
    try:
        with (
            psycopg.connect(dsn, autocommit=True, prepare_threshold=0) as a,
            psycopg.connect(dsn, autocommit=True, prepare_threshold=0) as b,
        ):
            a.execute("SELECT %s::int", (1,))
            with (
                pytest.raises(ThreadloomError, match=r"prepare_threshold=None") as info,
                translate_errors("failed to read thread t"),
            ):
                b.execute("SELECT %s::int", (1,))
            assert isinstance(info.value.__cause__, psycopg.errors.DuplicatePreparedStatement)
            assert "\n" not in str(info.value)
            assert str(info.value).startswith("failed to read thread t: a connection pooler")
    finally:
        tiny.release(role)
        tiny.close()


def test_a_read_only_store_does_not_leave_other_clients_read_only(
    pooled: tuple[Bouncer, str],
) -> None:
    # A session SET (default_transaction_read_only) would stay on the server connection
    # for whoever gets it next: here, the writer.
    _, dsn = pooled
    with StateStore.open(dsn, pool_size=1) as writer:
        writer.upsert_thread(ThreadMetadata.create("t", cwd="/w"))
        with StateStore.open(dsn, pool_size=1, read_only=True) as reader:
            for _ in range(3):
                assert reader.get_thread("t") is not None
                writer.append_message("t", "user", "still writable")
                with pytest.raises(ThreadloomError, match="read-only"):
                    reader.append_message("t", "user", "refused")
        assert [m.content for m in writer.list_messages("t")] == ["still writable"] * 3


@pytest.mark.parametrize("value", ["sometimes", 2.5, True])
def test_a_bad_prepare_threshold_is_refused_before_connecting(value: object) -> None:
    # Port 1: nothing listens there; the refusal comes first.
    with pytest.raises(InvalidRecord, match="prepare_threshold must be an int, None or 'auto'"):
        StateStore.open("postgresql://nobody@127.0.0.1:1/x", prepare_threshold=value)
