"""``copy`` into a destination that holds data: refused before writing, unless asked.

Issue 10, point 6. SQLite to SQLite here (the same code paths read and write both
sides); ``tests/postgres/test_copy.py`` runs the PostgreSQL destination.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.support.filestate import file_state
from threadloom import JobStateRecord, StateStore, ThreadMetadata
from threadloom.cli import cli
from threadloom.cli.demo import create_demo
from threadloom.transfer import CopyMode, DestinationNotEmpty, copy_store


def _demo(path: Path, now: int = 1_750_000_000) -> Path:
    with StateStore.open(path) as store:
        create_demo(store, now=now)
    return path


def _snapshot(path: Path) -> dict[str, Any]:
    """Every row of every table and the session index file, read behind the store."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        rows: dict[str, Any] = {
            t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}"))) for t in tables
        }
    finally:
        conn.close()
    index = path.parent / "session_index.jsonl"
    rows["session_index.jsonl"] = index.read_bytes() if index.exists() else b""
    return rows


def _copy(*args: str) -> Any:
    return CliRunner().invoke(cli, ["copy", *args], env={"COLUMNS": "200"})


def test_a_non_empty_destination_is_refused_before_writing(tmp_path: Path) -> None:
    src = _demo(tmp_path / "a" / "state.db")
    dst = _demo(tmp_path / "b" / "state.db", now=1_760_000_000)
    before = _snapshot(dst)
    with StateStore.open(src) as a, StateStore.open(dst) as b:
        with pytest.raises(DestinationNotEmpty) as caught:
            copy_store(a, b)
        assert caught.value.rows == {
            "threads": 3,
            "messages": 16,
            "checkpoints": 4,
            "thread_dynamic_tools": 2,
            "thread_goals": 1,
            "jobs": 3,
        }
        assert "not empty" in str(caught.value) and "nothing was copied" in str(caught.value)
        # The library's way out names its own API; the CLI's names flags (below).
        assert 'mode="resume"' in str(caught.value) and 'mode="merge"' in str(caught.value)
        # A store of other threads is not an interrupted copy of this source either.
        with pytest.raises(
            DestinationNotEmpty, match=r"does not hold an interrupted copy.*3 of its threads rows"
        ):
            copy_store(a, b, mode="resume")
        # Merging would give a's messages ids b's messages hold.
        with pytest.raises(
            DestinationNotEmpty, match=r"cannot merge .*16 messages row.*\(messages id=1; "
        ):
            copy_store(a, b, mode=CopyMode.MERGE)
    assert _snapshot(dst) == before


def test_cli_refuses_a_non_empty_destination_in_one_line(tmp_path: Path) -> None:
    src = _demo(tmp_path / "a" / "state.db")
    dst = _demo(tmp_path / "b" / "state.db", now=1_760_000_000)
    before = _snapshot(dst)
    for extra in ([], ["--resume"], ["--merge"]):
        result = _copy(str(src), str(dst), *extra)
        assert result.exit_code == 1, result.output
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
        assert "nothing was copied" in lines[0]
        if not extra:
            assert "--resume" in lines[0] and "--merge" in lines[0]
            assert 'mode="' not in lines[0]
    assert _snapshot(dst) == before
    both = _copy(str(src), str(dst), "--resume", "--merge")
    assert both.exit_code != 0 and "exclude each other" in both.output
    help_text = _copy("--help").output
    assert "--resume" in help_text and "--merge" in help_text


def test_resume_finishes_an_interrupted_copy(tmp_path: Path) -> None:
    src = _demo(tmp_path / "a" / "state.db")
    dst = tmp_path / "b" / "state.db"
    with StateStore.open(src) as a, StateStore.open(dst) as b:

        def stop(table: str, done: int, total: int) -> None:
            if table == "checkpoints":
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            copy_store(a, b, batch_size=2, progress=stop)
        with pytest.raises(DestinationNotEmpty):
            copy_store(a, b)  # not without saying so
        report = copy_store(a, b, mode="resume", batch_size=2)
        assert report.verified and report.mode is CopyMode.RESUME
        copied = {t.name: t.copied for t in report.tables}
        assert copied["threads"] == copied["messages"] == 0
        assert copied["checkpoints"] == 2  # the first batch of two was committed
        # Resuming a finished copy copies nothing and still verifies.
        again = copy_store(a, b, mode="resume")
        assert again.verified and all(t.copied == 0 for t in again.tables)


def test_merge_adds_to_a_destination_without_clashing_keys(tmp_path: Path) -> None:
    src = _demo(tmp_path / "a" / "state.db")
    dst = tmp_path / "b" / "state.db"
    with StateStore.open(dst) as b:
        b.upsert_thread(ThreadMetadata.create("mine", cwd="/w", model_provider="x", now=5))
        b.upsert_job(
            JobStateRecord.from_dict(
                {
                    "id": "job-mine",
                    "name": "n",
                    "status": "running",
                    "progress": None,
                    "detail": None,
                    "created_at": 1,
                    "updated_at": 2,
                }
            )
        )
    with StateStore.open(src) as a, StateStore.open(dst) as b:
        report = copy_store(a, b, mode="merge")
        assert report.verified, report
        by_name = {t.name: t for t in report.tables}
        assert by_name["threads"].source_rows == 3 and by_name["threads"].target_rows == 4
        assert by_name["jobs"].copied == 3 and by_name["jobs"].target_rows == 4
        assert all(t.missing == 0 for t in report.tables)
        assert {t.id for t in b.iter_threads(include_archived=True)} == {
            "mine",
            *(t.id for t in a.iter_threads(include_archived=True)),
        }
        for thread in a.iter_threads(include_archived=True):
            assert b.list_messages(thread.id) == a.list_messages(thread.id)
        # Merging the same source again finds every row there already.
        again = copy_store(a, b, mode="merge")
        assert again.verified and all(t.copied == 0 for t in again.tables)


def test_the_summary_has_headers_and_says_what_each_count_is(tmp_path: Path) -> None:
    src = _demo(tmp_path / "a" / "state.db")
    result = _copy(str(src), str(tmp_path / "b" / "state.db"))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Table", "Source", "rows", "Copied", "now", "Target", "rows",
                                "Orphans", "Check"]  # fmt: skip
    assert lines[1].split() == ["threads", "3", "3", "3", "0", "match"]
    legend = "\n".join(lines[13:])
    for term in ("Source/Target rows:", "Copied now:", "Orphans:", "Check:"):
        assert term in legend
    data = json.loads(_copy(str(src), str(tmp_path / "c" / "state.db"), "--json").stdout)
    assert data["mode"] == "new" and data["verified"] is True
    assert data["tables"][0] == {
        "table": "threads",
        "source_rows": 3,
        "target_rows": 3,
        "copied": 3,
        "orphans_skipped": 0,
        "checksum_match": True,
        "missing": 0,
    }


def test_copies_are_private(tmp_path: Path) -> None:
    src = _demo(tmp_path / "a" / "state.db")
    old = os.umask(0o022)
    try:
        assert _copy(str(src), str(tmp_path / "b" / "state.db")).exit_code == 0
    finally:
        os.umask(old)
    for path in (tmp_path / "b").iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_copy_only_reads_its_source(tmp_path: Path) -> None:
    # A rollback-journal file needing no step: a writable open would switch it to WAL.
    (tmp_path / "from").mkdir()
    src = _demo(tmp_path / "from" / "src.db")
    with sqlite3.connect(src) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
    for side in ("-wal", "-shm"):
        (src.parent / f"src.db{side}").unlink(missing_ok=True)
    before = file_state(src)
    result = CliRunner().invoke(cli, ["copy", str(src), str(tmp_path / "dst.db"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["verified"] is True
    assert file_state(src) == before


def test_copy_from_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["copy", str(tmp_path), str(tmp_path / "dst.db")])
    assert result.exit_code == 1
    assert "is a directory, not a database file" in result.output
