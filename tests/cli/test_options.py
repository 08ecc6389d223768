"""Numeric options: one type per kind, the same rules in every command, no traceback."""

from __future__ import annotations

import math

import click
import pytest

from tests.cli.conftest import Cli
from threadloom import InvalidRecord, StateStore
from threadloom.cli import cli
from threadloom.cli.params import Count, Days
from threadloom.maintenance import select_threads_to_prune

#: Every count/limit option, with the arguments its command needs (``{t}``: a thread).
COUNT_OPTIONS = [
    (["threads"], "--limit"),
    (["threads"], "--page"),
    (["show", "{t}"], "--max-lines"),
    (["show", "{t}"], "--last"),
    (["checkpoints", "{t}"], "--limit"),
    (["jobs"], "--limit"),
    (["stats"], "--top"),
]
BAD_COUNTS = ["0", "-1", "abc", "1.5", "inf", "", str(2**63), "9" * 400]


def _all_options() -> list[tuple[str, click.Option]]:
    out: list[tuple[str, click.Option]] = []
    stack: list[tuple[str, click.Command]] = [("", cli)]
    while stack:
        prefix, command = stack.pop()
        if isinstance(command, click.Group):
            stack.extend((f"{prefix} {n}".strip(), c) for n, c in command.commands.items())
            continue
        out.extend((prefix, p) for p in command.params if isinstance(p, click.Option))
    return out


def test_every_numeric_option_uses_the_shared_types() -> None:
    numeric = [
        (name, option)
        for name, option in _all_options()
        if isinstance(option.type, click.types.IntParamType | click.types.FloatParamType)
    ]
    assert numeric
    stray = [
        f"{name} {option.opts[0]}: {type(option.type).__name__}"
        for name, option in numeric
        if not isinstance(option.type, Count | Days)
    ]
    assert stray == []


@pytest.mark.parametrize(("command", "option"), COUNT_OPTIONS, ids=lambda v: str(v))
def test_counts_are_whole_numbers_from_1(
    demo_cli: Cli, demo_thread: str, command: list[str], option: str
) -> None:
    args = [a.format(t=demo_thread) for a in command]
    for bad in BAD_COUNTS:
        result = demo_cli.invoke([*args, option, bad])
        assert result.exit_code == 2, (option, bad, result.output)
        assert "Traceback" not in result.output
        assert f"Invalid value for '{option}'" in result.stderr, result.stderr
    demo_cli.ok(*args, option, "1")
    demo_cli.ok(*args, option, "+1")


def test_a_page_past_the_last_is_refused(demo_cli: Cli) -> None:
    total = demo_cli.json("threads", "--limit", "1")["total"]
    demo_cli.ok("threads", "--limit", "1", "--page", str(total))
    for page in (str(total + 1), "1000000", str(2**63 - 1)):
        result = demo_cli.invoke(["threads", "--limit", "1", "--page", page])
        assert result.exit_code == 2
        assert f"there is no page {page}: {total} thread(s) make {total} page(s)" in (result.stderr)


@pytest.mark.parametrize("days", ["inf", "-inf", "nan", "1e308", "-1", "1000001", "x", ""])
def test_prune_refuses_ages_that_are_not_finite_days(demo_cli: Cli, days: str) -> None:
    result = demo_cli.invoke(["prune", "--older-than", days, "--dry-run"])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--older-than'" in result.stderr
    assert "Traceback" not in result.output
    demo_cli.ok("prune", "--older-than", "0.5", "--dry-run")
    demo_cli.ok("prune", "--older-than", "1000000", "--dry-run")


@pytest.mark.parametrize("days", [math.inf, math.nan, 1e308, -1.0, 10**30])
def test_select_threads_to_prune_refuses_them_too(sqlite_store: StateStore, days: float) -> None:
    with pytest.raises(InvalidRecord, match="older_than_days"):
        select_threads_to_prune(sqlite_store, older_than_days=days)
