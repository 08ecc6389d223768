"""``fork``, ``switch``, ``rename``, ``archive``, ``unarchive``, ``delete``."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_fork_then_switch_back(demo_cli: Cli, demo_thread: str) -> None:
    forked = demo_cli.json("fork", demo_thread, "5", "--content", "Try 10 s instead")
    assert forked["parent_id"] == 5
    new_id = forked["message_id"]
    branch = demo_cli.json("show", demo_thread)["messages"]
    assert [m["id"] for m in branch][-2:] == [5, new_id]
    out = demo_cli.ok("switch", demo_thread, "#8").stdout
    assert f"#{new_id} → #8" in out
    assert demo_cli.json("show", demo_thread)["thread"]["current_leaf_id"] == 8


def test_fork_and_switch_reject_messages_of_other_threads(demo_cli: Cli, demo_thread: str) -> None:
    other = demo_cli.json("threads")["threads"][1]["id"]
    message = demo_cli.json("show", other)["messages"][0]["id"]
    assert "is not a message of thread" in demo_cli.fails("switch", demo_thread, str(message))
    assert "is not a message" in demo_cli.fails("fork", demo_thread, "999", "--content", "x")
    assert "must be a number" in demo_cli.fails("switch", demo_thread, "abc")


def test_rename_archive_unarchive(demo_cli: Cli, demo_thread: str) -> None:
    demo_cli.ok("rename", demo_thread, "Locking fix")
    assert "Archived" in demo_cli.ok("archive", "locking FIX").stdout  # found by the new name
    assert demo_thread not in {t["id"] for t in demo_cli.json("threads")["threads"]}
    demo_cli.ok("unarchive", demo_thread)
    thread = demo_cli.json("show", demo_thread)["thread"]
    assert (thread["name"], thread["archived"], thread["status"]) == ("Locking fix", False, "idle")


def test_delete_asks_first(demo_cli: Cli, demo_thread: str) -> None:
    result = demo_cli.invoke(["delete", demo_thread], input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    assert demo_cli.json("threads")["total"] == 2
    demo_cli.ok("delete", demo_thread, input="y\n")
    assert demo_cli.json("threads")["total"] == 1
    assert "no thread matches" in demo_cli.fails("show", demo_thread)
    other = demo_cli.json("threads")["threads"][0]["id"]
    assert "Deleted" in demo_cli.ok("delete", other, "--yes").stdout
