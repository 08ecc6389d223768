"""Idempotent writes: a retried append, fork or checkpoint save happens once."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import StoreFactory
from threadloom import Conflict, InvalidRecord, NotFound, StateStore, ThreadMetadata


def _thread(store: StateStore, thread_id: str = "t1") -> str:
    store.upsert_thread(ThreadMetadata.create(thread_id, cwd="/w"))
    return thread_id


def test_second_append_with_the_key_returns_the_first_id(store: StateStore) -> None:
    t = _thread(store)
    first = store.append_message(t, "user", "hi", {"a": 1}, idempotency_key="k1")
    again = store.append_message(t, "user", "hi", {"a": 1}, idempotency_key="k1")
    assert again == first
    assert [m.id for m in store.list_all_messages(t)] == [first]
    other = store.append_message(t, "user", "hi", {"a": 1}, idempotency_key="k2")
    assert other != first
    assert store.get_thread(t).current_leaf_id == other  # type: ignore[union-attr]


def test_a_key_reused_with_other_content_is_a_conflict(store: StateStore) -> None:
    t = _thread(store)
    first = store.append_message(t, "user", "hi", idempotency_key="k")
    for role, content, item in (("user", "bye", None), ("tool", "hi", None), ("user", "hi", 1)):
        with pytest.raises(Conflict, match="different content"):
            store.append_message(t, role, content, item, idempotency_key="k")
    with pytest.raises(Conflict, match="another operation"):
        store.save_checkpoint(t, "c", {}, idempotency_key="k")
    assert [m.id for m in store.list_all_messages(t)] == [first]


def test_keys_are_per_thread(store: StateStore) -> None:
    a, b = _thread(store, "a"), _thread(store, "b")
    one = store.append_message(a, "user", "x", idempotency_key="k")
    two = store.append_message(b, "user", "x", idempotency_key="k")
    assert one != two


def test_fork_and_checkpoint_with_a_key(store: StateStore) -> None:
    t = _thread(store)
    root = store.append_message(t, "user", "q")
    fork = store.fork_at_message(root, "assistant", "a", idempotency_key="f")
    assert store.fork_at_message(str(root), "assistant", "a", idempotency_key="f") == fork
    assert len(store.list_all_messages(t)) == 2
    store.save_checkpoint(t, "c1", {"turn": 1}, idempotency_key="s")
    store.save_checkpoint(t, "c1", {"turn": 2})  # a later save, without a key
    store.save_checkpoint(t, "c1", {"turn": 1}, idempotency_key="s")  # the retry
    assert store.load_checkpoint(t, "c1").state == {"turn": 2}  # type: ignore[union-attr]


def test_deleting_the_thread_deletes_its_keys(store: StateStore) -> None:
    t = _thread(store)
    store.append_message(t, "user", "x", idempotency_key="k")
    store.delete_thread(t)
    assert store.backend.count_idempotency_keys(2**62) == 0
    _thread(store)
    again = store.append_message(t, "user", "other", idempotency_key="k")
    assert [m.id for m in store.list_all_messages(t)] == [again]


def test_a_key_whose_message_was_cleared_appends_again(store: StateStore) -> None:
    t = _thread(store)
    store.append_message(t, "user", "x", idempotency_key="k")
    store.clear_messages(t)
    new = store.append_message(t, "user", "x", idempotency_key="k")
    assert [m.id for m in store.list_all_messages(t)] == [new]


def test_an_expired_key_is_forgotten(make_store: StoreFactory) -> None:
    now = [1_000_000]
    store = make_store(clock=lambda: now[0], idempotency_ttl=60)
    t = _thread(store)
    first = store.append_message(t, "user", "x", idempotency_key="k")
    now[0] += 59
    assert store.append_message(t, "user", "x", idempotency_key="k") == first
    now[0] += 2
    assert store.append_message(t, "user", "x", idempotency_key="k") != first
    assert store.backend.purge_idempotency_keys(now[0] - 60, 100) == 0
    now[0] += 120
    assert store.backend.purge_idempotency_keys(now[0] - 60, 100) == 1


def test_bad_keys_and_missing_threads_are_refused(store: StateStore) -> None:
    t = _thread(store)
    with pytest.raises(InvalidRecord):
        store.append_message(t, "user", "x", idempotency_key="")
    with pytest.raises(TypeError):
        store.append_message(t, "user", "x", idempotency_key=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidRecord):
        store.append_message(t, "user", "x", idempotency_key="k" * 257)
    with pytest.raises(NotFound):
        store.append_message("nope", "user", "x", idempotency_key="k")
    with pytest.raises(NotFound):
        store.fork_at_message(12345, "user", "x", idempotency_key="k")
    assert store.list_all_messages(t) == []


def test_a_bad_idempotency_ttl_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    for bad in (-1, 0, float("inf")):
        with pytest.raises(InvalidRecord):
            StateStore.open(tmp_path / "state.db", idempotency_ttl=bad)
    with pytest.raises(TypeError):
        StateStore.open(tmp_path / "state.db", idempotency_ttl="1d")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_a_retry_in_a_transaction_that_rolls_back_leaves_no_key(store: StateStore) -> None:
    t = _thread(store)
    with pytest.raises(RuntimeError), store.transaction():
        store.append_message(t, "user", "x", idempotency_key="k")
        raise RuntimeError
    first = store.append_message(t, "user", "x", idempotency_key="k")
    assert [m.id for m in store.list_all_messages(t)] == [first]


def test_duplicate_appends_from_several_processes_make_one_message(target: str) -> None:
    with StateStore.open(target) as store:
        _thread(store)
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    from tests.lifecycle.workers import append_with_key

    procs = [
        ctx.Process(target=append_with_key, args=(target, "t1", "turn-1", start, out))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert all(kind == "ok" for kind, _ in results), results
    assert len({value for _, value in results}) == 1
    with StateStore.open(target) as store:
        messages = store.list_all_messages("t1")
        assert [m.id for m in messages] == [results[0][1]]


def test_a_process_killed_after_commit_then_retried_makes_one_message(target: str) -> None:
    with StateStore.open(target) as store:
        _thread(store)
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from tests.lifecycle.workers import append_then_die; "
            "append_then_die(sys.argv[1], 't1', 'turn-7')",
            target,
        ],
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr.decode()
    with StateStore.open(target) as store:
        retried = store.append_message("t1", "user", "once", idempotency_key="turn-7")
        assert [m.id for m in store.list_all_messages("t1")] == [retried]


def test_keys_left_by_a_deletion_without_foreign_keys_are_purged(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        _thread(store)
        store.append_message("t1", "user", "x", idempotency_key="k")
    # The original deletes with foreign keys off: the key row stays behind.
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM messages WHERE thread_id = 't1'")
        conn.execute("DELETE FROM threads WHERE id = 't1'")
    conn.close()
    with StateStore.open(path) as store:
        assert store.backend.count_idempotency_keys(0) == 1  # not expired, but orphaned
        _thread(store, "t2")
        store.append_message("t2", "user", "x", idempotency_key="k")
        assert store.run_retention().keys == 1  # the orphan only
        _thread(store)  # the same id again: the key is gone
        new = store.append_message("t1", "user", "y", idempotency_key="k")
        assert [m.id for m in store.list_all_messages("t1")] == [new]
