"""store.search on every backend: what is found, what never is, filters and paging."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threadloom import InvalidRecord, InvalidType, SearchHit, StateStore, ThreadMetadata


def _thread(store: StateStore, tid: str, name: str | None = None, preview: str = "") -> None:
    store.upsert_thread(ThreadMetadata.create(tid, name=name, cwd="/w", preview=preview))


def _ids(hits: list[SearchHit]) -> list[int | None]:
    return [h.message_id for h in hits]


def test_content_item_names_and_previews(store: StateStore) -> None:
    _thread(store, "t1", name="Migration lock fix", preview="the lock hangs")
    q = store.append_message("t1", "user", "Why does the migration lock hang?")
    a = store.append_message(
        "t1",
        "assistant",
        "Running the tests.",
        {
            "type": "function_call",
            "name": "run_tests",
            "arguments": '{"path": "tests/test_wal.py"}',
        },
    )
    hits = store.search("migration")
    assert [(h.message_id, h.matched_in) for h in hits] == [(None, "name"), (q, "content")]
    assert hits[0].thread_name == "Migration lock fix" and hits[0].role is None
    assert hits[1].marked() == "Why does the [migration] lock hang?"
    assert hits[1].role == "user" and hits[1].on_current_branch
    item = store.search("test_wal")
    assert [(h.message_id, h.matched_in) for h in item] == [(a, "item")]
    assert "[test]_[wal]" in item[0].marked()
    assert [h.matched_in for h in store.search("hangs")] == ["preview"]
    assert _ids(store.search("hangs", role="user")) == []


def test_folding_cjk_and_identifiers(store: StateStore) -> None:
    _thread(store, "t1")
    m1 = store.append_message("t1", "user", "Résumé of the STRASSE meeting")
    m2 = store.append_message("t1", "user", "東京都に住んでいます")
    m3 = store.append_message("t1", "user", "rename snake_case_name in src/threadloom/store.py")
    m4 = store.append_message("t1", "user", "the CamelCaseThing and getHTTPResponse")
    assert _ids(store.search("resume")) == [m1]
    assert _ids(store.search("straße")) == [m1]
    assert _ids(store.search("東京")) == [m2]
    assert _ids(store.search("京都")) == [m2]
    assert _ids(store.search("東都")) == []
    assert _ids(store.search("snake_case_name")) == [m3]
    assert _ids(store.search("case")) == [m4, m3]  # CamelCase holds "case" too
    assert _ids(store.search("src/threadloom/store.py")) == [m3]
    assert _ids(store.search("store.py")) == [m3]
    assert _ids(store.search("CamelCaseThing")) == [m4]
    assert _ids(store.search("camel")) == [m4]
    assert _ids(store.search("http response")) == [m4]
    assert store.search("camel")[0].marked().endswith("[CamelCaseThing] and getHTTPResponse")


def test_operators(store: StateStore) -> None:
    _thread(store, "t1")
    a = store.append_message("t1", "user", "the migration lock hangs")
    b = store.append_message("t1", "user", "lock the migration table")
    c = store.append_message("t1", "user", "migrations are slow")
    assert _ids(store.search('"migration lock"')) == [a]
    assert _ids(store.search("migration lock")) == [b, a]
    assert _ids(store.search("migration*")) == [c, b, a]
    assert _ids(store.search("migration -hangs")) == [b]
    assert _ids(store.search("hangs OR slow")) == [c, a]
    assert _ids(store.search('"lock migration"')) == []


def test_filters_paging_and_order(store: StateStore) -> None:
    clock = iter(range(1000, 2000))
    store._now = lambda: next(clock)
    _thread(store, "t1")
    _thread(store, "t2")
    ids = [
        store.append_message(f"t{1 + i % 2}", "user" if i % 3 else "tool", f"wal {i}")
        for i in range(12)
    ]
    assert _ids(store.search("wal", limit=50)) == ids[::-1]
    assert _ids(store.search("wal", thread_id="t2", limit=50)) == ids[1::2][::-1]
    assert _ids(store.search("wal", role="tool", limit=50)) == ids[::3][::-1]
    assert _ids(store.search("wal", since=1003, until=1005)) == ids[3:6][::-1]
    page = _ids(store.search("wal", limit=5, offset=5))
    assert page == ids[::-1][5:10]
    assert set(_ids(store.search("wal", order="relevance", limit=50))) == set(ids)
    store.mark_archived("t1")
    assert _ids(store.search("wal", limit=50)) == ids[1::2][::-1]
    assert len(store.search("wal", limit=50, include_archived=True)) == 12
    assert store.search("wal", limit=0) == []


def test_deleted_and_cleared_messages_are_never_hits(store: StateStore) -> None:
    _thread(store, "t1")
    _thread(store, "t2")
    store.append_message("t1", "user", "keep the wal")
    gone = store.append_message("t2", "user", "drop the wal")
    assert len(store.search("wal")) == 2  # both indexed
    store.clear_messages("t2")
    assert [h.thread_id for h in store.search("wal")] == ["t1"]
    store.append_message("t2", "user", "wal again")
    store.delete_thread("t2")
    assert [h.thread_id for h in store.search("wal")] == ["t1"]
    assert gone not in _ids(store.search("drop"))


def test_current_branch_and_renamed_threads(store: StateStore) -> None:
    _thread(store, "t1", name="First name")
    root = store.append_message("t1", "user", "question about wal")
    old = store.append_message("t1", "assistant", "first wal answer")
    new = store.fork_at_message(root, "assistant", "second wal answer")
    branch = {h.message_id: h.on_current_branch for h in store.search("wal")}
    assert branch == {root: True, old: False, new: True}
    store.set_current_leaf_id("t1", old)
    assert {h.message_id: h.on_current_branch for h in store.search("wal")}[old] is True
    assert [h.matched_in for h in store.search("first name")] == ["name"]
    meta = store.get_thread("t1")
    assert meta is not None
    from dataclasses import replace

    store.upsert_thread(replace(meta, name="Renamed"))
    assert store.search('"first name"') == []
    assert store.search("renamed")[0].thread_name == "Renamed"


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        "*",
        "NEAR(a b)",
        "a NEAR b",
        "content:wal",
        "{content}: wal",
        "^wal",
        "wal^",
        "(wal",
        "wal)",
        "AND",
        "NOT wal",
        "wal NOT",
        "- -",
        "'",
        "\\",
        "\x00wal",
        "wal\x00",
        "%",
        "_",
        "x" * 10_000,
        "wal " * 60,
        '"a" "b" "c"*',
    ],
)
def test_hostile_queries_never_raise_a_driver_error(store: StateStore, query: str) -> None:
    _thread(store, "t1")
    store.append_message("t1", "user", "wal content \x00 with nul")
    with contextlib.suppress(InvalidRecord):
        store.search(query)


def test_bad_arguments(store: StateStore) -> None:
    with pytest.raises(InvalidRecord):
        store.search("wal", limit=-1)
    with pytest.raises(InvalidRecord):
        store.search("wal", order="random")
    with pytest.raises(InvalidType):
        store.search("wal", limit="5")  # type: ignore[arg-type]
    with pytest.raises(InvalidType):
        store.search("wal", thread_id=5)  # type: ignore[arg-type]


def test_index_status_and_rebuild(store: StateStore) -> None:
    _thread(store, "t1")
    store.append_message("t1", "user", "one wal")
    store.append_message("t1", "user", "two wal")
    before = store.search_status()
    assert before.pending == 2 and before.newest_message >= 2
    seen: list[tuple[int, int]] = []
    assert store.update_search_index(batch_size=1, progress=lambda d, t: seen.append((d, t))) == 2
    assert seen == [(1, 2), (2, 2)]
    assert store.search_status().pending == 0
    assert store.update_search_index(rebuild=True) == 2
    assert len(store.search("wal")) == 2


_WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéü", min_size=3, max_size=8)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    secret=_word,
    messages=st.lists(
        st.tuples(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=6), st.booleans()),
        min_size=1,
        max_size=8,
    ),
    cut=st.integers(min_value=1, max_value=3),
)
def test_every_message_holding_a_word_is_found_by_it_and_its_prefix(
    store: StateStore, secret: str, messages: list[tuple[list[str], bool]], cut: int
) -> None:
    import uuid

    tid = uuid.uuid4().hex
    _thread(store, tid)
    holding = []
    for words, has_secret in messages:
        text = " ".join([*words, secret] if has_secret else words)
        mid = store.append_message(tid, "user", text.capitalize())
        if has_secret:
            holding.append(mid)
    found = {h.message_id for h in store.search(secret, thread_id=tid, limit=100)}
    assert found == set(holding)
    prefix = secret[: max(len(secret) - cut, 1)]
    by_prefix = {h.message_id for h in store.search(prefix + "*", thread_id=tid, limit=100)}
    assert set(holding) <= by_prefix
    store.clear_messages(tid)
    assert store.search(secret, thread_id=tid) == []


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=st.text(max_size=200))
def test_random_queries_never_raise_a_driver_error(store: StateStore, query: str) -> None:
    if not store.search_status().newest_message:
        _thread(store, "t1")
        store.append_message("t1", "user", "wal content")
    with contextlib.suppress(InvalidRecord):
        store.search(query)


def test_an_interrupted_reindex_resumes(store: StateStore) -> None:
    _thread(store, "t1")
    for i in range(5):
        store.append_message("t1", "user", f"wal {i}")

    def stop(done: int, total: int) -> None:
        if done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.update_search_index(rebuild=True, batch_size=2, progress=stop)
    assert store.search_status().pending == 3  # the first batch stayed
    assert store.update_search_index(batch_size=2) == 3
    assert len(store.search("wal")) == 5


def test_relevance_widens_its_window_until_it_holds_enough(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from threadloom.backends.postgres import search as pg_search
    from threadloom.backends.sqlite import search as sqlite_search

    monkeypatch.setattr(sqlite_search, "RANKED_WINDOW", 2)
    monkeypatch.setattr(pg_search, "RANKED_WINDOW", 2)
    _thread(store, "t1")
    _thread(store, "t2")
    best = store.append_message("t1", "user", "wal wal wal wal")
    others = [store.append_message("t2", "user", f"wal and {i} more words here") for i in range(20)]
    hits = store.search("wal", order="relevance", limit=50)
    assert {h.message_id for h in hits} == {best, *others}
    assert hits[0].message_id == best and hits[0].rank > hits[-1].rank > 0
    assert [h.message_id for h in store.search("wal", order="relevance", thread_id="t1")] == [best]
    assert all(h.rank == 0 for h in store.search("wal"))


def test_current_branch_flags_across_threads_in_one_page(store: StateStore) -> None:
    expected: dict[int, bool] = {}
    for tid in ("ta", "tb", "tc"):
        _thread(store, tid)
        root = store.append_message(tid, "user", f"{tid} wal root")
        old = store.append_message(tid, "assistant", f"{tid} wal old")
        new = store.fork_at_message(root, "assistant", f"{tid} wal new")
        expected.update({root: True, old: False, new: True})
    store.set_current_leaf_id("tc", old)  # tc back on its first branch
    expected.update({old: True, new: False})
    got = {h.message_id: h.on_current_branch for h in store.search("wal", limit=50)}
    assert got == expected
