"""Failover with synchronous replication: no acknowledged write is lost.

Our own primary and synchronous standby (``tests/support/cluster.py``); writers append
through a multi-host DSN with ``target_session_attrs=read-write``; the primary is
stopped as if it crashed (``pg_ctl stop -m immediate``) and the standby promoted. The
call in flight fails with :class:`ConnectionLost`; the next calls reach the new
primary; every append that returned an id is there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.support.cluster import Pair
from threadloom import ConnectionLost, StateStore, ThreadloomError, ThreadMetadata

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WRITERS = 4
AFTER = 5  # acknowledged appends each writer makes on the new primary


@pytest.fixture(scope="module")
def sync_pair() -> Iterator[Pair]:
    """A primary with one synchronous standby, for this module alone (it is consumed)."""
    pair = Pair(synchronous=True)
    try:
        yield pair
    finally:
        pair.close()


def test_failover_loses_no_acknowledged_append(sync_pair: Pair) -> None:
    pair = sync_pair
    dsn = pair.both()
    with StateStore.open(dsn, pool_size=WRITERS, pool_timeout=30) as store:
        for w in range(WRITERS):
            store.upsert_thread(ThreadMetadata.create(f"w{w}", cwd="/w"))
        acked: dict[int, list[tuple[int, str]]] = {w: [] for w in range(WRITERS)}
        errors: dict[int, list[ThreadloomError]] = {w: [] for w in range(WRITERS)}
        promoted = threading.Event()
        after: dict[int, int] = dict.fromkeys(range(WRITERS), 0)

        def write(w: int) -> None:
            n = 0
            while after[w] < AFTER:
                text = f"w{w}-{n}"
                n += 1
                try:
                    acked[w].append((store.append_message(f"w{w}", "user", text), text))
                except ThreadloomError as exc:
                    errors[w].append(exc)
                    if len(errors[w]) > 50:
                        return
                    time.sleep(0.05)
                    continue
                if promoted.is_set():
                    after[w] += 1

        threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
        for t in threads:
            t.start()
        while min(len(a) for a in acked.values()) < 5:
            time.sleep(0.01)
        pair.stop_primary()
        pair.promote()
        promoted.set()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads)

    everything = [e for errs in errors.values() for e in errs]
    # The calls in flight when the primary went away failed, each with the typed error.
    assert everything, "no call was in flight at the failover"
    assert all(isinstance(e, ConnectionLost) for e in everything), everything
    assert all("\n" not in str(e) for e in everything)
    # Every writer went on to the new primary.
    assert after == dict.fromkeys(range(WRITERS), AFTER)
    # Each acknowledged append is on the new primary (the promoted standby), by id and
    # text; an unacknowledged one may or may not be (it was committing).
    with psycopg.connect(pair.replica, autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        stored: dict[int, str] = dict(conn.execute("SELECT id, content FROM messages").fetchall())
    for w in range(WRITERS):
        for message_id, text in acked[w]:
            assert stored.get(message_id) == text
