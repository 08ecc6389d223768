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


def _state(cli: Cli, thread: str) -> tuple[object, ...]:
    meta = cli.json("show", thread)["thread"]
    index = cli.db.with_name("session_index.jsonl").read_bytes()
    return meta["archived"], meta["archived_at"], meta["current_leaf_id"], meta["name"], index


def test_archive_and_switch_say_when_nothing_changes(demo_cli: Cli, demo_thread: str) -> None:
    leaf = demo_cli.json("show", demo_thread)["thread"]["current_leaf_id"]
    before = _state(demo_cli, demo_thread)
    out = demo_cli.ok("switch", demo_thread, str(leaf)).stdout
    assert f"#{leaf} is already the current leaf" in out and "→" not in out
    assert demo_cli.json("switch", demo_thread, str(leaf))["changed"] is False
    assert "is not archived: nothing changed" in demo_cli.ok("unarchive", demo_thread).stdout
    assert _state(demo_cli, demo_thread) == before
    demo_cli.ok("archive", demo_thread)
    archived = _state(demo_cli, demo_thread)
    out = demo_cli.ok("archive", demo_thread).stdout
    assert "is already archived: nothing changed" in out and "Archived" not in out
    assert _state(demo_cli, demo_thread) == archived  # archived_at kept


def test_rename_refuses_an_empty_name(demo_cli: Cli, demo_thread: str) -> None:
    before = _state(demo_cli, demo_thread)
    for empty in ("", "   "):
        result = demo_cli.invoke(["rename", demo_thread, empty])
        assert result.exit_code == 2 and "a name cannot be empty" in result.stderr
    assert demo_cli.invoke(["rename", demo_thread]).exit_code == 2
    assert _state(demo_cli, demo_thread) == before
    name = demo_cli.json("show", demo_thread)["thread"]["name"]
    assert "already named" in demo_cli.ok("rename", demo_thread, name).stdout
    assert _state(demo_cli, demo_thread) == before
    assert "no name" in demo_cli.ok("rename", demo_thread, "--clear").stdout
    assert demo_cli.json("show", demo_thread)["thread"]["name"] is None


def test_fork_accepts_only_the_agents_roles(demo_cli: Cli, demo_thread: str) -> None:
    before = _state(demo_cli, demo_thread)
    result = demo_cli.invoke(["fork", demo_thread, "5", "--content", "x", "--role", "usr"])
    assert result.exit_code == 2 and "'usr' is not one of" in result.stderr
    assert _state(demo_cli, demo_thread) == before
    for role in ("assistant", "system", "tool"):
        new = demo_cli.json("fork", demo_thread, "5", "--content", "x", "--role", role)
        assert demo_cli.json("show", demo_thread)["messages"][-1] == {
            **demo_cli.json("show", demo_thread)["messages"][-1],
            "id": new["message_id"],
            "role": role,
        }


def test_show_header_counts_match_threads(demo_cli: Cli, demo_thread: str) -> None:
    listed = next(t for t in demo_cli.json("threads")["threads"] if t["id"] == demo_thread)
    assert listed["branch_count"] > 1  # so the branch and the thread differ
    branch = demo_cli.json("show", demo_thread)["messages"]
    assert len(branch) < listed["message_count"]
    for args in (["show", demo_thread], ["show", demo_thread, "--all-branches"]):
        header = demo_cli.ok(*args).stdout.splitlines()[1]
        assert f"· {listed['message_count']} message(s)" in header
        assert f"· {listed['branch_count']} branch(es)" in header
    header = demo_cli.ok("show", demo_thread).stdout.splitlines()[1]
    assert f"({len(branch)} on this branch)" in header
