"""Search on the original's SQLite file: messages the original writes and deletes, the
original still working beside the index, SQLite without FTS5, read-only stores."""

from __future__ import annotations

import sqlite3
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.ops import run_oracle
from tests.support.shared import require_oracle
from threadloom import StateStore, ThreadMetadata
from threadloom.backends.sqlite import search as sqlite_search


def _thread_op(tid: str, name: str = "Oracle thread") -> dict[str, Any]:
    thread = ThreadMetadata.create(tid, name=name, cwd="/w", preview="from the original")
    return {"op": "upsert_thread", "thread": thread.to_dict()}


def _append(tid: str, content: str, item: Any = None) -> dict[str, Any]:
    return {
        "op": "append_message",
        "thread_id": tid,
        "role": "user",
        "content": content,
        "item": item,
    }


def _ok(answers: list[dict[str, Any]]) -> list[Any]:
    assert all("ok" in a for a in answers), answers
    return [a["ok"] for a in answers]


def test_messages_the_original_writes_and_deletes(tmp_path: Path) -> None:
    oracle = require_oracle()
    db = tmp_path / "state.db"
    with StateStore.open(db) as store:
        store.upsert_thread(ThreadMetadata.create("mine", cwd="/w"))
        store.append_message("mine", "user", "threadloom wrote this wal note")
        assert len(store.search("wal")) == 1  # the index exists from here on
        ids = _ok(
            run_oracle(
                oracle,
                db,
                [
                    _thread_op("orig"),
                    _append("orig", "the original wrote a wal message"),
                    _append(
                        "orig",
                        "tool output",
                        {"type": "tool_result", "output": "wal checkpoint done"},
                    ),
                    _thread_op("gone"),
                    _append("gone", "a wal line to delete"),
                ],
            )
        )
        hits = store.search("wal", limit=50)
        assert {h.message_id for h in hits} >= {ids[1], ids[2], ids[4]}
        assert [h.matched_in for h in hits if h.message_id == ids[2]] == ["item"]
        assert [h.matched_in for h in store.search("original")] == ["preview", "preview", "content"]
        # The original deletes: a thread (its messages stay behind, orphaned, since it
        # never enabled foreign keys) and a thread's messages.
        _ok(run_oracle(oracle, db, [{"op": "delete_thread", "id": "gone"}]))
        _ok(run_oracle(oracle, db, [{"op": "clear_messages", "thread_id": "orig"}]))
        left = store.search("wal", limit=50)
        assert [h.thread_id for h in left] == ["mine"]


def test_the_original_keeps_working_on_a_file_with_the_index(tmp_path: Path) -> None:
    oracle = require_oracle()
    db = tmp_path / "state.db"
    with StateStore.open(db) as store:
        store.upsert_thread(ThreadMetadata.create("t1", cwd="/w"))
        store.append_message("t1", "user", "indexed wal")
        store.search("wal")
    answers = run_oracle(
        oracle,
        db,
        [
            _append("t1", "written by the original"),
            {"op": "list_messages", "thread_id": "t1", "limit": 10},
            {"op": "list_threads", "limit": 10},
            {"op": "fork_at_message", "message_id": "1", "role": "user", "content": "fork"},
            {"op": "clear_messages", "thread_id": "t1"},
            {"op": "delete_thread", "id": "t1"},
        ],
    )
    assert all("ok" in a for a in answers), answers
    assert len(answers[1]["ok"]) == 2


def _without_fts5_module(db: Path) -> None:
    """Make the file's virtual tables name a module no SQLite has: what a reader whose
    SQLite lacks FTS5 sees when it opens a file holding the index."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute(
        "UPDATE sqlite_master SET sql = replace(sql, 'USING fts5(', 'USING nosuchmodule(') "
        "WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'"
    )
    conn.execute("PRAGMA writable_schema = OFF")
    conn.close()


def test_a_sqlite_without_the_module_still_opens_and_uses_the_file(tmp_path: Path) -> None:
    oracle = require_oracle()
    db = tmp_path / "state.db"
    with StateStore.open(db) as store:
        store.upsert_thread(ThreadMetadata.create("t1", cwd="/w"))
        store.append_message("t1", "user", "indexed wal")
        store.search("wal")
    _without_fts5_module(db)
    conn = sqlite3.connect(db)  # a fresh connection parses the whole schema
    assert conn.execute("SELECT count(*) FROM messages").fetchone() == (1,)
    with pytest.raises(sqlite3.OperationalError, match="no such module"):
        conn.execute("SELECT * FROM threadloom_search").fetchall()
    conn.close()
    answers = run_oracle(
        oracle,
        db,
        [
            _append("t1", "the original, without the module"),
            {"op": "clear_messages", "thread_id": "t1"},
        ],
    )
    assert all("ok" in a for a in answers), answers


def test_fallback_scan_without_fts5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "state.db"
    with StateStore.open(db) as store:
        store.upsert_thread(ThreadMetadata.create("t1", name="Lock notes", cwd="/w"))
        ids = [store.append_message("t1", "user", f"wal note {i} Résumé") for i in range(5)]
        indexed = [(h.message_id, h.snippet) for h in store.search("resume")]
    monkeypatch.setattr(sqlite_search, "_warned_scan", False)
    with StateStore.open(db) as store:
        store.backend._has_fts5 = False  # type: ignore[attr-defined]
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            scanned = [(h.message_id, h.snippet) for h in store.search("resume")]
            store.search("wal")
        assert next(str(w.message) for w in seen if w.category is RuntimeWarning).startswith(
            "this Python's SQLite has no FTS5"
        )
        assert len([w for w in seen if w.category is RuntimeWarning]) == 1
        assert scanned == indexed
        assert [h.message_id for h in store.search("note 3")] == [ids[3]]
        assert [h.matched_in for h in store.search("lock")] == ["name"]
        assert store.search_status().engine == "scan"


def test_read_only_store_scans_what_the_index_lacks(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with StateStore.open(db) as store:
        store.upsert_thread(ThreadMetadata.create("t1", cwd="/w"))
        old = store.append_message("t1", "user", "old wal")
        store.search("wal")
        new = store.append_message("t1", "user", "new wal")
    with StateStore.open(db, read_only=True) as reader:
        assert [h.message_id for h in reader.search("wal")] == [new, old]
        assert reader.search_status().pending == 1
    with StateStore.open(db) as store, store.snapshot():
        assert [h.message_id for h in store.search("wal")] == [new, old]


_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyzàéü", min_size=3, max_size=9)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    secret=_word, fillers=st.lists(st.sampled_from(["lock", "wal", "retry", "cache"]), max_size=5)
)
def test_found_whoever_wrote_it(tmp_path: Path, secret: str, fillers: list[str]) -> None:
    oracle = require_oracle()
    db = tmp_path / f"{uuid.uuid4().hex}.db"
    with StateStore.open(db) as store:
        store.upsert_thread(ThreadMetadata.create("mine", cwd="/w"))
        mine = store.append_message("mine", "user", " ".join([*fillers, secret.upper()]))
        store.search("lock OR wal OR retry OR cache OR x")
        theirs = _ok(
            run_oracle(
                oracle, db, [_thread_op("orig"), _append("orig", " ".join([secret, *fillers]))]
            )
        )[1]
        assert {h.message_id for h in store.search(secret)} == {mine, theirs}
        assert {h.message_id for h in store.search(secret[:2] + "*")} >= {mine, theirs}


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(secret=_word)
def test_found_on_postgres_after_copying_what_the_original_wrote(
    tmp_path: Path, secret: str
) -> None:
    """The original only writes SQLite; its messages reach PostgreSQL by `copy`."""
    from tests.support.pg import drop_schema, new_schema, require_postgres, schema_dsn
    from threadloom.transfer.copy import copy_store

    oracle = require_oracle()
    require_postgres()
    db = tmp_path / f"{uuid.uuid4().hex}.db"
    StateStore.open(db).close()
    ids = _ok(run_oracle(oracle, db, [_thread_op("orig"), _append("orig", f"wal {secret} lock")]))
    schema = new_schema()
    try:
        with StateStore.open(db) as source, StateStore.open(schema_dsn(schema)) as target:
            copy_store(source, target)
            assert [h.message_id for h in target.search(secret)] == [ids[1]]
            assert [h.message_id for h in target.search(secret[:2] + "*")] == [ids[1]]
            assert [h.message_id for h in target.search(f'"wal {secret}"')] == [ids[1]]
    finally:
        drop_schema(schema)
