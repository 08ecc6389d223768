"""Output width: piped output is one record per line and never wrapped; a narrow
terminal gets a table that fits, with shorter times rather than cut ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.cli.conftest import Cli
from threadloom import StateStore, ThreadMetadata
from threadloom.cli import cli

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: A whole relative time, long or short ("53 minutes ago", "2d ago", "just now").
_TIME = r"(?:just now|\d+ (?:minute|hour|day|month|year)s? ago|\d+(?:m|h|d|mo|y) ago)"

LONG = "word " * 60  # 300 characters on one line


def run(db: Path, args: list[str], **env: str) -> Result:
    result = CliRunner().invoke(cli, ["--db", str(db), *args], env=env)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def long_db(tmp_path: Path) -> Path:
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        for n in range(3):
            thread = ThreadMetadata.create(f"thread-{n}", cwd="/w", now=1_700_000_000 + n)
            store.upsert_thread(
                ThreadMetadata.from_dict({**thread.to_dict(), "name": f"name {n} {LONG}"})
            )
            store.append_message(f"thread-{n}", "user", f"{n} {LONG}")
    return path


def test_piped_output_is_one_record_per_line_unwrapped(long_db: Path) -> None:
    # COLUMNS=80 is what a terminal beside the pipe would report: it must not matter.
    lines = run(long_db, ["threads"], COLUMNS="80").stdout.splitlines()
    assert len(lines) == 1 + 3 + 1  # header, one line per thread, footer
    for n, line in enumerate(lines[1:4]):
        assert line.startswith(f"thread-{2 - n}")
        assert re.search(rf"idle\s+{_TIME}\s+1\s+1$", line), line
    shown = run(long_db, ["show", "thread-0"], COLUMNS="80").stdout.splitlines()
    assert f"0 {LONG}".rstrip() in [line.rstrip() for line in shown]
    assert f"name 0 {LONG}".rstrip() in [line.rstrip() for line in shown]  # the title
    assert any(line.startswith("thread-0 · idle · /w · updated") for line in shown)
    doctor = run(long_db, ["doctor"], COLUMNS="80").stdout.splitlines()
    index_line = next(line for line in doctor if line.startswith("Session index"))
    assert index_line.rstrip().endswith("0 unknown (kept)")  # one line, not wrapped


@pytest.mark.parametrize("width", [120, 100, 80, 70, 60, 50, 40, 30])
def test_a_narrow_terminal_fits_without_cutting_times(demo_cli: Cli, width: int) -> None:
    result = run(
        demo_cli.db,
        ["threads", "--archived"],
        COLUMNS=str(width),
        TTY_COMPATIBLE="1",  # Rich: this is a terminal
        NO_COLOR="1",
    )
    lines = [_ANSI.sub("", line).rstrip() for line in result.stdout.splitlines()]
    assert all(len(line) <= width for line in lines), lines
    threads = demo_cli.json("threads", "--archived")["threads"]
    text = "\n".join(lines)
    for thread in threads:
        assert thread["id"][:8] in text
    times = re.findall(_TIME, text)
    assert len(times) == len(threads), text  # every time whole, none cut mid-word
    if width >= 80:
        # The preview stays at 80 columns (it used to go below 80 + 79).
        assert "Preview" in lines[0], text
    counts = re.findall(rf"{_TIME}\s+(\d+)\s+(\d+)$", text, re.MULTILINE)
    stacked = re.findall(r"(\d+) msgs\s+· (\d+) br\.", text)  # may wrap between words
    assert len(counts or stacked) == len(threads), text
