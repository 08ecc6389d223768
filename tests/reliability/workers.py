"""Worker process bodies of the reliability suite (importable, so ``spawn`` can run them).

Each worker opens its own store, like an independent agent process would, and sends
its results back on a queue: what it did, what returned, and every exception as text
(an exception in a worker is a result to assert on, not a crash to lose).
"""

from __future__ import annotations

import fcntl
import itertools
import os
import traceback
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Event
from typing import Any

from threadloom import StateStore, ThreadMetadata

#: Seconds a worker waits at a barrier before giving up (a stuck peer, not a slow one).
BARRIER_TIMEOUT = 300

__all__ = [
    "append_writer",
    "branch_reader",
    "flock_holder",
    "index_appender",
    "index_compactor",
    "transaction_holder",
]


def _error(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def append_writer(
    db: str,
    thread_id: str,
    count: int,
    tag: str,
    go: Event,
    out: Queue[dict[str, Any]],
    upsert_every: int = 0,
) -> None:
    """Append ``count`` messages to ``thread_id``; report the returned ids and errors.

    With ``upsert_every``, the thread is also upserted (a session-index entry each
    time) every that many appends, as the original application does per turn.
    """
    ids: list[int] = []
    errors: list[str] = []
    upserts = 0
    try:
        with StateStore.open(db) as store:
            go.wait()
            for i in range(count):
                try:
                    ids.append(store.append_message(thread_id, "user", f"{tag}-{i}"))
                    if upsert_every and i % upsert_every == 0:
                        store.upsert_thread(
                            ThreadMetadata.create(thread_id, name=f"{tag}-{i}", now=i + 1)
                        )
                        upserts += 1
                except Exception as exc:
                    errors.append(_error(exc))
    except Exception as exc:
        errors.append(_error(exc))
    out.put({"tag": tag, "ids": ids, "upserts": upserts, "errors": errors})


def branch_reader(db: str, thread_ids: list[str], stop: Event, out: Queue[dict[str, Any]]) -> None:
    """Read every thread's branch inside a snapshot until ``stop``; check each read.

    A read is consistent when the branch is one contiguous chain from a root
    (``parent_entry_id`` of each message is the previous message) that ends at the
    thread's ``current_leaf_id`` read in the same snapshot, and ``list_threads`` names
    each thread once, most recently updated first. Each read is reported as
    ``(thread, length, last id)`` so the parent can check it is a prefix of the final
    chain.
    """
    reads: list[tuple[str, int, int]] = []
    problems: list[str] = []
    list_calls = 0
    try:
        with StateStore.open(db) as store:
            while not stop.is_set():
                with store.snapshot():
                    listed = store.list_threads(include_archived=True, limit=1000)
                    list_calls += 1
                    ids = [t.id for t in listed]
                    if len(ids) != len(set(ids)):
                        problems.append(f"list_threads repeated a thread: {ids}")
                    stamps = [t.updated_at for t in listed]
                    if stamps != sorted(stamps, reverse=True):
                        problems.append(f"list_threads out of order: {stamps}")
                    for thread_id in thread_ids:
                        thread = store.get_thread(thread_id)
                        branch = store.list_messages(thread_id, 10**9)
                        if thread is None:
                            problems.append(f"thread {thread_id} vanished")
                            continue
                        if not branch:
                            if thread.current_leaf_id is not None:
                                problems.append(f"{thread_id}: leaf set but branch empty")
                            continue
                        if branch[0].parent_entry_id is not None:
                            problems.append(f"{thread_id}: branch does not start at a root")
                        for prev, cur in itertools.pairwise(branch):
                            if cur.parent_entry_id != prev.id:
                                problems.append(f"{thread_id}: gap after message {prev.id}")
                                break
                        if branch[-1].id != thread.current_leaf_id:
                            problems.append(
                                f"{thread_id}: branch ends at {branch[-1].id}, "
                                f"leaf is {thread.current_leaf_id}"
                            )
                        reads.append((thread_id, len(branch), branch[-1].id))
    except Exception as exc:
        problems.append(_error(exc))
    out.put({"reads": reads, "problems": problems, "list_calls": list_calls})


def index_appender(
    db: str,
    tag: str,
    count: int,
    rounds: Barrier,
    every: int,
    out: Queue[dict[str, Any]],
    compact_every: int = 0,
) -> None:
    """Append ``count`` session-index entries of distinct threads ``<tag>-<i>``.

    Before entry ``i`` (``i`` a positive multiple of ``every``) the appender meets the
    others and the compactor at ``rounds``: the compactor compacts once per round,
    while the appenders write the next ``every`` entries, so compactions are
    interleaved with appends by construction, not by luck of scheduling. With
    ``compact_every``, this appender also compacts every that many entries itself.
    """
    errors: list[str] = []
    done = 0
    compactions = 0
    try:
        with StateStore.open(db) as store:
            for i in range(count):
                if i and i % every == 0:
                    rounds.wait(BARRIER_TIMEOUT)
                try:
                    store.append_thread_name(f"{tag}-{i}", f"name {tag} {i}", i, f"/r/{tag}/{i}")
                    done += 1
                    if compact_every and i % compact_every == compact_every - 1:
                        store.compact_session_index()
                        compactions += 1
                except Exception as exc:
                    errors.append(_error(exc))
    except Exception as exc:
        rounds.abort()  # the others must not wait for a round this one never reaches
        errors.append(_error(exc))
    out.put({"tag": tag, "done": done, "compactions": compactions, "errors": errors})


def index_compactor(db: str, rounds: Barrier, count: int, out: Queue[dict[str, Any]]) -> None:
    """Compact the session index once per round of ``rounds``, ``count`` rounds.

    Reports each compaction's ``lines_after``: the entries it kept, which must
    include every entry the appenders wrote before the round began.
    """
    errors: list[str] = []
    kept: list[int] = []
    try:
        with StateStore.open(db) as store:
            for _ in range(count):
                rounds.wait(BARRIER_TIMEOUT)
                try:
                    kept.append(store.compact_session_index().lines_after)
                except Exception as exc:
                    errors.append(_error(exc))
    except Exception as exc:
        rounds.abort()
        errors.append(_error(exc))
    out.put({"compactions": len(kept), "kept": kept, "errors": errors})


def transaction_holder(db: str, thread_id: str, ready: Event, release: Event) -> None:
    """Hold a write transaction (after one append) until ``release`` is set."""
    with StateStore.open(db) as store, store.transaction():
        store.append_message(thread_id, "user", "held")
        ready.set()
        release.wait(600)


def flock_holder(lock_path: str, ready: Event, release: Event) -> None:
    """Hold the session index's exclusive lock until ``release`` (a stuck process)."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        ready.set()
        release.wait(600)
    finally:
        os.close(fd)
