"""``threadloom retention``: set, show and run a stored policy."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_retention_set_show_run(demo_cli: Cli) -> None:
    assert demo_cli.json("retention", "show")["policy"] is None
    demo_cli.ok("retention", "set", "--older-than", "0", "--keep-checkpoints", "1", "--all")
    policy = demo_cli.json("retention", "show")["policy"]
    assert policy["older_than_days"] == 0 and policy["archived_only"] is False
    assert "1 latest" in demo_cli.ok("retention", "show").stdout
    dry = demo_cli.json("retention", "run", "--dry-run")
    assert dry["dry_run"] is True and len(dry["plan"]["threads"]) == 3
    assert demo_cli.json("threads", "--archived")["total"] == 3
    out = demo_cli.ok("retention", "run", "--yes", "--vacuum").stdout
    assert "Deleted 3 thread(s)" in out and "Vacuumed" in out
    assert demo_cli.json("threads", "--archived")["total"] == 0
    demo_cli.ok("retention", "set", "--clear")
    assert demo_cli.json("retention", "show")["policy"] is None


def test_retention_set_refuses_an_empty_or_bad_policy(demo_cli: Cli) -> None:
    result = demo_cli.invoke(["retention", "set"])
    assert result.exit_code == 2 and "at least one rule" in result.output
    result = demo_cli.invoke(["retention", "set", "--max-size", "lots"])
    assert result.exit_code == 2 and "not a size" in result.output
    demo_cli.ok("retention", "set", "--max-size", "2G", "--auto")
    policy = demo_cli.json("retention", "show")["policy"]
    assert policy["max_total_bytes"] == 2 * 1024**3 and policy["auto"] is True


def test_retention_run_without_a_policy_only_expires_keys(demo_cli: Cli) -> None:
    report = demo_cli.json("retention", "run", "--yes")
    assert report["deleted"]["threads"] == 0
    assert demo_cli.json("threads", "--archived")["total"] == 3
