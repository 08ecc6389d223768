"""Scenario 1: concurrent writer processes, with readers checking every snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from threadloom import StateStore, ThreadMetadata

from ._support import check_integrity, record, spawn
from .workers import append_writer, branch_reader

WRITERS = 8
APPENDS = 500
READERS = 2


def _run(db: Path, thread_of: list[str], upsert_every: int) -> tuple[list[Any], list[Any]]:
    ctx = spawn()
    out: Any = ctx.Queue()
    reads_out: Any = ctx.Queue()
    go = ctx.Event()
    stop = ctx.Event()
    writers = [
        ctx.Process(
            target=append_writer,
            args=(str(db), thread_of[w], APPENDS, f"w{w}", go, out, upsert_every),
        )
        for w in range(WRITERS)
    ]
    readers = [
        ctx.Process(target=branch_reader, args=(str(db), sorted(set(thread_of)), stop, reads_out))
        for _ in range(READERS)
    ]
    for proc in writers + readers:
        proc.start()
    go.set()
    # Results are drained before join(): a child blocks on exit until its queue is read.
    results = [out.get(timeout=300) for _ in writers]
    stop.set()
    reads = [reads_out.get(timeout=300) for _ in readers]
    for proc in writers + readers:
        proc.join(60)
        assert proc.exitcode == 0
    return results, reads


def _check(db: Path, threads: list[str], results: list[Any], reads: list[Any]) -> dict[str, int]:
    errors = [e for r in results for e in r["errors"]]
    assert errors == []
    acknowledged = {i for r in results for i in r["ids"]}
    assert len(acknowledged) == WRITERS * APPENDS
    check_integrity(db)
    chain_pos: dict[int, int] = {}
    with StateStore.open(db) as store:
        present: set[int] = set()
        contents: set[str] = set()
        for thread_id in threads:
            everything = store.list_all_messages(thread_id)
            branch = store.list_messages(thread_id, 10**9)
            # One chain: the branch holds every message of the thread and has one tip.
            assert [m.id for m in branch] == sorted(m.id for m in everything)
            assert len(store.list_leaf_messages(thread_id)) == 1
            for pos, message in enumerate(branch):
                chain_pos[message.id] = pos
            present |= {m.id for m in everything}
            contents |= {m.content for m in everything}
    assert acknowledged <= present
    assert contents == {f"w{w}-{i}" for w in range(WRITERS) for i in range(APPENDS)}
    problems = [p for r in reads for p in r["problems"]]
    assert problems == []
    samples = [s for r in reads for s in r["reads"]]
    assert samples, "the readers never read"
    for _thread, length, last_id in samples:
        # The read ended at a message of the final chain, at the same depth: it was
        # exactly a prefix of the final chain.
        assert chain_pos[last_id] == length - 1
    return {
        "appends": len(acknowledged),
        "upserts": sum(r["upserts"] for r in results),
        "snapshot_reads": len(samples),
        "list_threads_calls": sum(r["list_calls"] for r in reads),
        "losses": len(acknowledged - present),
        "errors": len(errors),
    }


@pytest.mark.slow
def test_eight_writers_one_thread(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with StateStore.open(db) as store:
        store.upsert_thread(ThreadMetadata.create("shared", name="shared"))
    results, reads = _run(db, ["shared"] * WRITERS, upsert_every=0)
    figures = _check(db, ["shared"], results, reads)
    record(
        "1-same-thread",
        writer_processes=WRITERS,
        reader_processes=READERS,
        **figures,
    )


@pytest.mark.slow
def test_eight_writers_eight_threads(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    threads = [f"t{w}" for w in range(WRITERS)]
    with StateStore.open(db) as store:
        for thread_id in threads:
            store.upsert_thread(ThreadMetadata.create(thread_id, now=0))
    results, reads = _run(db, threads, upsert_every=50)
    figures = _check(db, threads, results, reads)
    with StateStore.open(db) as store:
        # Every upsert also appended a session-index entry; none is torn or lost.
        health = store.session_index_health()
        assert health.skipped_lines == 0
        assert not health.torn_tail
        assert health.lines == WRITERS * (1 + APPENDS // 50)
        for w in range(WRITERS):
            assert store.find_thread_name_by_id(f"t{w}") == f"w{w}-{APPENDS - 50}"
    record(
        "1-eight-threads",
        writer_processes=WRITERS,
        reader_processes=READERS,
        index_lines=health.lines,
        **figures,
    )
