"""Reading a long branch page by page: ``list_messages(before=...)`` and
``iter_messages``, on every backend (the ``store`` contract fixture).

Pages continue from the oldest message of the page before (keyset pagination on the
parent links): they cover exactly the branch ``list_messages`` lists, in order,
whatever the page size, and messages appended meanwhile do not shift them.
"""

from __future__ import annotations

import pytest

from threadloom import CorruptData, InvalidRecord, NotFound, StateStore, ThreadMetadata


def _chain(store: StateStore, count: int, thread_id: str = "t1") -> list[int]:
    store.upsert_thread(ThreadMetadata.create(thread_id, now=100))
    with store.transaction():
        return [store.append_message(thread_id, "user", f"m{i}", {"i": i}) for i in range(count)]


def test_pages_before_a_message_walk_up_its_branch(store: StateStore) -> None:
    ids = _chain(store, 10)
    page = store.list_messages("t1", 3, before=ids[7])
    assert [m.id for m in page] == ids[4:7]
    assert [m.item for m in page] == [{"i": 4}, {"i": 5}, {"i": 6}]
    assert [m.id for m in store.list_messages("t1", 3, before=str(ids[4]))] == ids[1:4]
    assert [m.id for m in store.list_messages("t1", 3, before=ids[1])] == ids[:1]
    assert store.list_messages("t1", 3, before=ids[0]) == []
    assert store.list_messages("t1", 0, before=ids[5]) == []
    # The page is the one list_messages gives from the leaf for the same messages.
    assert store.list_messages("t1", 10, before=ids[9]) == store.list_messages("t1", 10)[:-1]


def test_a_page_follows_the_branch_of_its_cursor(store: StateStore) -> None:
    ids = _chain(store, 5)
    fork = store.fork_at_message(ids[1], "assistant", "other")
    child = store.append_message("t1", "user", "after fork")
    assert [m.id for m in store.list_messages("t1", 10, before=child)] == [*ids[:2], fork]
    # An older branch stays readable from its own messages.
    assert [m.id for m in store.list_messages("t1", 10, before=ids[4])] == ids[:4]


def test_a_cursor_outside_the_thread_is_not_found(store: StateStore) -> None:
    ids = _chain(store, 3)
    other = _chain(store, 2, "t2")
    with pytest.raises(NotFound, match=str(other[1])):
        store.list_messages("t1", 5, before=other[1])
    with pytest.raises(NotFound):
        store.list_messages("t1", 5, before=ids[-1] + 1000)
    with pytest.raises(InvalidRecord):
        store.list_messages("t1", 5, before="x")


@pytest.mark.parametrize("page_size", [1, 3, 7, 10, 11, 500])
def test_iter_messages_yields_the_branch_newest_first(store: StateStore, page_size: int) -> None:
    _chain(store, 10)
    expected = store.list_messages("t1", 500)[::-1]
    assert list(store.iter_messages("t1", page_size=page_size)) == expected


def test_iter_messages_is_not_shifted_by_appends(store: StateStore) -> None:
    ids = _chain(store, 6)
    seen = []
    for message in store.iter_messages("t1", page_size=2):
        seen.append(message.id)
        store.append_message("t1", "user", "meanwhile")
    assert seen == ids[::-1]


def test_iter_messages_of_an_empty_or_missing_thread(store: StateStore) -> None:
    store.upsert_thread(ThreadMetadata.create("empty", now=1))
    assert list(store.iter_messages("empty")) == []
    assert list(store.iter_messages("missing")) == []
    with pytest.raises(InvalidRecord):
        store.iter_messages("empty", page_size=0)
    with pytest.raises(InvalidRecord):
        store.iter_messages("empty", page_size=-1)


def test_iter_messages_ends_a_cycle_across_pages(store: StateStore) -> None:
    from tests.test_branch_walk import _sql

    ids = _chain(store, 10)
    # The root's parent becomes the leaf: every page is full, forever, without a check.
    _sql(store, "UPDATE messages SET parent_entry_id = %s WHERE id = %s", ids[9], ids[0])
    seen = 0
    with pytest.raises(CorruptData, match="cycle"):
        for _ in store.iter_messages("t1", page_size=3):
            seen += 1
            assert seen < 100
