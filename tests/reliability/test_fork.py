"""Scenario 9: a store opened before ``os.fork()`` works in the parent and the child."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
from pathlib import Path

import pytest

from tests.support.processes import exit_code
from threadloom import StateStore, ThreadloomError, ThreadMetadata

from ._support import check_integrity, record

ROUNDS = 5
PER_SIDE = 50


def _child_body(store: StateStore, round_no: int, report: int) -> int:
    """What the child does; its exit status says whether it worked (0) or not (1).

    Each id an append returned is written to the ``report`` pipe as it returns, so the
    parent counts what the child had acknowledged.
    """
    try:
        # The child sees everything the parent wrote before the fork...
        if f"p{round_no}-pre" not in {m.content for m in store.list_all_messages("t")}:
            return 1
        for i in range(PER_SIDE):
            os.write(report, b"%d\n" % store.append_message("t", "user", f"c{round_no}-{i}"))
        store.append_thread_name(f"child-{round_no}", f"child {round_no}", round_no)
        return 0
    except BaseException as exc:  # report, then fail the exit status
        print(f"child failed: {exc!r}", file=sys.stderr)
        return 1


@pytest.mark.parametrize("exit_kind", ["os._exit", "close"])
def test_store_survives_fork(tmp_path: Path, exit_kind: str) -> None:
    db = tmp_path / "state.db"
    store = StateStore.open(db)
    store.upsert_thread(ThreadMetadata.create("t", name="forked"))
    parent_ids: list[int] = []
    child_ids: list[int] = []
    forks = 0
    for round_no in range(ROUNDS):
        parent_ids.append(store.append_message("t", "user", f"p{round_no}-pre"))
        read_end, write_end = os.pipe()
        # A parent connection is open and was just used, as in an app forking workers.
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(read_end)
            status = _child_body(store, round_no, write_end)
            if exit_kind == "close":
                # As at a normal interpreter exit: the child closes the store and the
                # objects it inherited are finalized (sys.exit itself would unwind
                # into pytest, which runs on in the child).
                store.close()
                gc.collect()
            os._exit(status)
        forks += 1
        os.close(write_end)
        # Parent writes while the child writes.
        for i in range(PER_SIDE):
            parent_ids.append(store.append_message("t", "user", f"p{round_no}-{i}"))
        with os.fdopen(read_end, "rb") as reported:
            child_ids += [int(line) for line in reported.read().split()]
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # The parent sees the child's writes and goes on using its own connection.
        contents = {m.content for m in store.list_all_messages("t")}
        assert {f"c{round_no}-{i}" for i in range(PER_SIDE)} <= contents
        assert store.find_thread_name_by_id(f"child-{round_no}") == f"child {round_no}"
        store.append_thread_name(f"parent-{round_no}", "p", round_no)
    branch = store.list_messages("t", 10**9)
    present = {m.id for m in store.list_all_messages("t")}
    losses = len(set(parent_ids + child_ids) - present)
    assert losses == 0
    assert len(branch) == len(parent_ids) + len(child_ids) == ROUNDS * (2 * PER_SIDE + 1)
    assert [m.id for m in branch] == sorted(present)
    assert store.session_index_health().skipped_lines == 0
    store.close()
    check_integrity(db)
    record(
        f"9-fork-{exit_kind}",
        forks=forks,
        parent_appends=len(parent_ids),
        child_appends=len(child_ids),
        losses=losses,
    )


def test_fork_inside_a_transaction_child_starts_clean(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with StateStore.open(db) as store:
        store.upsert_thread(ThreadMetadata.create("t"))
        with store.transaction():
            store.append_message("t", "user", "parent, uncommitted at fork")
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child
                ok = 1
                try:
                    # The child must not inherit the parent's transaction; it reads
                    # committed data only, and may write once the parent committed.
                    ok = 0 if store.list_messages("t") == [] else 1
                finally:
                    os._exit(ok)
            _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert [m.content for m in store.list_messages("t")] == ["parent, uncommitted at fork"]
    check_integrity(db)


def _db_descriptors(db: Path) -> set[tuple[str, str]]:
    """Descriptors of this process open on the database file, its -wal or its -shm."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(db)):
            found.add((fd, target))
    return found


def test_fork_while_another_thread_holds_the_registry_never_deadlocks(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = StateStore.open(db)
    store.upsert_thread(ThreadMetadata.create("t"))
    # The original registered each new connection under a lock, and a child forked while
    # another thread held it waited forever for it. Hold that lock, where there is one,
    # across the forks (today registering takes no lock). Other threads that used the
    # store are alive at each fork too, and some ended before it.
    lock = getattr(store.backend._conns, "_registry_lock", None)  # type: ignore[attr-defined]
    used = threading.Barrier(2)
    locked = threading.Event()
    stop = threading.Event()

    def hold() -> None:
        store.get_thread("t")
        used.wait()
        with lock if lock is not None else contextlib.nullcontext():
            locked.set()
            stop.wait()

    def idle() -> None:
        store.get_thread("t")
        used.wait()
        stop.wait()

    ended = threading.Thread(target=store.get_thread, args=("t",))
    ended.start()
    ended.join()
    helpers = [threading.Thread(target=hold), threading.Thread(target=idle)]
    for helper in helpers:
        helper.start()
    locked.wait()
    codes = []
    try:
        for round_no in range(ROUNDS):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child
                status = 1
                try:
                    store.append_message("t", "user", f"child {round_no}")
                    reader = threading.Thread(target=store.get_thread, args=("t",))
                    reader.start()
                    reader.join()
                    store.close()
                    status = 0
                except BaseException as exc:
                    print(f"child failed: {exc!r}", file=sys.stderr)
                finally:
                    os._exit(status)
            codes.append(exit_code(pid))
    finally:
        stop.set()
        for helper in helpers:
            helper.join()
    assert codes == [0] * ROUNDS
    store.append_message("t", "user", "parent")
    contents = [m.content for m in store.list_all_messages("t")]
    assert contents == [f"child {n}" for n in range(ROUNDS)] + ["parent"]
    store.close()
    check_integrity(db)


@pytest.mark.parametrize("ending", ["close", "garbage collection"])
def test_child_never_closes_the_connections_it_inherited(tmp_path: Path, ending: str) -> None:
    db = tmp_path / "state.db"
    store = StateStore.open(db)
    store.upsert_thread(ThreadMetadata.create("t"))
    # Threads with open connections at the fork: the child inherits those connections
    # too, and CPython drops those threads' thread-local storage in the child.
    ready = threading.Barrier(4)
    release = threading.Event()

    def worker() -> None:
        store.get_thread("t")
        ready.wait()
        release.wait()

    workers = [threading.Thread(target=worker) for _ in range(3)]
    for w in workers:
        w.start()
    ready.wait()
    store.append_message("t", "user", "parent before")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        status = 1
        try:
            inherited = _db_descriptors(db)
            store.append_message("t", "user", "child")
            assert _db_descriptors(db) > inherited  # the child opened its own
            assert inherited, "no inherited descriptors to watch"
            if ending == "close":
                store.close()
            else:
                del store
            gc.collect()
            # The inherited connections were neither used nor closed (closing them is
            # what SQLite warns can corrupt the file): their descriptors are all open.
            left = _db_descriptors(db)
            status = 0 if inherited <= left else 2
            if status:
                print(f"child closed inherited {inherited - left}", file=sys.stderr)
        except BaseException as exc:
            print(f"child failed: {exc!r}", file=sys.stderr)
        finally:
            os._exit(status)
    assert exit_code(pid) == 0
    # The parent's connections, this thread's and the workers', work as before.
    store.append_message("t", "user", "parent after")
    results: list[object] = []
    release.set()
    for w in workers:
        w.join()
    reader = threading.Thread(target=lambda: results.append(store.list_all_messages("t")))
    reader.start()
    reader.join()
    expected = ["parent before", "child", "parent after"]
    assert [m.content for m in store.list_all_messages("t")] == expected
    assert [[m.content for m in r] for r in results] == [expected]  # type: ignore[attr-defined]
    store.close()
    check_integrity(db)


def test_child_leaving_a_transaction_opened_before_fork_touches_nothing(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = StateStore.open(db)
    store.upsert_thread(ThreadMetadata.create("t"))
    block = store.transaction()
    block.__enter__()
    store.append_message("t", "user", "parent, uncommitted at fork")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        status = 1
        try:
            # Leaving the parent's block normally would commit the parent's transaction
            # on the parent's connection, from a process that holds none of its locks.
            block.__exit__(None, None, None)
            status = 3
        except ThreadloomError as exc:
            status = 0 if "fork()" in str(exc) else 4
        finally:
            os._exit(status)
    assert exit_code(pid) == 0
    store.append_message("t", "user", "parent, same transaction")
    block.__exit__(None, None, None)
    assert [m.content for m in store.list_messages("t")] == [
        "parent, uncommitted at fork",
        "parent, same transaction",
    ]
    store.close()
    check_integrity(db)
