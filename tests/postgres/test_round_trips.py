"""Round trips per call on PostgreSQL, counted in libpq's protocol trace (no timing).

Issue 16's target is at most 2 round trips per append; the append is one statement
(lock the thread row, insert, move the leaf), so it takes one, plus the single
extra trip psycopg makes once to prepare it.
"""

from __future__ import annotations

import tempfile

import psycopg
import pytest

from threadloom import StateStore, ThreadMetadata

pytestmark = pytest.mark.postgres


def _round_trips(store: StateStore, calls: int, call: object) -> int:
    """``ReadyForQuery`` messages (one per round trip) while ``call(i)`` runs ``calls`` times."""
    pool = store.backend.connections._pool  # type: ignore[attr-defined]
    with tempfile.TemporaryFile("w+") as trace:
        with pool.connection() as conn:  # pool_size=1: the connection every call uses
            conn.pgconn.trace(trace.fileno())
            conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            for i in range(calls):
                call(i)  # type: ignore[operator]
        finally:
            with pool.connection() as conn:
                conn.pgconn.untrace()
        trace.seek(0)
        return sum(line.split("\t")[2:3] == ["ReadyForQuery"] for line in trace)


def test_an_append_is_one_round_trip(pg_dsn: str) -> None:
    with StateStore.open(pg_dsn, pool_size=1, pool_min_size=1) as store:
        store.upsert_thread(ThreadMetadata.create("t1"))
        appends = 20
        trips = _round_trips(
            store, appends, lambda i: store.append_message("t1", "user", "hi", {"i": i})
        )
        assert [m.item for m in store.list_messages("t1")] == [{"i": i} for i in range(appends)]
    assert appends <= trips <= appends + 1
