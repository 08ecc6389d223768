"""``demo`` and the README's command reference."""

from __future__ import annotations

import re
from pathlib import Path

import click

from tests.cli.conftest import Cli
from threadloom.cli import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def test_demo_creates_a_realistic_session(empty_cli: Cli) -> None:
    created = empty_cli.json("demo")["created"]
    assert len(created) == 3
    main = created[0]
    assert len(empty_cli.json("show", main, "--all-branches")["branches"]) == 3
    assert len(empty_cli.json("checkpoints", main)["checkpoints"]) == 3
    assert empty_cli.json("goal", main)["goal"] is not None
    assert any(j["status"] == "running" for j in empty_cli.json("jobs")["jobs"])


def test_demo_if_empty_seeds_only_once(empty_cli: Cli) -> None:
    out = empty_cli.ok("demo", "--if-empty").stdout
    assert out.count("\n") == 1 and "created demo sessions" in out
    assert empty_cli.ok("demo", "--if-empty").stdout == ""
    assert empty_cli.json("threads", "--archived")["total"] == 3


def _command_names() -> list[str]:
    names: list[str] = []
    for name, command in cli.commands.items():
        if isinstance(command, click.Group):
            names.extend(f"{name} {sub}" for sub in command.commands)
        else:
            names.append(name)
    return names


def test_every_command_is_in_the_readme_reference() -> None:
    text = README.read_text(encoding="utf-8")
    assert "## Command line" in text
    section = text.split("## Command line", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^#### `threadloom ([a-z]+(?: [a-z]+)?)", section, re.M))
    missing = [name for name in _command_names() if name not in documented]
    assert not missing, f"commands missing from README.md's command reference: {missing}"
