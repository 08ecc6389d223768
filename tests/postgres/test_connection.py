"""Connections: a caller's pool or connection, options, connection loss, the extra."""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import conninfo as pg_conninfo
from psycopg_pool import ConnectionPool

from tests.support.pg import DSN, admin_connection
from tests.support.processes import exit_code
from threadloom import StateStore, ThreadloomError, ThreadMetadata
from threadloom.backends.opening import open_backend
from threadloom.backends.postgres.connection import redact_dsn

pytestmark = pytest.mark.postgres


def _app_name(dsn: str) -> str:
    return dsn.rsplit("application_name=", 1)[1]


def _pids(dsn: str) -> list[int]:
    with admin_connection() as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (_app_name(dsn),)
        ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture(params=["connection", "dsn", "pool"])
def open_store(request: pytest.FixtureRequest, pg_dsn: str) -> Iterator[Callable[[], StateStore]]:
    """Open stores on a caller's connection, a DSN (owned pool) or a caller's pool."""
    owned: list[Any] = []
    stores: list[StateStore] = []

    def make() -> StateStore:
        target: Any
        if request.param == "connection":
            target = psycopg.connect(pg_dsn, autocommit=True)
        elif request.param == "pool":
            target = ConnectionPool(pg_dsn, min_size=1, max_size=3, open=True)
        else:
            target = pg_dsn
        if target is not pg_dsn:
            owned.append(target)
        store = StateStore.open(target)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
    for item in owned:
        item.close()


def test_call_in_flight_fails_clearly_and_next_call_reconnects(
    open_store: Callable[[], StateStore], pg_dsn: str, pg_schema: str
) -> None:
    store = open_store()
    store.upsert_thread(ThreadMetadata.create("t", cwd="/w"))
    first = store.append_message("t", "user", "before")
    outcome: list[BaseException | int] = []
    with admin_connection() as blocker:
        # Hold the thread row so the append waits inside its statement, then cut it.
        blocker.execute("BEGIN")
        blocker.execute(f"SELECT 1 FROM {pg_schema}.threads WHERE id = 't' FOR UPDATE")

        def append() -> None:
            try:
                outcome.append(store.append_message("t", "user", "in flight"))
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=append)
        worker.start()
        with admin_connection() as admin:
            waiting: list[tuple[Any, ...]] = []
            for _ in range(2000):  # until the append is seen waiting (a bound, not a timing)
                waiting = admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
                    "AND wait_event_type = 'Lock'",
                    (_app_name(pg_dsn),),
                ).fetchall()
                if waiting:
                    break
                threading.Event().wait(0.01)
            assert waiting, "the append never waited on the row lock"
            admin.execute("SELECT pg_terminate_backend(%s)", (waiting[0][0],))
        worker.join(timeout=60)
        blocker.execute("ROLLBACK")
    assert len(outcome) == 1 and isinstance(outcome[0], ThreadloomError)
    assert "connection to PostgreSQL was lost" in str(outcome[0])
    # Nothing half-written, and the next call works on a new connection.
    after = store.append_message("t", "user", "after")
    assert [m.content for m in store.list_all_messages("t")] == ["before", "after"]
    assert [m.id for m in store.list_messages("t")] == [first, after]


def test_idle_connections_killed_fail_at_most_one_call(
    open_store: Callable[[], StateStore], pg_dsn: str
) -> None:
    store = open_store()
    store.upsert_thread(ThreadMetadata.create("t", cwd="/w"))
    with admin_connection() as admin:
        for pid in _pids(pg_dsn):
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    failures = 0
    for _ in range(2):
        try:
            store.append_message("t", "user", "x")
        except ThreadloomError as exc:
            assert "connection to PostgreSQL was lost" in str(exc)
            failures += 1
    assert failures <= 1
    store.append_message("t", "user", "y")
    assert store.list_messages("t")[-1].content == "y"


def test_transaction_rolls_back_whole_and_nests(open_store: Callable[[], StateStore]) -> None:
    store = open_store()
    store.upsert_thread(ThreadMetadata.create("t", cwd="/w"))
    with pytest.raises(RuntimeError), store.transaction():
        store.append_message("t", "user", "a")
        store.save_checkpoint("t", "latest", {"n": 1})
        raise RuntimeError("boom")
    assert store.list_all_messages("t") == [] and store.load_checkpoint("t") is None
    with store.transaction():
        store.append_message("t", "user", "kept")
        with pytest.raises(RuntimeError), store.transaction():
            store.append_message("t", "user", "dropped")
            raise RuntimeError("inner")
    assert [m.content for m in store.list_messages("t")] == ["kept"]


def test_threads_share_a_store(open_store: Callable[[], StateStore]) -> None:
    store = open_store()
    for n in range(4):
        store.upsert_thread(ThreadMetadata.create(f"t{n}", cwd="/w"))
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for k in range(15):
                with store.transaction():
                    store.append_message(f"t{n}", "user", str(k))
                    store.append_message("t0", "assistant", f"{n}-{k}")
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert errors == []
    assert len(store.list_messages("t0", 10**6)) == 15 + 4 * 15
    assert len(store.list_leaf_messages("t0")) == 1


def test_a_callers_connection_and_pool_stay_open(pg_dsn: str) -> None:
    conn = psycopg.connect(pg_dsn, autocommit=True)
    pool: ConnectionPool[Any] = ConnectionPool(pg_dsn, min_size=1, max_size=2, open=True)
    try:
        StateStore.open(conn).close()
        StateStore.open(pool).close()
        assert not conn.closed and not pool.closed
        assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        conn.close()
        pool.close()


def test_a_non_autocommit_connection_leaves_no_open_transaction(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        with StateStore.open(conn) as store:
            store.upsert_thread(ThreadMetadata.create("t", cwd="/w"))
            store.append_message("t", "user", "hi")
            assert store.get_thread("t") is not None
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with StateStore.open(pg_dsn) as other:
            assert [m.content for m in other.list_messages("t")] == ["hi"]


def test_options_reach_the_pool(pg_dsn: str) -> None:
    with StateStore.open(pg_dsn, pool_size=2, prepare_threshold=None, busy_timeout=1.5) as store:
        store.upsert_thread(ThreadMetadata.create("t", cwd="/w"))
        for _ in range(8):  # past psycopg's default threshold: nothing gets prepared
            store.get_thread("t")
        with store.transaction():
            conn = store.backend.connections._local.conn  # type: ignore[attr-defined]
            assert conn.prepare_threshold is None
            assert conn.execute("SHOW lock_timeout").fetchone() == ("1500ms",)
        assert "password" not in store.backend.location


def test_bad_targets_and_options_are_refused(pg_dsn: str) -> None:
    with pytest.raises(ThreadloomError, match="DSN, a psycopg Connection"):
        open_backend(42, durability="normal", busy_timeout=1.0, migrate=True, read_only=False)
    with pytest.raises(ValueError, match="pool_size"):
        StateStore.open(pg_dsn, pool_size=0)
    with pytest.raises(ThreadloomError, match="cannot connect"):
        StateStore.open("postgresql://nobody@127.0.0.1:1/none", connect_timeout=1)


def test_nul_and_the_escape_character_round_trip(pg_dsn: str) -> None:
    text = "a\x00b\ufdd0c\ufdd00\ufdd01\x00"
    with StateStore.open(pg_dsn) as store:
        store.upsert_thread(ThreadMetadata.create(text, name=text, cwd=text))
        mid = store.append_message(text, text, text, {text: [text]})
        store.save_checkpoint(text, text, {"s": text})
        assert store.get_thread(text) is not None
        assert store.get_thread(text).cwd == text  # type: ignore[union-attr]
        message = store.list_messages(text)[0]
        assert (message.id, message.role, message.content, message.item) == (
            mid,
            text,
            text,
            {text: [text]},
        )
        assert store.load_checkpoint(text).state == {"s": text}  # type: ignore[union-attr]
        assert store.find_thread_name_by_id(text) == text
        assert store.find_thread_path_by_name_str(text.upper()) is None  # no rollout path


def test_missing_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # makes `import psycopg` fail
    with pytest.raises(ThreadloomError, match=r"pip install 'threadloom\[postgres\]'"):
        StateStore.open("postgresql://localhost/none")


def test_a_forked_child_never_uses_or_closes_the_parents_connections(
    open_store: Callable[[], StateStore], pg_dsn: str, request: pytest.FixtureRequest
) -> None:
    kind = request.node.callspec.params["open_store"]
    store = open_store()
    store.upsert_thread(ThreadMetadata.create("t", cwd="/w"))
    store.append_message("t", "user", "parent before")
    parent_sessions = set(_pids(pg_dsn))
    assert parent_sessions
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        status = 1
        try:
            if kind == "pool":
                # A caller's pool cannot be rebuilt here: refused, saying why.
                try:
                    store.get_thread("t")
                    status = 3
                except ThreadloomError as exc:
                    status = 0 if "fork()" in str(exc) else 4
            else:
                with store.backend.connections.call("which session") as conn:  # type: ignore[attr-defined]
                    row = conn.execute("SELECT pg_backend_pid()").fetchone()
                store.append_message("t", "user", "child")
                # The child talks to the server on sessions of its own.
                status = 0 if row[0] not in parent_sessions else 5
            store.close()
            gc.collect()
        except BaseException as exc:
            print(f"child failed: {exc!r}", file=sys.stderr)
        finally:
            os._exit(status)
    assert exit_code(pid) == 0
    # The child closed none of the parent's sessions, and the parent goes on using them.
    assert parent_sessions <= set(_pids(pg_dsn))
    store.append_message("t", "user", "parent after")
    expected = ["parent before"] + ([] if kind == "pool" else ["child"]) + ["parent after"]
    assert [m.content for m in store.list_all_messages("t")] == expected


def _url(*, port: int, dbname: str, query: str = "") -> str:
    """A postgresql:// DSN to the test server's host with a password in it."""
    host = pg_conninfo.conninfo_to_dict(DSN).get("host", "127.0.0.1")
    return f"postgresql://postgres:s3cret@{host}:{port}/{dbname}{query}"


@pytest.mark.parametrize(
    ("case", "cause"),
    [
        ("closed port", "Connection refused"),
        ("missing database", 'database "threadloom_no_such_db" does not exist'),
        ("bad parameter", '"no_such_option"'),
    ],
)
def test_connect_failures_are_one_clear_line(
    case: str, cause: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    port = int(pg_conninfo.conninfo_to_dict(DSN).get("port") or 5432)
    if case == "closed port":
        dsn = _url(port=1, dbname="test")
    elif case == "missing database":
        dsn = _url(port=port, dbname="threadloom_no_such_db")
    else:
        dsn = _url(port=port, dbname="test", query="?no_such_option=1")
    caplog.set_level(logging.DEBUG, logger="psycopg")
    with pytest.raises(ThreadloomError) as caught:
        StateStore.open(dsn)
    message = str(caught.value)
    assert "\n" not in message
    assert cause in message
    assert f"cannot connect to PostgreSQL at {redact_dsn(dsn)}: " in message
    assert "s3cret" not in message and "s3cret" not in redact_dsn(dsn)
    # No pool warnings (one per retry, several lines each) on the way.
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    out, err = capfd.readouterr()
    assert "error connecting" not in out + err


def test_redact_dsn_removes_the_password_from_any_form() -> None:
    assert redact_dsn("postgresql://u:pw@h:5/db") == "user=u dbname=db host=h port=5"
    for dsn in (
        "postgresql://u:pw@h/db?bogus=1",
        "postgresql://u@h/db?bogus=1&password=pw",
        "postgresql://u@h/db?password=pw&bogus=1",
        "host=h bogus=1 password=pw user=u",
        "host=h bogus=1 password='p w' user=u",
    ):
        redacted = redact_dsn(dsn)
        assert "pw" not in redacted and "p w" not in redacted, redacted
        assert "bogus=1" in redacted and "h" in redacted
