"""Several databases in one folder share ``session_index.jsonl`` (issue 10, point 5).

An index entry names a thread id, not a database. ``repair`` may drop an entry only
when its own database deleted that thread (recorded by ``delete_thread`` in
``threadloom_deleted_threads``) and no other database in the folder holds it; a plain
``delete`` or ``prune`` leaves ``doctor --check`` passing. The CLI scenarios run the
real command line (click's runner) on real files; PostgreSQL, where the index is a
table of the schema, must behave the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.support.ops import run_oracle
from tests.support.shared import require_oracle
from threadloom import StateStore, ThreadMetadata
from threadloom.cli import cli
from threadloom.maintenance import diagnose, repair

NOW = 1_700_000_000


def _thread(thread_id: str, name: str, *, archived: bool = False) -> ThreadMetadata:
    return ThreadMetadata.create(
        thread_id,
        cwd="/w",
        model_provider="deepseek",
        now=NOW,
        name=name,
        rollout_path=f"/r/{thread_id}.jsonl",
        archived=archived,
        archived_at=NOW if archived else None,
    )


def _fill(target: str | Path, stem: str) -> None:
    """Two threads: ``<stem>-live`` and ``<stem>-old`` (archived), named after the stem."""
    with StateStore.open(target) as store:
        store.upsert_thread(_thread(f"{stem}-live", f"Live {stem}"))
        store.upsert_thread(_thread(f"{stem}-old", f"Old {stem}", archived=True))


def _filled(stem: str) -> dict[str, str | None]:
    """The names :func:`_fill` gave."""
    return {f"{stem}-live": f"Live {stem}", f"{stem}-old": f"Old {stem}"}


def _run(db: str | Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), *args], env={"COLUMNS": "200"})


def _ok(db: str | Path, *args: str) -> Result:
    result = _run(db, *args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result


def _json(db: str | Path, *args: str) -> Any:
    return json.loads(_ok(db, *args, "--json").stdout)


def _names(target: str | Path, ids: list[str]) -> dict[str, str | None]:
    with StateStore.open(target) as store:
        return store.find_thread_names_by_ids(ids)


def _path_by_name(target: str | Path, name: str) -> str | None:
    with StateStore.open(target) as store:
        return store.find_thread_path_by_name_str(name)


@pytest.mark.parametrize("count", [2, 3])
def test_repair_in_one_database_keeps_every_other_databases_names(
    tmp_path: Path, count: int
) -> None:
    folder = tmp_path / "home"
    stems = ["first", "second", "third"][:count]
    dbs = {stem: folder / f"{stem}.db" for stem in stems}
    for stem, db in dbs.items():
        _fill(db, stem)
    # One shared file for the whole folder, as with the original.
    assert sorted(p.name for p in folder.glob("*.jsonl")) == ["session_index.jsonl"]

    _ok(dbs["second"], "delete", "second-old", "--yes")
    done = _json(dbs["second"], "repair", "--yes")["repair"]
    for stem in stems:
        if stem == "second":
            continue
        assert _names(dbs[stem], [f"{stem}-live", f"{stem}-old"]) == _filled(stem)
        assert _path_by_name(dbs[stem], f"OLD {stem}") == f"/r/{stem}-old.jsonl"
    assert done["index_threads_dropped"] == ["second-old"]
    assert _names(dbs["second"], ["second-live", "second-old"]) == {
        "second-live": "Live second",
        "second-old": None,
    }
    for db in dbs.values():
        # Other databases' entries are no problem.
        assert _run(db, "doctor", "--check").exit_code == 0, db
    report = _json(dbs["second"], "doctor")["session_index"]
    assert report["deleted_threads"] == []
    others = sorted(f"{s}-{k}" for s in stems if s != "second" for k in ("live", "old"))
    assert report["other_threads"] == others

    # Repairing every other database drops nothing: none of them deleted anything.
    for stem in stems:
        if stem != "second":
            again = _json(dbs[stem], "repair", "--yes")["repair"]
            assert again is None or again["index_threads_dropped"] == []
            assert _run(dbs[stem], "doctor", "--check").exit_code == 0
    for stem in stems:
        if stem != "second":
            assert _names(dbs[stem], [f"{stem}-live", f"{stem}-old"]) == _filled(stem)


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database for the CLI: a file, or a PostgreSQL schema's DSN."""
    if request.param == "sqlite":
        yield str(tmp_path / "home" / "state.db")
        return
    from tests.support.pg import drop_schema, new_schema, require_postgres, schema_dsn

    require_postgres()
    schema = new_schema()
    try:
        yield schema_dsn(schema)
    finally:
        drop_schema(schema)


def test_prune_and_delete_leave_doctor_check_passing_and_repair_drops_only_them(
    target: str,
) -> None:
    _fill(target, "a")
    _fill(target, "b")
    with StateStore.open(target) as store:
        # A name without a thread (the original allows it): not this database's to drop.
        store.append_thread_name("ghost", "Ghost", NOW, "/r/ghost.jsonl")
    assert _json(target, "prune", "--archived", "--yes", "--no-vacuum")["deleted"] == 2
    assert _run(target, "doctor", "--check").exit_code == 0
    _ok(target, "delete", "b-live", "--yes")
    assert _run(target, "doctor", "--check").exit_code == 0
    index = _json(target, "doctor")["session_index"]
    assert index["deleted_threads"] == ["a-old", "b-live", "b-old"]
    assert index["other_threads"] == ["ghost"]

    done = _json(target, "repair", "--yes")["repair"]
    assert done["index_threads_dropped"] == ["a-old", "b-live", "b-old"]
    assert _names(target, ["a-live", "a-old", "b-live", "b-old", "ghost"]) == {
        "a-live": "Live a",
        "a-old": None,
        "b-live": None,
        "b-old": None,
        "ghost": "Ghost",
    }
    assert _path_by_name(target, "ghost") == "/r/ghost.jsonl"
    after = _json(target, "doctor")
    assert after["problems"] == []
    assert after["session_index"]["deleted_threads"] == []
    assert after["session_index"]["other_threads"] == ["ghost"]


def test_compaction_drops_deleted_threads_only_when_asked(store: StateStore) -> None:
    for thread_id in ("a", "b", "c"):
        store.upsert_thread(_thread(thread_id, thread_id.upper()))
    store.append_thread_name("ghost", "Ghost", NOW)
    assert store.delete_thread("a") is True
    assert store.delete_thread("ghost") is False  # nothing deleted: nothing recorded
    assert store.delete_thread("c") is True
    store.upsert_thread(_thread("c", "C again"))  # re-created: its entries are needed

    kept = store.compact_session_index()
    assert kept.dropped_threads == ()
    assert store.find_thread_name_by_id("a") == "A"  # a plain compaction keeps every thread
    assert store.backend.deleted_threads(["a", "b", "c", "ghost", "zz"]) == {"a"}

    report = store.compact_session_index(drop_deleted=True)
    assert report.dropped_threads == ("a",)
    assert report.lines_after == 3
    assert store.find_thread_names_by_ids(["a", "b", "c", "ghost"]) == {
        "a": None,
        "b": "B",
        "c": "C again",
        "ghost": "Ghost",
    }


def test_a_thread_created_again_after_doctor_keeps_its_entries(store: StateStore) -> None:
    store.upsert_thread(_thread("x", "X"))
    store.delete_thread("x")
    report = diagnose(store)
    assert report.index_deleted_threads == ["x"]
    store.upsert_thread(_thread("x", "X again"))
    # The decision is made again at compaction time, not taken from the stale report.
    done = repair(store, report)
    assert done.index_threads_dropped == []
    assert store.find_thread_name_by_id("x") == "X again"


def test_a_thread_copied_into_a_sibling_database_keeps_its_name(tmp_path: Path) -> None:
    folder = tmp_path / "home"
    main, backup = folder / "state.db", folder / "backup.db"
    _fill(main, "m")
    with StateStore.open(backup) as store:
        store.upsert_thread(_thread("m-old", "Old m"))  # the same thread, copied
    _ok(main, "delete", "m-old", "--yes")
    assert _json(main, "doctor")["session_index"]["deleted_threads"] == []
    done = _json(main, "repair", "--yes")["repair"]
    assert done is None or done["index_threads_dropped"] == []
    assert _names(backup, ["m-old"]) == {"m-old": "Old m"}

    # Once the sibling deleted it too, the main database may drop it.
    _ok(backup, "delete", "m-old", "--yes")
    assert _json(main, "repair", "--yes")["repair"]["index_threads_dropped"] == ["m-old"]
    assert _names(backup, ["m-old"]) == {"m-old": None}


def test_an_unreadable_sibling_database_keeps_every_entry(tmp_path: Path) -> None:
    folder = tmp_path / "home"
    main = folder / "state.db"
    _fill(main, "m")
    # It looks like a SQLite database but cannot be read: it might hold anything.
    damaged = folder / "damaged.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    _ok(main, "delete", "m-old", "--yes")
    assert _run(main, "doctor", "--check").exit_code == 0
    assert _json(main, "doctor")["session_index"]["deleted_threads"] == []
    done = _json(main, "repair", "--yes")["repair"]
    assert done is None or done["index_threads_dropped"] == []
    assert _names(main, ["m-old"]) == {"m-old": "Old m"}

    damaged.unlink()
    assert _json(main, "repair", "--yes")["repair"]["index_threads_dropped"] == ["m-old"]


def test_siblings_are_only_read(tmp_path: Path) -> None:
    folder = tmp_path / "home"
    main, other = folder / "state.db", folder / "other.db"
    _fill(main, "m")
    _fill(other, "o")
    _ok(main, "delete", "m-old", "--yes")
    before = hashlib.sha256(other.read_bytes()).hexdigest()
    _json(main, "doctor")
    _json(main, "repair", "--yes")
    assert hashlib.sha256(other.read_bytes()).hexdigest() == before


@pytest.mark.oracle
def test_the_original_shares_the_folder_and_opens_a_file_with_deletion_records(
    tmp_path: Path,
) -> None:
    oracle = require_oracle()
    folder = tmp_path / "home"
    ours, theirs = folder / "ours.db", folder / "theirs.db"
    _fill(ours, "ours")
    _ok(ours, "delete", "ours-old", "--yes")  # leaves a row in threadloom_deleted_threads

    # The original opens our file (with our extra table) and reads and writes it.
    thread = _thread("orig-in-ours", "Original in ours").to_dict()
    answers = run_oracle(
        oracle,
        ours,
        [
            {"op": "get_thread", "id": "ours-live"},
            {"op": "upsert_thread", "thread": thread},
            {"op": "list_threads", "include_archived": True},
            {"op": "delete_thread", "id": "orig-in-ours"},
            {"op": "find_thread_name_by_id", "thread_id": "ours-live"},
        ],
    )
    assert all("ok" in a for a in answers), answers
    assert answers[0]["ok"]["name"] == "Live ours"
    assert sorted(t["id"] for t in answers[2]["ok"]) == ["orig-in-ours", "ours-live"]
    assert answers[4] == {"ok": "Live ours"}

    # The original's own database in the same folder, sharing the index file.
    mine = _thread("orig-1", "Original one").to_dict()
    assert run_oracle(oracle, theirs, [{"op": "upsert_thread", "thread": mine}]) == [{"ok": None}]

    assert _run(ours, "doctor", "--check").exit_code == 0
    done = _json(ours, "repair", "--yes")["repair"]
    # Only our recorded deletion goes; the original's delete left no record: kept.
    assert done["index_threads_dropped"] == ["ours-old"]
    lookups = run_oracle(
        oracle,
        theirs,
        [
            {"op": "find_thread_name_by_id", "thread_id": "orig-1"},
            {"op": "find_thread_path_by_name_str", "name": "ORIGINAL ONE"},
            {"op": "find_thread_names_by_ids", "ids": ["ours-live", "ours-old", "orig-in-ours"]},
        ],
    )
    assert lookups == [
        {"ok": "Original one"},
        {"ok": "/r/orig-1.jsonl"},
        {"ok": {"orig-in-ours": "Original in ours", "ours-live": "Live ours", "ours-old": None}},
    ]
    with StateStore.open(ours) as store:
        assert store.get_thread("orig-in-ours") is None
        assert store.find_thread_name_by_id("ours-live") == "Live ours"
    assert not list(folder.glob(".*.tmp"))
