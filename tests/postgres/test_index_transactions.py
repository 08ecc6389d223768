"""Session-index entries survive a rolled-back transaction, on every backend alike."""

from __future__ import annotations

import pytest

from threadloom import StateStore, ThreadMetadata


def test_index_entries_outlive_a_rollback(store: StateStore) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.upsert_thread(ThreadMetadata.create("t1", name="Alpha", cwd="/w"))
        assert store.find_thread_name_by_id("t1") == "Alpha"  # visible inside
        raise RuntimeError("boom")
    assert store.get_thread("t1") is None
    assert store.find_thread_name_by_id("t1") == "Alpha"


def test_nested_rollback_keeps_entries_and_order(store: StateStore) -> None:
    store.upsert_thread(ThreadMetadata.create("t1", name="Alpha", cwd="/w"))
    with store.transaction():
        with pytest.raises(RuntimeError), store.transaction():
            store.append_thread_name("t1", "Beta", 2)
            raise RuntimeError("inner")
        assert store.find_thread_name_by_id("t1") == "Beta"
        store.append_thread_name("t2", "Gamma", 3)
    with pytest.raises(RuntimeError), store.transaction():
        store.append_thread_name("t1", "Delta", 4)
        raise RuntimeError("outer")
    names = {e.thread_id: e.thread_name for e in store.session_index_entries()}
    assert names == {"t1": "Delta", "t2": "Gamma"}
    assert store.find_thread_path_by_name_str("alpha") is None  # renamed since
