"""Importing an export: once per store, nothing left behind by a failure (issue 10).

Point 7 (the same export imported twice is refused unless ``as_new``; a failed import
leaves no session-index line) and the "smaller" point on a ``current_leaf_id`` that
points nowhere, on every backend.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import StoreFactory
from threadloom import Conflict, StateStore
from threadloom.cli.demo import create_demo
from threadloom.transfer import AlreadyImported, NotAnExport, build_document, import_document


def _state(store: StateStore) -> dict[str, Any]:
    threads = sorted(t.id for t in store.iter_threads(include_archived=True))
    return {
        "threads": threads,
        "messages": {t: len(store.list_all_messages(t)) for t in threads},
        "index": sorted(store.session_index_entries(), key=repr),
    }


def _document(make_store: StoreFactory) -> dict[str, Any]:
    source = make_store()
    main_id = create_demo(source, now=1_750_000_000)[0]
    return build_document(source, main_id)


def test_importing_the_same_export_twice_is_refused(make_store: StoreFactory) -> None:
    doc = _document(make_store)
    thread_id = doc["thread"]["id"]
    store = make_store()
    first = import_document(store, doc)
    assert first.thread_id == thread_id and not first.remapped
    once = _state(store)
    with pytest.raises(
        AlreadyImported, match=f"thread {thread_id} is already in this store.*as_new=True"
    ):
        import_document(store, doc)
    assert _state(store) == once
    # Asked for explicitly: a new thread with a fresh id and the same conversation.
    again = import_document(store, doc, as_new=True)
    assert again.thread_id != thread_id and again.original_thread_id == thread_id
    assert len(_state(store)["threads"]) == 2
    copied = build_document(store, again.thread_id)
    assert [m["content"] for m in copied["messages"]] == [m["content"] for m in doc["messages"]]
    assert store.find_thread_name_by_id(again.thread_id) == doc["session_index_name"]


def test_an_export_of_this_store_is_refused_too(store: StateStore) -> None:
    main_id = create_demo(store, now=1_750_000_000)[0]
    before = _state(store)
    with pytest.raises(AlreadyImported):
        import_document(store, build_document(store, main_id))
    assert _state(store) == before


def test_a_failed_import_leaves_no_session_index_line(make_store: StoreFactory) -> None:
    doc = _document(make_store)
    thread_id = doc["thread"]["id"]
    broken = copy.deepcopy(doc)
    # The last message's parent comes later than it: found mid-import.
    last = max(broken["messages"], key=lambda m: m["id"])
    first = min(broken["messages"], key=lambda m: m["id"])
    first["parent_entry_id"] = last["id"]
    store = make_store()
    before = _state(store)
    with pytest.raises(Conflict, match="not an earlier message"):
        import_document(store, broken)
    assert _state(store) == before
    assert store.find_thread_name_by_id(thread_id) is None
    # The good document then imports, with its name once.
    import_document(store, doc)
    assert store.find_thread_name_by_id(thread_id) == doc["session_index_name"]


def test_an_interrupted_import_leaves_no_session_index_line(
    make_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _document(make_store)
    store = make_store()
    before = _state(store)

    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C after the thread and messages were written

    # Inside the import's one transaction, after the thread and messages.
    monkeypatch.setattr(type(store.backend), "save_checkpoint", interrupt)
    with pytest.raises(KeyboardInterrupt):
        import_document(store, doc)
    assert _state(store) == before


def test_a_current_leaf_that_points_nowhere_is_refused(make_store: StoreFactory) -> None:
    doc = _document(make_store)
    store = make_store()
    before = _state(store)
    for leaf in (10**9, -1):
        broken = copy.deepcopy(doc)
        broken["thread"]["current_leaf_id"] = leaf
        with pytest.raises(NotAnExport, match=f"current_leaf_id {leaf} is not one of its"):
            import_document(store, broken)
        assert _state(store) == before
