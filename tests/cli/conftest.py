"""Fixtures of the CLI tests: a runner, a demo database, a copy of the seed fixture."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.support.shared import require_fixtures
from threadloom.cli import cli


@dataclass
class Cli:
    """Runs ``threadloom`` in-process against one database."""

    db: Path

    def invoke(self, args: Sequence[str], input: str | None = None) -> Result:
        """Run ``threadloom --db DB ARGS`` (wide terminal, so tables do not truncate)."""
        runner = CliRunner()
        return runner.invoke(
            cli, ["--db", str(self.db), *args], input=input, env={"COLUMNS": "200"}
        )

    def ok(self, *args: str, input: str | None = None) -> Result:
        """Run and expect success; show the output (and any traceback) otherwise."""
        result = self.invoke(args, input=input)
        if result.exit_code != 0:
            detail = result.output
            if result.exc_info is not None and not isinstance(result.exception, SystemExit):
                import traceback

                detail += "".join(traceback.format_exception(*result.exc_info))
            pytest.fail(f"threadloom {' '.join(args)} exited {result.exit_code}:\n{detail}")
        return result

    def json(self, *args: str) -> Any:
        """Run with ``--json`` and parse the output."""
        return json.loads(self.ok(*args, "--json").stdout)

    def fails(self, *args: str, input: str | None = None) -> str:
        """Run, expect a one-line error and a non-zero exit; return the message."""
        result = self.invoke(args, input=input)
        assert result.exit_code != 0, result.output
        assert isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("Error: ")
        return lines[0]


@pytest.fixture
def empty_cli(tmp_path: Path) -> Cli:
    """A runner whose database does not exist yet."""
    return Cli(tmp_path / "home" / "state.db")


@pytest.fixture
def demo_cli(empty_cli: Cli) -> Cli:
    """A runner on a database filled by ``threadloom demo``."""
    empty_cli.ok("demo")
    return empty_cli


@pytest.fixture
def demo_thread(demo_cli: Cli) -> str:
    """The id of the demo's main thread (the one with branches)."""
    threads = demo_cli.json("threads")["threads"]
    return str(threads[0]["id"])


@pytest.fixture
def seed_cli(tmp_path: Path) -> Cli:
    """A runner on a writable copy of ``../shared/fixtures/seed_v3/`` (the original's file)."""
    source = require_fixtures() / "seed_v3"
    folder = tmp_path / "seed"
    folder.mkdir()
    for name in ("state.db", "session_index.jsonl"):
        shutil.copyfile(source / name, folder / name)
        (folder / name).chmod(0o600)
    return Cli(folder / "state.db")
