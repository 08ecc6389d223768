"""``threadloom search`` and ``show --at``."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_search_prints_hits_with_snippets(demo_cli: Cli) -> None:
    out = demo_cli.ok("search", "wal OR journal", "--limit", "3").stdout
    lines = out.splitlines()
    assert len(lines) == 7
    assert "Fix 'database is locked'" in lines[0] and "#10 assistant" in lines[0]
    assert "other branch" in lines[0]
    assert lines[1].startswith("  ") and "WAL" in lines[1]
    assert lines[-1].startswith("page 1 · 3 hit(s) (more: --page 2)")


def test_search_json_filters_and_pages(demo_cli: Cli) -> None:
    hits = demo_cli.json("search", "connection*", "--role", "assistant")["hits"]
    assert hits and all(h["role"] == "assistant" for h in hits)
    first = hits[0]
    start, end = first["highlights"][0]
    assert first["snippet"][start:end].lower().startswith("connection")
    page2 = demo_cli.json("search", "wal OR journal", "--limit", "2", "--page", "2")["hits"]
    page1 = demo_cli.json("search", "wal OR journal", "--limit", "2")["hits"]
    assert {h["message_id"] for h in page1}.isdisjoint(h["message_id"] for h in page2)
    assert demo_cli.json("search", "zzzunknown")["hits"] == []


def test_search_errors(demo_cli: Cli) -> None:
    assert "no word to search for" in demo_cli.fails("search", '"*"')
    assert "past the last hit" in demo_cli.fails("search", "wal", "--page", "50")
    assert (
        "neither Unix seconds nor a date"
        in demo_cli.invoke(["search", "wal", "--since", "soon"]).output
    )
    assert demo_cli.invoke(["search"]).exit_code == 2
    assert demo_cli.invoke(["search", "x", "--rebuild"]).exit_code == 2


def test_reindex_and_since(demo_cli: Cli) -> None:
    assert "Indexed" in demo_cli.ok("search", "--reindex", "--rebuild").stdout
    status = demo_cli.json("search", "--reindex")
    assert status["indexed"] == 0 and status["status"]["pending"] == 0
    assert demo_cli.json("search", "wal", "--since", "2000-01-01")["hits"]
    assert demo_cli.json("search", "wal", "--until", "2000-01-01")["hits"] == []


def test_show_at_opens_the_branch_around_a_hit(demo_cli: Cli, demo_thread: str) -> None:
    hit = next(
        h for h in demo_cli.json("search", "single writer")["hits"] if not h["on_current_branch"]
    )
    shown = demo_cli.json(
        "show", hit["thread_id"], "--at", str(hit["message_id"]), "--context", "1"
    )
    ids = [m["id"] for m in shown["messages"]]
    assert hit["message_id"] in ids and len(ids) <= 3
    text = demo_cli.ok("show", hit["thread_id"], "--at", str(hit["message_id"])).stdout
    assert f"▲ #{hit['message_id']}" in text
    assert "not in thread" in demo_cli.fails("show", demo_thread, "--at", "999")
