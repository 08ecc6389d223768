"""Scenario 7: corrupt stored values and damaged database files."""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from threadloom import CorruptData, DynamicToolRecord, StateStore, ThreadMetadata
from threadloom.maintenance import diagnose

from ._support import record


def _fill(db: Path) -> dict[str, int]:
    with StateStore.open(db) as store:
        ids: dict[str, int] = {}
        for t in ("a", "b"):
            store.upsert_thread(ThreadMetadata.create(t, name=t))
            for i in range(5):
                ids[f"{t}{i}"] = store.append_message(t, "user", f"{t}{i}", {"i": i})
            store.save_checkpoint(t, "c1", {"n": 1})
            store.save_checkpoint(t, "c2", {"n": 2})
            store.persist_dynamic_tools(
                t,
                [
                    DynamicToolRecord(
                        position=0, name="grep", description=None, input_schema={"type": "object"}
                    ),
                    DynamicToolRecord(
                        position=1, name="ls", description="list", input_schema={"type": "object"}
                    ),
                ],
            )
        return ids


def _sql(db: Path, statement: str, *params: object) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(statement, params)
    conn.close()


def test_unparsable_json_names_table_and_row(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    ids = _fill(db)
    _sql(db, "UPDATE messages SET item_json = '{\"i\": 2' WHERE id = ?", ids["a2"])
    _sql(
        db,
        "UPDATE checkpoints SET state_json = 'nope' WHERE thread_id = 'a' AND checkpoint_id = 'c1'",
    )
    _sql(
        db,
        "UPDATE thread_dynamic_tools SET input_schema = '[' WHERE thread_id = 'a' AND position = 1",
    )
    with StateStore.open(db) as store:
        reads: dict[str, Callable[[], object]] = {
            "messages": lambda: store.list_messages("a"),
            "checkpoints": lambda: store.load_checkpoint("a", "c1"),
            "thread_dynamic_tools": lambda: store.get_dynamic_tools("a"),
        }
        raised: dict[str, CorruptData] = {}
        for table, read in reads.items():
            try:
                read()
            except CorruptData as exc:
                raised[table] = exc
        assert sorted(raised) == sorted(reads)
        assert all(exc.table == table for table, exc in raised.items())
        assert raised["messages"].row == f"id={ids['a2']}"
        assert "messages" in str(raised["messages"]) and f"id={ids['a2']}" in str(
            raised["messages"]
        )
        assert "'c1'" in raised["checkpoints"].row and "'a'" in raised["checkpoints"].row
        assert "1" in raised["thread_dynamic_tools"].row
        # Every other row stays readable.
        assert [m.content for m in store.list_messages("a", 2)] == ["a3", "a4"]
        assert [m.content for m in store.list_messages("b")] == [f"b{i}" for i in range(5)]
        state = store.load_checkpoint("a", "c2")
        assert state is not None and state.state == {"n": 2}
        assert [t.name for t in store.get_dynamic_tools("b")] == ["grep", "ls"]
        assert store.get_thread("a") is not None
        # Writing goes on around the bad rows.
        store.append_message("a", "user", "a5")
        assert [m.content for m in store.list_messages("a", 2)] == ["a4", "a5"]
    record(
        "7-corrupt-values",
        corrupt_rows=len(reads),
        corrupt_data_raised=len(raised),
    )


def test_text_leaf_id_is_corrupt_data_naming_the_row(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    _fill(db)
    # The seed stored any string a caller gave to set_current_leaf_id.
    _sql(db, "UPDATE threads SET current_leaf_id = 'not-a-number' WHERE id = 'a'")
    with StateStore.open(db) as store:
        with pytest.raises(CorruptData) as info:
            store.get_thread("a")
        assert info.value.table == "threads" and "'a'" in info.value.row
        with pytest.raises(CorruptData):
            store.append_message("a", "user", "x")
        assert store.get_thread("b") is not None


def test_invalid_utf8_text_is_corrupt_data(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    ids = _fill(db)
    # Another tool (or a bit flip) can leave bytes that are not UTF-8 in a TEXT column.
    _sql(db, "UPDATE messages SET content = CAST(x'ff61' AS TEXT) WHERE id = ?", ids["b1"])
    with StateStore.open(db) as store:
        with pytest.raises(CorruptData) as info:
            store.list_messages("b")
        assert "messages" in str(info.value)
        assert [m.content for m in store.list_messages("a")] == [f"a{i}" for i in range(5)]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


#: Messages of the big thread "deep": enough pages that damage can sit far from the
#: schema page that opening reads.
DEEP_MESSAGES = 1500


def _deep_page(db: Path, table: str) -> int:
    """A leaf page of ``table`` in the last third of the file (from ``dbstat``)."""
    conn = sqlite3.connect(db)
    try:
        pages = [
            int(row[0])
            for row in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
                (table,),
            )
        ]
        size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        count = int(conn.execute("PRAGMA page_count").fetchone()[0])
    finally:
        conn.close()
    deep = [n for n in pages if n > 2 * count // 3]
    assert deep, (table, pages, count)
    return (deep[len(deep) // 2] - 1) * size


def _damaged_files(tmp_path: Path) -> dict[str, bytes]:
    good = tmp_path / "good" / "state.db"
    _fill(good)
    with StateStore.open(good) as store:
        store.upsert_thread(ThreadMetadata.create("deep", name="deep"))
        for i in range(DEEP_MESSAGES):
            store.append_message("deep", "user", f"deep {i} " + "x" * 80)
    # Closing the last connection folded the WAL into the file: it holds every page.
    assert not (good.parent / "state.db-wal").exists()
    data = good.read_bytes()
    size = 4096
    rng = random.Random(7)
    flipped = bytearray(data)
    for _ in range(64):
        flipped[rng.randrange(100, len(data))] ^= 0xFF
    deep_leaf = _deep_page(good, "messages")
    zeroed_leaf = data[:deep_leaf] + b"\x00" * size + data[deep_leaf + size :]
    # A leaf page whose header says it holds 60,000 cells: its structure is broken,
    # while the schema page and every page thread "a" and "b" use are intact.
    bad_header = bytearray(data)
    bad_header[deep_leaf + 3 : deep_leaf + 5] = (60_000).to_bytes(2, "big")
    return {
        "random garbage": rng.randbytes(64 * 1024),
        "text file": b"not a database\n" * 200,
        "truncated to 100 bytes (header only)": data[:100],
        "truncated to one page": data[:4096],
        "truncated mid-file": data[: len(data) // 2 + 1234],
        "header magic damaged": b"SQLite format 4\x00" + data[16:],
        "all zero pages after the header": data[:100] + b"\x00" * (len(data) - 100),
        "pages bit-flipped": bytes(flipped),
        "a messages page deep in the file zeroed": zeroed_leaf,
        "a messages page deep in the file with a broken header": bytes(bad_header),
    }


def _where_found(store: StateStore) -> str:
    """Where damage in an opened file shows: on a read, by ``doctor``, or nowhere.

    Opening reads the header and the schema only, so damage deeper in the file shows
    when a damaged page is read, or when ``doctor`` runs ``integrity_check`` over
    every page.
    """
    try:
        for thread_id in ("a", "b"):
            store.list_messages(thread_id)
            store.list_checkpoints(thread_id)
            store.get_dynamic_tools(thread_id)
        store.list_threads()
    except CorruptData:
        return "read"
    try:
        report = diagnose(store)
    except CorruptData:
        return "doctor"
    return "doctor" if report.integrity != ["ok"] else "nowhere"


def test_damaged_database_file_is_refused_or_found_and_left_untouched(tmp_path: Path) -> None:
    files = _damaged_files(tmp_path)
    found: dict[str, list[str]] = {"open": [], "read": [], "doctor": [], "nowhere": []}
    changed: list[str] = []
    leftover: list[str] = []
    deep_read_refused = 0
    for n, (kind, data) in enumerate(files.items()):
        db = tmp_path / f"case{n}" / "state.db"
        db.parent.mkdir()
        db.write_bytes(data)
        before = _sha(db)
        try:
            store = StateStore.open(db)
        except CorruptData as exc:
            assert str(db) in str(exc), kind
            found["open"].append(kind)
        else:
            with store:
                found[_where_found(store)].append(kind)
                if "deep" in kind:
                    # The read that does touch the damaged page says so.
                    try:
                        store.list_messages("deep", 10**9)
                    except CorruptData:
                        deep_read_refused += 1
        if _sha(db) != before:
            changed.append(kind)
        if sorted(p.name for p in db.parent.iterdir()) != ["state.db"]:
            leftover.append(kind)
    record(
        "7-damaged-files",
        damaged_files_tried=len(files),
        refused_on_open=len(found["open"]),
        found_on_read=len(found["read"]),
        found_by_doctor=len(found["doctor"]),
        undetected=len(found["nowhere"]),
        deep_damage_refused_when_read=deep_read_refused,
        files_changed=len(changed),
        files_left_beside=len(leftover),
        by_kind={kind: where for where, kinds in found.items() for kind in kinds},
    )
    assert found["nowhere"] == []
    assert deep_read_refused == sum("deep" in kind for kind in files)
    assert changed == []
    assert leftover == []


def test_damaged_file_never_gets_a_session_index_or_wal(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.write_bytes(os.urandom(8192))
    for _ in range(3):
        with pytest.raises(CorruptData):
            StateStore.open(db)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.db"]
