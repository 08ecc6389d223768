"""A first look: the quickstart flow works end to end on a real file."""

from __future__ import annotations

from threadloom import StateStore, ThreadMetadata


def test_branching_session_round_trip(store: StateStore) -> None:
    store.upsert_thread(ThreadMetadata.create("t1", name="Alpha", cwd="/w"))
    first = store.append_message("t1", "user", "hi", {"type": "text"})
    second = store.append_message("t1", "assistant", "hello")
    fork = store.fork_at_message(first, "assistant", "alt")
    assert [m.id for m in store.list_messages("t1")] == [first, fork]
    assert [m.id for m in store.list_leaf_messages("t1")] == [second, fork]
    store.set_current_leaf_id("t1", second)
    assert [m.content for m in store.list_messages("t1")] == ["hi", "hello"]
    assert store.find_thread_name_by_id("t1") == "Alpha"
