"""``list_messages`` on corrupt parent chains, on every backend (issue 10, point 4).

Only corruption or a foreign writer can make a ``parent_entry_id`` cycle or a link
into another thread, so these tests write the links with raw SQL.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from threadloom import CorruptData, StateStore, ThreadMetadata
from threadloom.backends.sqlite import SqliteBackend


def _sql(store: StateStore, sql: str, *params: Any) -> None:
    """Run one statement on the store's database, behind the store's back."""
    backend = store.backend
    if isinstance(backend, SqliteBackend):
        raw = sqlite3.connect(backend.path)
        try:
            raw.execute(sql.replace("%s", "?"), params)
            raw.commit()
        finally:
            raw.close()
        return
    from threadloom.backends.postgres import PostgresBackend

    assert isinstance(backend, PostgresBackend)
    with backend.connections.call("test SQL") as conn:
        conn.execute(sql, params)


def _chain(store: StateStore, thread_id: str, n: int) -> list[int]:
    store.upsert_thread(ThreadMetadata.create(thread_id, cwd="/w", model_provider="x", now=1))
    return [store.append_message(thread_id, "user", f"{thread_id}{i}") for i in range(n)]


def _ids(store: StateStore, thread_id: str, limit: int | None = None) -> list[int]:
    return [m.id for m in store.list_messages(thread_id, limit)]


def test_a_cycle_raises_corrupt_data_naming_thread_and_ids(store: StateStore) -> None:
    m = _chain(store, "t1", 5)
    # m4 -> m3 -> m2 -> m1 -> m3: the walk from the leaf m4 loops over m3, m2, m1.
    _sql(store, "UPDATE messages SET parent_entry_id = %s WHERE id = %s", m[3], m[1])
    for limit in (None, 10**6, 2**63 - 1):
        with pytest.raises(CorruptData) as caught:
            store.list_messages("t1", limit)
        error = caught.value
        assert error.table == "messages"
        assert "t1" in str(error) and "cycle" in str(error)
        loop = f"{m[3]} -> {m[2]} -> {m[1]} -> {m[3]}"
        assert loop in str(error)
        assert error.row == f"thread_id='t1', id in ({m[3]}, {m[2]}, {m[1]})"
    # A limit that ends before the loop closes lists the distinct newest messages.
    assert _ids(store, "t1", 3) == [m[2], m[3], m[4]]


def test_a_self_parent_raises(store: StateStore) -> None:
    m = _chain(store, "t1", 3)
    _sql(store, "UPDATE messages SET parent_entry_id = id WHERE id = %s", m[1])
    with pytest.raises(CorruptData, match=rf"messages {m[1]} -> {m[1]}\)"):
        store.list_messages("t1")


def test_a_cycle_through_newer_ids_raises(store: StateStore) -> None:
    m = _chain(store, "t1", 4)
    # The root m0 points at the leaf: every message is on the loop.
    _sql(store, "UPDATE messages SET parent_entry_id = %s WHERE id = %s", m[3], m[0])
    with pytest.raises(CorruptData, match=f"{m[3]} -> {m[2]} -> {m[1]} -> {m[0]} -> {m[3]}"):
        store.list_messages("t1", 1000)


def test_links_to_newer_ids_are_followed_when_they_end(store: StateStore) -> None:
    # The original's v0 migration derives parents from timestamps, so a parent may
    # have a greater id than its child: leaf m3 -> m1 -> m2 -> m0 (root).
    m = _chain(store, "t1", 4)
    _sql(store, "UPDATE messages SET parent_entry_id = %s WHERE id = %s", m[1], m[3])
    _sql(store, "UPDATE messages SET parent_entry_id = %s WHERE id = %s", m[2], m[1])
    _sql(store, "UPDATE messages SET parent_entry_id = %s WHERE id = %s", m[0], m[2])
    assert _ids(store, "t1") == [m[0], m[2], m[1], m[3]]
    assert _ids(store, "t1", 3) == [m[2], m[1], m[3]]
    assert _ids(store, "t1", 2) == [m[1], m[3]]
    assert _ids(store, "t1", 1) == [m[3]]


@pytest.mark.parametrize("other_first", [True, False])
def test_the_walk_stays_inside_the_thread(store: StateStore, other_first: bool) -> None:
    # Another thread's messages have smaller ids (other_first) or greater ones.
    if other_first:
        b = _chain(store, "b", 3)
        a = _chain(store, "a", 3)
    else:
        a = _chain(store, "a", 3)
        b = _chain(store, "b", 3)
    _sql(store, "UPDATE messages SET parent_entry_id = %s WHERE id = %s", b[2], a[0])
    assert _ids(store, "a") == a
    assert _ids(store, "b") == b


def test_a_current_leaf_in_another_thread_lists_nothing(store: StateStore) -> None:
    _chain(store, "a", 2)
    b = _chain(store, "b", 2)
    _sql(store, "UPDATE threads SET current_leaf_id = %s WHERE id = 'a'", b[1])
    assert _ids(store, "a") == []
    assert _ids(store, "b") == b
