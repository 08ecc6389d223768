"""The README's first steps say true things: the tour, its runnable twin, ``make run``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from threadloom import StateStore

ROOT = Path(__file__).resolve().parents[1]


def _tour() -> str:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme[readme.index("## The library in five minutes") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_the_tour_runs_and_its_lookup_returns_what_it_says(tmp_path: Path) -> None:
    code = _tour()
    claim = re.search(r'find_thread_path_by_name_str\("refactor"\)\s*# "([^"]+)"', code)
    assert claim is not None, "the tour must say what the name lookup returns"
    env = {**os.environ, "CODEWHALE_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with StateStore.open(tmp_path / "state.db") as store:
        assert store.find_thread_path_by_name_str("refactor") == claim.group(1)
        assert store.find_thread_name_by_id("t1") == "Refactor"


def test_the_quickstart_example_checks_the_tour(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "thread named 'refactor': /work/rollouts/t1.jsonl" in done.stdout
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_make_run_ends_by_saying_how_to_run_threadloom() -> None:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    recipe = makefile[makefile.index("\nrun:") :].split("\n\n")[0]
    last = recipe.strip().splitlines()[-2:]
    assert any("$(BIN)/threadloom --help" in line for line in last), last
    assert any("$(BIN)/activate" in line for line in last), last


def test_demo_if_empty_says_one_sentence(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    command = [sys.executable, "-c", "from threadloom.cli import main; main()", "--db", str(db)]
    done = subprocess.run(
        [*command, "demo", "--if-empty"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "60"},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, lines  # not cut at the terminal's width
    sentence = lines[0]
    assert sentence.startswith("No sessions yet in ") and sentence.endswith(" there.")
    assert str(db) in sentence and ":" not in sentence.replace(str(db), "")
