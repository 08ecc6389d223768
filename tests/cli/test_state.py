"""``checkpoints``, ``checkpoint show``, ``jobs``, ``goal``, ``tools``."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_checkpoints_latest_first(demo_cli: Cli, demo_thread: str) -> None:
    data = demo_cli.json("checkpoints", demo_thread)
    assert [c["checkpoint_id"] for c in data["checkpoints"]] == ["latest", "turn-2", "turn-1"]
    out = demo_cli.ok("checkpoints", demo_thread).stdout
    assert "turn-1" in out and "files_read, turn" in out


def test_checkpoint_show(demo_cli: Cli, demo_thread: str) -> None:
    latest = demo_cli.json("checkpoint", "show", demo_thread)
    assert latest["checkpoint_id"] == "latest" and latest["state"]["leaf"] == 8
    out = demo_cli.ok("checkpoint", "show", demo_thread, "turn-1").stdout
    assert '"files_read"' in out and "src/store.py" in out
    assert "has no checkpoint 'nope'" in demo_cli.fails("checkpoint", "show", demo_thread, "nope")


def test_checkpoints_on_the_originals_database(seed_cli: Cli) -> None:
    ids = [c["checkpoint_id"] for c in seed_cli.json("checkpoints", "t-gamma")["checkpoints"]]
    assert sorted(ids) == [f"scalar-{n}" for n in range(7)]


def test_jobs_with_progress_bars(demo_cli: Cli) -> None:
    data = demo_cli.json("jobs")
    assert {j["status"] for j in data["jobs"]} == {"running", "completed", "queued"}
    assert set(data["jobs"][0]) == {
        "id",
        "name",
        "status",
        "progress",
        "detail",
        "created_at",
        "updated_at",
    }
    out = demo_cli.ok("jobs").stdout
    running = next(line for line in out.splitlines() if "run tests" in line)
    assert "━" in running and "64%" in running
    assert "100%" in out
    assert len(demo_cli.json("jobs", "--status", "queued")["jobs"]) == 1


def test_jobs_on_the_originals_database(seed_cli: Cli) -> None:
    out = seed_cli.ok("jobs").stdout
    assert "run tests" in out and "77%" in out and "cancelled" in out


def test_goal(demo_cli: Cli, demo_thread: str) -> None:
    goal = demo_cli.json("goal", demo_thread)["goal"]
    assert goal["tokens_used"] == 48_350 and goal["continuation_count"] == 2
    out = demo_cli.ok("goal", demo_thread).stdout
    assert "48,350 / 200,000 tokens (24%)" in out and "Make concurrent writers" in out
    other = demo_cli.json("threads")["threads"][1]["id"]
    assert demo_cli.json("goal", other) == {"thread_id": other, "goal": None}
    assert "has no goal" in demo_cli.ok("goal", other).stdout


def test_tools(demo_cli: Cli, demo_thread: str) -> None:
    tools = demo_cli.json("tools", demo_thread)["tools"]
    assert [t["name"] for t in tools] == ["read_file", "run_tests"]
    out = demo_cli.ok("tools", demo_thread).stdout
    assert "path, workers?" in out


def test_goal_and_tools_on_the_originals_database(seed_cli: Cli) -> None:
    assert seed_cli.json("goal", "t-alpha")["goal"]["objective"] == "Ship state store v3"
    assert len(seed_cli.json("tools", "t-alpha")["tools"]) == 2
