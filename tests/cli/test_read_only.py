"""Reading commands change nothing: not the bytes, mode or journal mode of the file,
not the folder; a database that needs schema steps is read as it is; an empty or
foreign file is a one-line error; ``doctor`` reports damage and always prints JSON
with ``--json``."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.support.filestate import file_state
from tests.support.shared import require_fixtures

LEGACY = Path(__file__).parents[1] / "fixtures"

#: Every command that only reads (``{t}``: a thread of the database).
READING = [
    ["threads"],
    ["threads", "--json", "--archived"],
    ["show", "{t}"],
    ["show", "{t}", "--all-branches"],
    ["show", "{t}", "--json"],
    ["tree", "{t}"],
    ["checkpoints", "{t}"],
    ["jobs"],
    ["goal", "{t}"],
    ["tools", "{t}"],
    ["export", "{t}"],
    ["export", "{t}", "--format", "md"],
    ["stats"],
    ["stats", "--json"],
    ["doctor"],
    ["doctor", "--json"],
    ["repair", "--dry-run"],
    ["prune", "--archived", "--dry-run"],
    ["migrate", "--dry-run"],
]
#: Those that must succeed on every readable database, old schema or not (the legacy
#: fixtures hold invalid checkpoint JSON on purpose, which `export` refuses).
MUST_SUCCEED = {"threads", "show", "tree", "stats", "jobs"}


def _copy(tmp_path: Path, source: Path) -> Cli:
    folder = tmp_path / "db"
    folder.mkdir()
    shutil.copyfile(source, folder / "state.db")
    index = source.with_name("session_index.jsonl")
    if index.exists():
        shutil.copyfile(index, folder / "session_index.jsonl")
        (folder / "session_index.jsonl").chmod(0o600)
    (folder / "state.db").chmod(0o640)
    return Cli(folder / "state.db")


def _first_thread(db: Path) -> str:
    probe = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return str(probe.execute("SELECT id FROM threads ORDER BY id LIMIT 1").fetchone()[0])
    finally:
        probe.close()


def _source(name: str, tmp_path: Path) -> Path:
    if name == "seed_v3":
        return require_fixtures() / "seed_v3" / "state.db"
    if name == "current_rollback":
        # Up to date (nothing pending) but in the rollback journal: `doctor` switched
        # such a file to WAL for good.
        made = tmp_path / "made" / "state.db"
        made.parent.mkdir()
        shutil.copyfile(require_fixtures() / "seed_v3" / "state.db", made)
        Cli(made).ok("migrate")
        with sqlite3.connect(made) as conn:
            conn.execute("PRAGMA journal_mode = DELETE")
        conn.close()
        return made
    return LEGACY / f"{name}.db"


@pytest.mark.parametrize(
    "name", ["current_rollback", "seed_v3", "legacy_v0", "legacy_v1", "legacy_v2"]
)
def test_reading_commands_leave_the_file_as_it_was(tmp_path: Path, name: str) -> None:
    cli = _copy(tmp_path, _source(name, tmp_path))
    thread = _first_thread(cli.db)
    before = file_state(cli.db)
    assert before[2] == "delete"
    for args in READING:
        result = cli.invoke([a.format(t=thread) for a in args])
        assert "Traceback" not in result.output, (args, result.output)
        if args[0] in MUST_SUCCEED:
            assert result.exit_code == 0, (args, result.output)
        assert file_state(cli.db) == before, args


def test_a_database_needing_steps_reads_as_if_migrated(tmp_path: Path) -> None:
    old = _copy(tmp_path, LEGACY / "legacy_v0.db")
    seen = {args[0]: old.invoke(args).stdout for args in (["threads", "--json", "--archived"],)}
    shown = old.ok("show", "L-chain", "--json").stdout
    migrated = Cli(old.db.with_name("migrated.db"))
    shutil.copyfile(old.db, migrated.db)
    migrated.ok("migrate")
    assert migrated.ok("threads", "--json", "--archived").stdout == seen["threads"]
    assert migrated.ok("show", "L-chain", "--json").stdout == shown
    assert json.loads(shown)["messages"]  # the v0 tree was derived, not empty
    report = old.json("doctor")
    assert report["pending_steps"][:1] == ["v1"]
    assert "run `threadloom migrate`" in old.ok("doctor").stdout or report["problems"]


@pytest.mark.parametrize("args", READING, ids=lambda a: "-".join(a))
def test_an_empty_file_is_an_error_and_stays_empty(tmp_path: Path, args: list[str]) -> None:
    cli = Cli(tmp_path / "state.db")
    cli.db.touch(mode=0o600)
    before = file_state(cli.db)
    argv = [a.format(t="x") for a in args]
    if "--json" in argv and args[0] == "doctor":
        result = cli.invoke(argv)
        assert result.exit_code == 1
        report = json.loads(result.stdout)
        assert "empty file (0 bytes)" in report["error"]
        assert report["problems"] and report["damaged"] is False
    else:
        message = cli.fails(*argv)
        assert "empty file (0 bytes), not a database" in message
        assert "no such table" not in message
    assert file_state(cli.db) == before
    assert cli.db.stat().st_size == 0


def test_a_file_that_is_not_a_database_is_an_error(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "state.db")
    cli.db.write_text("notes\n" * 1000)
    before = file_state(cli.db)
    for args in (["threads"], ["doctor"], ["stats"]):
        assert "not a database" in cli.fails(*args)
    assert file_state(cli.db) == before


def _damage(db: Path) -> None:
    """Zero a stretch of the messages index: the file opens, integrity_check fails."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'idx_messages_thread_created_at'"
        ).fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    end = page_size * root
    data[end - 60 : end - 40] = bytes(20)
    db.write_bytes(bytes(data))


def test_doctor_on_a_damaged_file_says_why_and_exits_1(demo_cli: Cli) -> None:
    _damage(demo_cli.db)
    before = file_state(demo_cli.db)
    result = demo_cli.invoke(["doctor"])
    assert result.exit_code == 1
    assert "integrity check failed" in result.stdout
    assert "missing from index idx_messages_thread_created_at" in result.stdout
    assert "does not fix damage" in result.stdout
    result = demo_cli.invoke(["doctor", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["damaged"] is True
    assert any("missing from index" in line for line in report["integrity"])
    assert report["problems"][0].startswith("integrity check failed: ")
    # repair refuses to write through damaged pages.
    assert "integrity check" in demo_cli.fails("repair", "--yes")
    assert file_state(demo_cli.db) == before


def test_doctor_on_a_header_that_is_not_sqlite_prints_json(demo_cli: Cli) -> None:
    data = bytearray(demo_cli.db.read_bytes())
    data[:16] = b"garbage garbage!"
    demo_cli.db.write_bytes(bytes(data))
    result = demo_cli.invoke(["doctor", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert "not a database" in report["error"]
    assert report["problems"] == [f"cannot be checked: {report['error']}"]
    # The group's --json too.
    result = demo_cli.invoke(["--json", "doctor"])
    assert result.exit_code == 1
    assert "not a database" in json.loads(result.stdout)["error"]
