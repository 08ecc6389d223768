"""``threadloom retention``: set, show and run a stored policy."""

from __future__ import annotations

import pytest

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


def test_encryption_enable_status_rotate(demo_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    before = demo_cli.json("encryption", "status")
    assert before["key_ids"] == [] and all(c["sealed"] == {} for c in before["columns"])
    assert "THREADLOOM_ENCRYPTION_KEY" in demo_cli.fails("encryption", "enable", "--yes")
    old = demo_cli.json("encryption", "keygen")["key"]
    monkeypatch.setenv("THREADLOOM_ENCRYPTION_KEY", old)
    result = demo_cli.invoke(["encryption", "enable"], input="n\n")
    assert result.exit_code == 1 and "the original CodeWhale reads" in result.stderr
    assert demo_cli.json("encryption", "status")["key_ids"] == []
    enabled = demo_cli.json("encryption", "enable", "--yes")
    assert sum(enabled["encrypted"].values()) == 28
    thread = demo_cli.json("threads")["threads"][0]["id"]
    assert demo_cli.json("show", thread)["messages"][0]["content"].startswith("The tests")
    new = demo_cli.json("encryption", "keygen")["key"]
    monkeypatch.setenv("THREADLOOM_ENCRYPTION_KEY", f"{new},{old}")
    rotated = demo_cli.json("encryption", "rotate")
    assert sum(rotated["resealed"].values()) == 28
    monkeypatch.setenv("THREADLOOM_ENCRYPTION_KEY", new)
    status = demo_cli.json("encryption", "status")
    assert all(set(c["sealed"]) == {rotated["current_key"]} for c in status["columns"])
    assert demo_cli.json("show", thread)["messages"][0]["content"].startswith("The tests")
    monkeypatch.delenv("THREADLOOM_ENCRYPTION_KEY")
    assert "encrypted with key" in demo_cli.fails("show", thread)
    # The retired key is still one of the database's, but no value is sealed with it now.
    monkeypatch.setenv("THREADLOOM_ENCRYPTION_KEY", old)
    assert f"encrypted with key {rotated['current_key']}" in demo_cli.fails("show", thread)
    monkeypatch.setenv("THREADLOOM_ENCRYPTION_KEY", demo_cli.json("encryption", "keygen")["key"])
    assert "wrong encryption key" in demo_cli.fails("show", thread)
