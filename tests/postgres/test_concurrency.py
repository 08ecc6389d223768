"""Real processes writing to PostgreSQL at once: no errors, no losses, single chains.

The figures (messages per second) are printed for the record (``pytest -s``); nothing
asserts on time.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from threadloom import StateStore, ThreadMetadata

from ._workers import append_many

pytestmark = pytest.mark.postgres

WRITERS = 8
PER_WRITER = 25


def _run(dsn: str, thread_ids: list[str]) -> list[dict[str, Any]]:
    # fork is cheap; the parent holds no store (no pool threads) while it forks.
    ctx = multiprocessing.get_context("fork")
    jobs = [(dsn, thread_ids[w % len(thread_ids)], w, PER_WRITER) for w in range(WRITERS)]
    with ctx.Pool(WRITERS) as pool:
        return pool.starmap(append_many, jobs)


def _assert_single_chain(store: StateStore, thread_id: str, expected: set[int]) -> None:
    everything = store.list_all_messages(thread_id)
    assert {m.id for m in everything} == expected
    branch = store.list_messages(thread_id, 10**6)
    # One chain holding every message: each message's parent is the one before it.
    assert [m.id for m in branch] == sorted(expected)
    assert [m.parent_entry_id for m in branch] == [None, *[m.id for m in branch[:-1]]]
    assert len(store.list_leaf_messages(thread_id)) == 1


def _report(label: str, results: list[dict[str, Any]]) -> None:
    total = sum(len(r["ids"]) for r in results)
    slowest = max(r["seconds"] for r in results)
    print(f"\n{label}: {total} appends by {WRITERS} processes, {total / slowest:.0f}/s")


def test_eight_writers_on_one_thread(pg_dsn: str) -> None:
    with StateStore.open(pg_dsn) as store:
        store.upsert_thread(ThreadMetadata.create("shared", cwd="/w"))
    results = _run(pg_dsn, ["shared"])
    with StateStore.open(pg_dsn) as store:
        assert [e for r in results for e in r["errors"]] == []
        ids = [i for r in results for i in r["ids"]]
        assert len(ids) == len(set(ids)) == WRITERS * PER_WRITER
        _assert_single_chain(store, "shared", set(ids))
        # Each writer's own messages are in its own order on the chain.
        order = {m.id: k for k, m in enumerate(store.list_messages("shared", 10**6))}
        for r in results:
            assert [order[i] for i in r["ids"]] == sorted(order[i] for i in r["ids"])
    _report("one thread", results)


def test_eight_writers_on_separate_threads(pg_dsn: str) -> None:
    thread_ids = [f"t{w}" for w in range(WRITERS)]
    with StateStore.open(pg_dsn) as store:
        for thread_id in thread_ids:
            store.upsert_thread(ThreadMetadata.create(thread_id, cwd="/w"))
    results = _run(pg_dsn, thread_ids)
    with StateStore.open(pg_dsn) as store:
        assert [e for r in results for e in r["errors"]] == []
        for thread_id, r in zip(thread_ids, results, strict=True):
            assert len(r["ids"]) == PER_WRITER
            _assert_single_chain(store, thread_id, set(r["ids"]))
            assert [m.content for m in store.list_messages(thread_id, 10**6)] == [
                f"w{thread_ids.index(thread_id)}-{n}" for n in range(PER_WRITER)
            ]
    _report("separate threads", results)
