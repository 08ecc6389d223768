"""``snapshot()`` and ``transaction()``: one behaviour on every backend.

A snapshot only reads: a write inside it raises ``ReadOnlyError`` before touching
anything and the snapshot stays usable; a concurrent writer's commit stays invisible
until the snapshot ends; a block that raises leaves nothing behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from threadloom import (
    JobStateRecord,
    JobStateStatus,
    ReadOnlyError,
    StateStore,
    ThreadloomError,
    ThreadMetadata,
)
from threadloom.backends.sqlite import SqliteBackend

WRITES: dict[str, Callable[[StateStore], object]] = {
    "append_message": lambda s: s.append_message("t", "user", "written in a snapshot"),
    "fork_at_message": lambda s: s.fork_at_message(
        s.list_messages("t")[0].id, "user", "a fork in a snapshot"
    ),
    "upsert_thread": lambda s: s.upsert_thread(ThreadMetadata.create("t2")),
    "mark_archived": lambda s: s.mark_archived("t"),
    "delete_thread": lambda s: s.delete_thread("t"),
    "save_checkpoint": lambda s: s.save_checkpoint("t", "c2", {"n": 2}),
    "clear_messages": lambda s: s.clear_messages("t"),
    "upsert_job": lambda s: s.upsert_job(
        JobStateRecord(
            id="j1",
            name="job",
            status=JobStateStatus.QUEUED,
            progress=None,
            detail=None,
            created_at=1,
            updated_at=1,
        )
    ),
    "append_thread_name": lambda s: s.append_thread_name("t", "renamed", 99),
    "transaction": lambda s: s.transaction().__enter__(),
}


def _state(store: StateStore) -> tuple[Any, ...]:
    """Everything the writes above could change."""
    return (
        [(t.id, t.archived) for t in store.list_threads(include_archived=True)],
        [(m.id, m.content) for m in store.list_all_messages("t")],
        [c.checkpoint_id for c in store.list_checkpoints("t")],
        [j.id for j in store.list_jobs()],
        store.find_thread_name_by_id("t"),
    )


def _seed(store: StateStore) -> None:
    store.upsert_thread(ThreadMetadata.create("t", name="first"))
    store.append_message("t", "user", "hello")
    store.save_checkpoint("t", "c1", {"n": 1})
    store.append_thread_name("t", "first", 1)


@contextlib.contextmanager
def _second_store(store: StateStore) -> Iterator[StateStore]:
    """Another store (another connection) on the same database or schema."""
    if isinstance(store.backend, SqliteBackend):
        with StateStore.open(store.backend.location) as other:
            yield other
        return
    import psycopg

    # The location is the DSN without a password (trust auth in the tests).
    with (
        psycopg.connect(store.backend.location, autocommit=True) as conn,
        StateStore.open(conn) as other,
    ):
        yield other


@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_write_inside_a_snapshot_raises_before_touching_anything(
    store: StateStore, write: str
) -> None:
    _seed(store)
    before = _state(store)
    with store.snapshot():
        with pytest.raises(ReadOnlyError, match=r"snapshot\(\) is read-only") as caught:
            WRITES[write](store)
        assert isinstance(caught.value, ThreadloomError)
        # The snapshot goes on working after the refused write.
        assert _state(store) == before
    assert _state(store) == before
    # Outside the snapshot the same write works.
    store.append_message("t", "user", "after")
    assert store.list_messages("t")[-1].content == "after"


def test_a_snapshot_block_that_raises_leaves_nothing(store: StateStore) -> None:
    _seed(store)
    before = _state(store)
    with pytest.raises(RuntimeError, match="boom"), store.snapshot():
        with contextlib.suppress(ReadOnlyError):
            store.append_message("t", "user", "attempted")
        raise RuntimeError("boom")
    assert _state(store) == before
    # The connection is back to normal: writes and transactions work.
    with store.transaction():
        store.append_message("t", "user", "in a transaction")
    assert [m.content for m in store.list_messages("t")] == ["hello", "in a transaction"]


def test_a_transaction_block_that_raises_rolls_back(store: StateStore) -> None:
    _seed(store)
    before = _state(store)
    with pytest.raises(KeyboardInterrupt), store.transaction():
        store.append_message("t", "user", "dropped")
        store.mark_archived("t")
        raise KeyboardInterrupt
    assert _state(store) == before


def test_a_concurrent_writers_commit_is_invisible_inside_a_snapshot(store: StateStore) -> None:
    _seed(store)
    with _second_store(store) as writer:
        with store.snapshot():
            seen = _state(store)
            assert [m.content for m in store.list_messages("t")] == ["hello"]
            # Another connection commits while the snapshot is open.
            writer.append_message("t", "assistant", "committed meanwhile")
            writer.save_checkpoint("t", "c9", {"n": 9})
            writer.upsert_thread(ThreadMetadata.create("t3"))
            assert [m.content for m in writer.list_messages("t")] == [
                "hello",
                "committed meanwhile",
            ]
            assert _state(store) == seen
            assert store.get_thread("t3") is None
        after = [m.content for m in store.list_messages("t")]
        assert after == ["hello", "committed meanwhile"]
        assert store.get_thread("t3") is not None


def test_a_transaction_inside_a_snapshot_is_refused(store: StateStore) -> None:
    _seed(store)
    before = _state(store)
    with store.snapshot():
        with pytest.raises(ReadOnlyError), store.transaction():
            store.append_message("t", "user", "never")  # pragma: no cover - not reached
        assert _state(store) == before
        with store.snapshot():  # a nested snapshot is the same view
            assert _state(store) == before
    assert _state(store) == before


def test_a_snapshot_inside_a_transaction_is_its_view_and_only_reads(store: StateStore) -> None:
    _seed(store)
    with store.transaction():
        store.append_message("t", "user", "uncommitted")
        with store.snapshot():
            # The transaction's own writes are visible...
            assert [m.content for m in store.list_messages("t")] == ["hello", "uncommitted"]
            # ...and the snapshot block only reads, as everywhere.
            with pytest.raises(ReadOnlyError):
                store.append_message("t", "user", "refused")
        # After the snapshot block the transaction writes again.
        store.append_message("t", "user", "second")
    assert [m.content for m in store.list_messages("t")] == ["hello", "uncommitted", "second"]


def test_an_error_in_a_snapshot_inside_a_transaction_rolls_the_transaction_back(
    store: StateStore,
) -> None:
    _seed(store)
    with pytest.raises(ValueError, match="inner"), store.transaction():
        store.append_message("t", "user", "dropped")
        with store.snapshot():
            raise ValueError("inner")
    assert [m.content for m in store.list_messages("t")] == ["hello"]


def test_nested_transactions_inside_a_transaction_are_savepoints(store: StateStore) -> None:
    _seed(store)
    with store.transaction():
        store.append_message("t", "user", "kept")
        with pytest.raises(RuntimeError), store.transaction():
            store.append_message("t", "user", "dropped")
            raise RuntimeError("inner")
        with store.transaction():
            store.append_message("t", "user", "kept too")
    assert [m.content for m in store.list_messages("t")] == ["hello", "kept", "kept too"]
