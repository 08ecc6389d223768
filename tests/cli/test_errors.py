"""Errors: one line on stderr, a non-zero exit, no traceback, nothing created."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.cli.conftest import Cli
from threadloom.cli import cli

READING = [
    ["threads"],
    ["show", "x"],
    ["tree", "x"],
    ["checkpoints", "x"],
    ["checkpoint", "show", "x"],
    ["jobs"],
    ["goal", "x"],
    ["tools", "x"],
    ["export", "x"],
    ["doctor"],
    ["stats"],
    ["migrate"],
    ["repair"],
    ["prune", "--archived"],
    ["fork", "x", "1", "--content", "c"],
    ["switch", "x", "1"],
    ["rename", "x", "y"],
    ["archive", "x"],
    ["unarchive", "x"],
    ["delete", "x", "--yes"],
]


@pytest.mark.parametrize("args", READING, ids=lambda a: a[0])
def test_missing_database_is_not_created(empty_cli: Cli, args: list[str]) -> None:
    message = empty_cli.fails(*args)
    assert "no database at" in message
    assert not empty_cli.db.exists() and not empty_cli.db.parent.exists()


def test_default_path_follows_codewhale_home(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["threads"], env={"CODEWHALE_HOME": str(tmp_path / "cw")})
    assert result.exit_code == 1
    assert f"no database at {tmp_path / 'cw' / 'state.db'}" in result.stderr
    result = CliRunner().invoke(
        cli, ["demo"], env={"CODEWHALE_HOME": str(tmp_path / "cw"), "COLUMNS": "200"}
    )
    assert result.exit_code == 0 and (tmp_path / "cw" / "state.db").exists()


def test_unknown_thread_and_ambiguous_prefix(seed_cli: Cli) -> None:
    assert "no thread matches 'nope'" in seed_cli.fails("show", "nope")
    message = seed_cli.fails("show", "t-")
    assert "ambiguous" in message and "t-alpha" in message
    assert "is required" in seed_cli.fails("goal", "")


def test_newer_database_is_refused_untouched(demo_cli: Cli) -> None:
    with sqlite3.connect(demo_cli.db) as conn:
        conn.execute("PRAGMA user_version = 99")
    before = demo_cli.db.read_bytes()
    for args in (["threads"], ["doctor"], ["migrate"], ["demo"]):
        message = demo_cli.fails(*args)
        assert "schema version 99, newer than" in message
    assert demo_cli.db.read_bytes() == before


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    assert "not a database" in Cli(path).fails("threads")
    assert "is a directory" in Cli(tmp_path).fails("threads")


def test_import_of_a_missing_file_is_a_usage_error(demo_cli: Cli) -> None:
    result = demo_cli.invoke(["import", "/nonexistent/file.json"])
    assert result.exit_code == 2 and "Traceback" not in result.output
