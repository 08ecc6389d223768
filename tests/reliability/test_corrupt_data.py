"""Scenario 7: corrupt stored values and damaged database files."""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
from pathlib import Path

import pytest

from threadloom import CorruptData, DynamicToolRecord, StateStore, ThreadMetadata

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
    checked = 0
    with StateStore.open(db) as store:
        with pytest.raises(CorruptData) as info:
            store.list_messages("a")
        assert info.value.table == "messages"
        assert info.value.row == f"id={ids['a2']}"
        assert "messages" in str(info.value) and f"id={ids['a2']}" in str(info.value)
        with pytest.raises(CorruptData) as info:
            store.load_checkpoint("a", "c1")
        assert info.value.table == "checkpoints"
        assert "'c1'" in info.value.row and "'a'" in info.value.row
        with pytest.raises(CorruptData) as info:
            store.get_dynamic_tools("a")
        assert info.value.table == "thread_dynamic_tools"
        assert "1" in info.value.row
        checked += 3
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
    record("7-corrupt-values", corrupt_rows=checked, other_rows_readable=True)


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


def _damaged_files(tmp_path: Path) -> dict[str, bytes]:
    good = tmp_path / "good" / "state.db"
    _fill(good)
    data = good.read_bytes()
    rng = random.Random(7)
    flipped = bytearray(data)
    for _ in range(64):
        flipped[rng.randrange(100, len(data))] ^= 0xFF
    return {
        "random garbage": rng.randbytes(64 * 1024),
        "text file": b"not a database\n" * 200,
        "truncated to 100 bytes (header only)": data[:100],
        "truncated to one page": data[:4096],
        "truncated mid-file": data[: len(data) // 2 + 1234],
        "header magic damaged": b"SQLite format 4\x00" + data[16:],
        "all zero pages after the header": data[:100] + b"\x00" * (len(data) - 100),
        "pages bit-flipped": bytes(flipped),
    }


def test_damaged_database_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    files = _damaged_files(tmp_path)
    refused = 0
    opened_but_read_failed = 0
    for n, (kind, data) in enumerate(files.items()):
        db = tmp_path / f"case{n}" / "state.db"
        db.parent.mkdir()
        db.write_bytes(data)
        before = _sha(db)
        try:
            store = StateStore.open(db)
        except CorruptData as exc:
            assert str(db) in str(exc), kind
            refused += 1
        else:
            # Some damage only shows when the damaged pages are read; reading must
            # then raise CorruptData too, and the file must still not be rewritten.
            with store, pytest.raises(CorruptData):
                for thread_id in ("a", "b"):
                    store.list_messages(thread_id)
                    store.list_checkpoints(thread_id)
                    store.get_dynamic_tools(thread_id)
                store.list_threads()
                raise CorruptData(f"{kind}: damage not detected")
            opened_but_read_failed += 1
        assert _sha(db) == before, kind
        leftovers = sorted(p.name for p in db.parent.iterdir())
        assert leftovers == ["state.db"], (kind, leftovers)
    record(
        "7-damaged-files",
        damaged_files_tried=len(files),
        refused_on_open=refused,
        refused_on_read=opened_but_read_failed,
        files_changed=0,
    )


def test_damaged_file_never_gets_a_session_index_or_wal(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.write_bytes(os.urandom(8192))
    for _ in range(3):
        with pytest.raises(CorruptData):
            StateStore.open(db)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.db"]
