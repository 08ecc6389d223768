"""``doctor``, ``repair``, ``prune``, ``stats``, ``migrate``."""

from __future__ import annotations

import sqlite3

from tests.cli.conftest import Cli


def test_doctor_finds_what_the_original_left_behind(seed_cli: Cli) -> None:
    report = seed_cli.json("doctor")
    assert report["schema_version"] == 3
    assert report["pending_steps"] == ["v4", "threadloom-v1", "threadloom-v2", "threadloom-v3"]
    assert report["integrity"] == ["ok"]
    assert report["orphans"] == {
        "messages": 2,
        "checkpoints": 2,
        "thread_dynamic_tools": 1,
        "thread_goals": 1,
    }
    assert report["foreign_key_violations"]["messages"] == 2
    assert report["stale_archived_status"] == ["t-epsilon"]
    index = report["session_index"]
    # The original deleted these without a record: they may as well belong to another
    # database in the folder, so they are kept and are no problem.
    assert index["deleted_threads"] == []
    assert index["other_threads"] == ["t-ghost", "t-goal-tmp", "t-temp", "t-unnamed"]
    assert not [p for p in report["problems"] if "session index" in p]
    assert index["superseded_lines"] == 2
    out = seed_cli.ok("doctor").stdout
    assert "Orphans" in out and "t-missing" in out and "problem(s)" in out
    assert seed_cli.invoke(["doctor", "--check"]).exit_code == 1


def test_doctor_reports_torn_lines_and_garbage_leaves(demo_cli: Cli) -> None:
    index = demo_cli.db.with_name("session_index.jsonl")
    with index.open("ab") as handle:
        handle.write(b'{"thread_id": "torn\n{"thread_id":"x","updated_at":1}\n')
    with sqlite3.connect(demo_cli.db) as conn:
        conn.execute(
            "UPDATE threads SET current_leaf_id = 'garbage' WHERE title = 'Old experiment'"
        )
    report = demo_cli.json("doctor")
    assert report["session_index"]["skipped_lines"] == 1
    assert list(report["bad_leaves"].values()) == ["garbage"]
    assert report["session_index"]["other_threads"] == ["x"]
    done = demo_cli.json("repair", "--yes")["repair"]
    old = next(
        t
        for t in demo_cli.json("threads", "--archived")["threads"]
        if t["title"] == "Old experiment"
    )
    assert done["leaves_reset"] == {old["id"]: old["current_leaf_id"]}  # its newest tip
    assert old["current_leaf_id"] is not None
    assert demo_cli.json("doctor")["problems"] == []


def test_repair_shows_then_fixes(seed_cli: Cli) -> None:
    shown = seed_cli.ok("repair", "--dry-run").stdout
    assert "orphan row(s) in messages" in shown
    assert seed_cli.json("doctor")["orphans"]["messages"] == 2  # dry run changed nothing
    aborted = seed_cli.invoke(["repair"], input="n\n")
    assert aborted.exit_code == 1 and "Repair now" in aborted.output
    out = seed_cli.ok("repair", "--yes").stdout
    assert "deleted 6 orphan row(s)" in out and "t-epsilon: status reset to idle" in out
    assert "session index 11 → 9 line(s)" in out  # superseded lines only: 9 threads
    report = seed_cli.json("doctor")
    assert report["problems"] == [] and report["foreign_key_violations"] == {}
    assert seed_cli.invoke(["doctor", "--check"]).exit_code == 0
    assert len(seed_cli.json("show", "t-alpha", "--all-branches")["messages"]) == 8


def test_prune_dry_run_then_delete(demo_cli: Cli) -> None:
    dry = demo_cli.json("prune", "--archived", "--dry-run")
    assert [t["title"] for t in dry["threads"]] == ["Old experiment"] and dry["deleted"] == 0
    assert "Dry run" in demo_cli.ok("prune", "--older-than", "1", "--dry-run").stdout
    assert demo_cli.json("threads", "--archived")["total"] == 3
    done = demo_cli.json("prune", "--older-than", "1", "--status", "completed")
    assert done["deleted"] == 1 and done["threads"][0]["title"] == "Flaky CI on macOS"
    out = demo_cli.ok("prune", "--archived", "--yes").stdout
    assert "Deleted 1 thread(s)." in out and "Vacuumed" in out
    assert demo_cli.json("threads", "--archived")["total"] == 1
    assert demo_cli.invoke(["prune"]).exit_code == 2  # a criterion is required


def test_stats(demo_cli: Cli) -> None:
    data = demo_cli.json("stats")
    rows = {t["name"]: t["rows"] for t in data["tables"]}
    assert rows["threads"] == 3 and rows["messages"] == 16 and rows["jobs"] == 3
    assert data["largest_threads"][0]["messages"] == 11
    assert data["files"]["database"] > 0
    out = demo_cli.ok("stats").stdout
    assert "Largest threads" in out and "Fix 'database is locked'" in out


def test_migrate_shows_then_applies(seed_cli: Cli) -> None:
    dry = seed_cli.ok("migrate", "--dry-run").stdout
    assert "v4: goal continuation count" in dry and "4 pending step(s)" in dry
    data = seed_cli.json("migrate")
    assert data["applied"] == ["v4", "threadloom-v1", "threadloom-v2", "threadloom-v3"]
    assert data["schema_version"] == 4
    assert "Up to date" in seed_cli.ok("migrate").stdout
