"""Scenario 5: a lock held past the busy timeout gives StoreBusy, never a hang."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from threadloom import StateStore, StoreBusy, ThreadMetadata

from ._support import check_integrity, record, row_counts, spawn
from .workers import flock_holder, transaction_holder

BUSY_TIMEOUT = 0.2
ATTEMPTS = 5


class Hang(Exception):
    """The call was still waiting after 30 s: it hung instead of raising StoreBusy."""


def _outcome(call: Callable[[], object]) -> BaseException | None:
    """Run ``call`` in a thread: what it raised, ``None``, or :class:`Hang` after 30 s."""
    box: list[BaseException | None] = [None]

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            box[0] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(30)
    if worker.is_alive():
        return Hang("the call hung instead of raising StoreBusy")
    return box[0]


def test_writer_past_busy_timeout_gets_store_busy(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with StateStore.open(db) as store:
        store.upsert_thread(ThreadMetadata.create("t", name="t"))
        first = store.append_message("t", "user", "before")
    ctx = spawn()
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=transaction_holder, args=(str(db), "t", ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        before = row_counts(db)
        with StateStore.open(db, busy_timeout=BUSY_TIMEOUT) as store:
            calls: list[Callable[[], object]] = [
                lambda: store.append_message("t", "user", "blocked"),
                lambda: store.save_checkpoint("t", "c", {"x": 1}),
                lambda: store.upsert_thread(ThreadMetadata.create("u")),
                lambda: store.delete_thread("t"),
                lambda: store.transaction().__enter__(),
            ]
            outcomes = [_outcome(call) for call in calls[:ATTEMPTS]]
            busy = [e for e in outcomes if isinstance(e, StoreBusy)]
            hangs = sum(isinstance(e, Hang) for e in outcomes)
            assert busy == outcomes, outcomes
            for error in busy:
                assert "locked" in str(error)
                assert str(db) in str(error)
                assert "busy timeout" in str(error)
            # WAL readers are not blocked by the writer, and see only committed data.
            assert [m.id for m in store.list_messages("t")] == [first]
            assert row_counts(db) == before
            release.set()
            holder.join(60)
            assert holder.exitcode == 0
            # The lock is free again: the same store proceeds.
            store.append_message("t", "user", "after")
            assert [m.content for m in store.list_messages("t")] == ["before", "held", "after"]
    finally:
        release.set()
        holder.join(60)
    check_integrity(db)
    record(
        "5-sqlite-lock",
        busy_timeout_s=BUSY_TIMEOUT,
        calls=len(outcomes),
        store_busy_raised=len(busy),
        hangs=hangs,
    )


def test_session_index_lock_past_busy_timeout_gets_store_busy(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with StateStore.open(db, busy_timeout=BUSY_TIMEOUT) as store:
        store.append_thread_name("t", "before", 1)
        ctx = spawn()
        ready, release = ctx.Event(), ctx.Event()
        holder: Any = ctx.Process(
            target=flock_holder,
            args=(str(tmp_path / "session_index.jsonl.lock"), ready, release),
        )
        holder.start()
        try:
            assert ready.wait(60)
            outcomes = [
                _outcome(lambda: store.append_thread_name("t", "blocked", 2)),
                _outcome(store.compact_session_index),
            ]
            busy = [e for e in outcomes if isinstance(e, StoreBusy)]
            hangs = sum(isinstance(e, Hang) for e in outcomes)
            assert busy == outcomes, outcomes
            assert all("session_index.jsonl.lock" in str(error) for error in busy)
            # Readers do not take the lock.
            assert store.find_thread_name_by_id("t") == "before"
            release.set()
            holder.join(60)
            store.append_thread_name("t", "after", 3)
            assert store.find_thread_name_by_id("t") == "after"
            assert store.session_index_health().skipped_lines == 0
        finally:
            release.set()
            holder.join(60)
    record(
        "5-index-lock",
        busy_timeout_s=BUSY_TIMEOUT,
        calls=len(outcomes),
        store_busy_raised=len(busy),
        hangs=hangs,
    )


@pytest.mark.parametrize("timeout", [0, 0.0])
def test_zero_busy_timeout_fails_fast_but_cleanly(tmp_path: Path, timeout: float) -> None:
    db = tmp_path / "state.db"
    with StateStore.open(db) as store:
        store.upsert_thread(ThreadMetadata.create("t"))
    ctx = spawn()
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=transaction_holder, args=(str(db), "t", ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        with StateStore.open(db, busy_timeout=timeout) as store:
            with pytest.raises(StoreBusy):
                store.append_message("t", "user", "x")
            release.set()
            holder.join(60)
            store.append_message("t", "user", "y")
    finally:
        release.set()
        holder.join(60)
