"""``threads``, ``show`` and ``tree`` on the demo database and on the original's file."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_threads_lists_sessions_newest_first(demo_cli: Cli) -> None:
    out = demo_cli.ok("threads").stdout
    assert "Fix 'database is locked'" in out
    assert "Flaky CI on macOS" in out
    assert "Old experiment" not in out  # archived: hidden by default
    assert out.index("Fix 'database") < out.index("Flaky CI")
    assert "page 1 of 1 · 2 thread(s)" in out


def test_threads_json_shape_and_counts(demo_cli: Cli) -> None:
    data = demo_cli.json("threads", "--archived")
    assert set(data) == {"threads", "total", "page", "pages"}
    assert data["total"] == 3
    first = data["threads"][0]
    for key in ("id", "name", "preview", "status", "updated_at", "cwd", "current_leaf_id"):
        assert key in first
    assert first["message_count"] == 11
    assert first["branch_count"] == 3
    assert [t["name"] for t in data["threads"]][2] == "Old experiment"


def test_threads_filters_and_pages(demo_cli: Cli) -> None:
    assert [t["name"] for t in demo_cli.json("threads", "--only-archived")["threads"]] == [
        "Old experiment"
    ]
    done = demo_cli.json("threads", "--status", "completed")["threads"]
    assert [t["name"] for t in done] == ["Flaky CI on macOS"]
    assert demo_cli.json("threads", "--name", "FLAKY")["total"] == 1
    assert demo_cli.json("threads", "--cwd", "/nowhere")["total"] == 0
    page = demo_cli.json("threads", "--archived", "--limit", "2", "--page", "2")
    assert (page["pages"], len(page["threads"])) == (2, 1)
    assert "next: --page 2" in demo_cli.ok("threads", "--archived", "--limit", "2").stdout


def test_threads_on_the_originals_database(seed_cli: Cli) -> None:
    data = seed_cli.json("threads", "--archived")
    assert {t["id"] for t in data["threads"]} == {
        "t-alpha",
        "t-beta",
        "t-gamma",
        "t-delta",
        "t-epsilon",
    }
    out = seed_cli.ok("threads").stdout
    assert "Alpha Project" in out and "Δelta 🚀 프로젝트" in out


def test_show_current_branch_with_roles_tools_and_folding(demo_cli: Cli, demo_thread: str) -> None:
    out = demo_cli.ok("show", demo_thread[:8]).stdout
    assert "Fix 'database is locked'" in out
    assert "#8 assistant" in out and "◀ current leaf" in out
    assert '⚙ read_file(path="src/store.py")' in out  # a tool call, summarized
    assert "↳ run_tests: 12 passed" in out  # a tool result, summarized
    assert "more line(s) folded" in out  # the 21-line file content
    assert "single writer" not in out  # another branch
    assert "more line(s) folded" not in demo_cli.ok("show", demo_thread, "--full").stdout


def test_show_json_and_all_branches(demo_cli: Cli, demo_thread: str) -> None:
    data = demo_cli.json("show", demo_thread)
    assert [m["id"] for m in data["messages"]] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert data["thread"]["current_leaf_id"] == 8
    every = demo_cli.json("show", demo_thread, "--all-branches")
    assert len(every["messages"]) == 11
    assert [b["leaf_id"] for b in every["branches"]] == [8, 10, 11]
    assert [b["current"] for b in every["branches"]] == [True, False, False]
    out = demo_cli.ok("show", demo_thread, "--all-branches").stdout
    assert "branch 2, forks from #4" in out and "single writer" in out


def test_show_by_name_on_the_originals_database(seed_cli: Cli) -> None:
    out = seed_cli.ok("show", "alpha project").stdout  # names match ignoring ASCII case
    assert "t-alpha" in out and "There are two files." in out


def test_tree_marks_branches_and_current_leaf(demo_cli: Cli, demo_thread: str) -> None:
    out = demo_cli.ok("tree", demo_thread).stdout
    assert "fork at #4" in out and "fork at #1" in out
    current = [line for line in out.splitlines() if "◀ current" in line]
    assert len(current) == 1 and "#8 assistant" in current[0]
    data = demo_cli.json("tree", demo_thread)
    assert data["current_leaf_id"] == 8
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes[4]["children"] == [5, 9]
    assert nodes[8]["current"] and nodes[1]["on_current_branch"]
    assert not nodes[10]["on_current_branch"]
