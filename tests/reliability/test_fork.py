"""Scenario 9: a store opened before ``os.fork()`` works in the parent and the child."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import pytest

from threadloom import StateStore, ThreadMetadata

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
