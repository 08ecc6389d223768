"""Export, import and copy through the contract, the same on every backend (issue 11).

Each test runs on SQLite, PostgreSQL and a PostgreSQL pool (the ``store`` and
``make_store`` fixtures) with the same assertions: a thread with two root messages and
branches round-trips export → import → export to the same document, message ids
included; taken ids are renumbered alike everywhere; the transfer operations behave
alike.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StoreFactory
from threadloom import (
    Conflict,
    DynamicToolRecord,
    StateStore,
    ThreadGoalRecord,
    ThreadMetadata,
)
from threadloom.cli.demo import create_demo
from threadloom.contract import MessageRow, RowCount, ThreadImport
from threadloom.transfer import FORMATS, build_document, dumps, import_document, loads

#: Text PostgreSQL stores through an escape (NUL, and the escape character itself).
ODD = "nul\x00here \ufdd0 and \ufdd00"
NOW = 1_750_000_000


def _rich_document(make_store: StoreFactory) -> dict[str, Any]:
    """A thread with branches, then a second root message with a child (the leaf).

    Built through the facade on the parametrized backend (same-second checkpoints, a
    re-saved one, tools, a goal, text PostgreSQL escapes), then given the second root,
    which no facade call makes but an export of the original can hold.
    """
    source = make_store(clock=lambda: NOW)
    tid = "rich " + ODD
    source.upsert_thread(ThreadMetadata.create(tid, name=ODD, cwd="/w", now=NOW))
    first = source.append_message(tid, "user", ODD, {ODD: [1e300, -0.5]})
    source.append_message(tid, "assistant", "b")
    fork = source.fork_at_message(first, "assistant", "c")
    source.append_message(tid, "user", "d")
    source.fork_at_message(fork, "user", "e")
    for n in range(3):
        source.save_checkpoint(tid, f"c{n}", {"n": n})
    source.save_checkpoint(tid, "c0", {"n": "again"})  # latest again, in the same second
    source.persist_dynamic_tools(
        tid,
        [
            DynamicToolRecord(position=0, name=ODD, description=None, input_schema={"a": 1}),
            DynamicToolRecord(position=3, name="t", description="d", input_schema={}),
        ],
    )
    source.upsert_thread_goal(
        ThreadGoalRecord.from_dict(
            dict(thread_id=tid, goal_id="g", objective=ODD, status="paused", token_budget=9)
            | dict(tokens_used=3, time_used_seconds=4, created_at=1, updated_at=2)
        )
    )
    doc = build_document(source, tid)
    top = max(m["id"] for m in doc["messages"])
    for offset, parent in ((1, None), (2, top + 1)):
        doc["messages"].append(
            {
                "id": top + offset,
                "thread_id": tid,
                "role": "user",
                "content": f"second tree {offset}",
                "item": None,
                "created_at": NOW - 10 + offset,
                "parent_entry_id": parent,
            }
        )
    doc["thread"]["current_leaf_id"] = top + 2
    return doc


def _renumbered(doc: dict[str, Any], ids: dict[int, int], thread_id: str) -> dict[str, Any]:
    """``doc`` as it reads after an import under ``thread_id`` that renumbered ``ids``."""
    out = copy.deepcopy(doc)
    out["thread"]["id"] = thread_id
    out["thread"]["current_leaf_id"] = ids[doc["thread"]["current_leaf_id"]]
    for message in out["messages"]:
        message["thread_id"] = thread_id
        message["id"] = ids[message["id"]]
        if message["parent_entry_id"] is not None:
            message["parent_entry_id"] = ids[message["parent_entry_id"]]
    for checkpoint in out["checkpoints"]:
        checkpoint["thread_id"] = thread_id
    out["goal"]["thread_id"] = thread_id
    return out


def test_a_thread_with_two_roots_round_trips_with_its_ids(make_store: StoreFactory) -> None:
    doc = _rich_document(make_store)
    tid = doc["thread"]["id"]
    for fmt in FORMATS:
        store = make_store()
        report = import_document(store, loads(dumps(doc, fmt)))
        assert not report.remapped, fmt
        assert report.message_ids == {m["id"]: m["id"] for m in doc["messages"]}
        assert build_document(store, tid) == doc, fmt
        # The current branch is the second tree; both roots are roots.
        assert [m.content for m in store.list_messages(tid)] == ["second tree 1", "second tree 2"]
        roots = [m for m in store.list_all_messages(tid) if m.parent_entry_id is None]
        assert [m.content for m in roots] == [ODD, "second tree 1"]
        assert store.load_checkpoint(tid) is not None
        assert store.load_checkpoint(tid).state == {"n": "again"}  # type: ignore[union-attr]


def test_appends_after_an_import_continue_past_its_ids(make_store: StoreFactory) -> None:
    doc = _rich_document(make_store)
    shift = 1000
    for message in doc["messages"]:
        message["id"] += shift
        if message["parent_entry_id"] is not None:
            message["parent_entry_id"] += shift
    doc["thread"]["current_leaf_id"] += shift
    store = make_store()
    assert not import_document(store, doc).remapped
    top = max(m["id"] for m in doc["messages"])
    tid = doc["thread"]["id"]
    assert store.append_message(tid, "user", "next") == top + 1
    store.upsert_thread(ThreadMetadata.create("other", cwd="/w"))
    assert store.append_message("other", "user", "x") == top + 2


def test_taken_message_ids_renumber_the_whole_thread_alike(make_store: StoreFactory) -> None:
    doc = _rich_document(make_store)
    ids = sorted(m["id"] for m in doc["messages"])
    store = make_store()
    # One message of another thread holds id 1: every id of the import moves, in order,
    # past the ids the store has handed out.
    store.upsert_thread(ThreadMetadata.create("other", cwd="/w"))
    assert store.append_message("other", "user", "x") == 1
    report = import_document(store, doc)
    assert report.remapped and report.thread_id == doc["thread"]["id"]
    assert report.message_ids == {old: 2 + n for n, old in enumerate(ids)}
    assert build_document(store, report.thread_id) == _renumbered(
        doc, report.message_ids, report.thread_id
    )
    # The same document again, as a new thread: every id is taken now.
    again = import_document(store, doc, as_new=True)
    top = 1 + len(ids)
    assert again.message_ids == {old: top + 1 + n for n, old in enumerate(ids)}
    assert build_document(store, again.thread_id) == _renumbered(
        doc, again.message_ids, again.thread_id
    )
    assert store.append_message("other", "user", "y") == top + len(ids) + 1


def test_import_thread_refuses_a_taken_thread_id(store: StateStore) -> None:
    main_id = create_demo(store, now=NOW)[0]
    before = build_document(store, main_id)
    thread = store.get_thread(main_id)
    assert thread is not None
    row = MessageRow(10**6, "user", "x", None, NOW, None)
    with pytest.raises(Conflict, match="already exists"):
        store.backend.import_thread(ThreadImport(thread=thread, messages=(row,)))
    assert build_document(store, main_id) == before
    assert store.backend.taken_message_ids([10**6, 1, 2]) == {1, 2}


def test_reserved_message_ids_are_fresh_and_usable(store: StateStore) -> None:
    create_demo(store, now=NOW)
    top = max(
        m.id
        for t in store.iter_threads(include_archived=True)
        for m in store.list_all_messages(t.id)
    )
    thread = ThreadMetadata.create("imported", cwd="/w", now=NOW)
    with store.transaction():
        ids = store.backend.reserve_message_ids(2)
        assert ids == [top + 1, top + 2]
        rows = (
            MessageRow(ids[0], "user", "a", None, NOW, None),
            MessageRow(ids[1], "user", "b", '{"k":1}', NOW, ids[0]),
        )
        store.backend.import_thread(
            ThreadImport(
                thread=ThreadMetadata.from_dict({**thread.to_dict(), "current_leaf_id": ids[1]}),
                messages=rows,
            )
        )
    assert [(m.id, m.parent_entry_id, m.item) for m in store.list_messages("imported")] == [
        (ids[0], None, None),
        (ids[1], ids[0], {"k": 1}),
    ]
    assert store.append_message("imported", "user", "c") == top + 3


def test_rows_copy_verbatim_and_skip_what_is_there(make_store: StoreFactory) -> None:
    source, target = make_store(), make_store()
    create_demo(source, now=NOW)
    tables = source.backend.copy_tables()
    assert target.backend.copy_tables() == tables
    assert [t.name for t in tables][:2] == ["threads", "messages"]
    for table in tables:
        rows = [row for batch in source.backend.read_rows(table, 2) for row in batch]
        assert all(len(batch) <= 2 for batch in source.backend.read_rows(table, 2))
        assert source.backend.count_rows(table) == RowCount(rows=len(rows), orphans=0)
        assert target.backend.write_rows(table, rows) == len(rows)
        assert target.backend.write_rows(table, rows) == 0  # already there: skipped
        assert [r for b in target.backend.read_rows(table, 3) for r in b] == rows
    for thread in source.iter_threads(include_archived=True):
        assert (
            build_document(target, thread.id)["messages"]
            == (build_document(source, thread.id)["messages"])
        )


def test_transfer_modules_use_only_the_contract() -> None:
    """No SQL, no backend import, no backend type check in ``threadloom.transfer``."""
    package = Path(__file__).parent.parent / "src" / "threadloom" / "transfer"
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert "backends" not in (node.module or ""), (path.name, node.module)
            if isinstance(node, ast.Import):
                assert all("backends" not in a.name for a in node.names), path.name
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
                assert "Backend" not in ast.unparse(node), (path.name, ast.unparse(node))
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                words = node.value.upper().split()
                assert not {"SELECT", "INSERT", "UPDATE", "DELETE"} & set(words[:1]), (
                    path.name,
                    node.value,
                )
