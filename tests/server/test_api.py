"""The JSON API on SQLite and PostgreSQL: the CLI's ``--json`` twins answer the same
documents, the viewer's own endpoints (branch pages, diffs, workflow runs, search)
answer what the store holds, and bad requests get a 4xx with one line of error.

``threadloom serve`` itself is run for real in ``test_serve_process.py`` and the
browser tests; here the app runs in-process (the ``"serve"`` command's cross-backend
test, named in tests/cli/test_commands_on_both_backends.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from tests.server.conftest import Served
from threadloom.cli import cli
from threadloom.server import ENDPOINTS, ServerOptions, openapi

COMMAND = "serve"


def _cli_json(db: str, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--db", db, *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _get(client: TestClient, path: str, expect: int = 200, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == expect, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def test_every_cli_twin_answers_the_cli_document(served: Served, client: TestClient) -> None:
    main = served.ids["main"]
    twins: list[tuple[str, dict[str, Any], list[str]]] = [
        ("/api/threads", {}, ["threads"]),
        (
            "/api/threads",
            {"archived": "include", "limit": 2, "page": 2},
            ["threads", "--archived", "--limit", "2", "--page", "2"],
        ),
        ("/api/threads", {"status": "running"}, ["threads", "--status", "running"]),
        (f"/api/threads/{main}/messages", {}, ["show", main]),
        (f"/api/threads/{main}/tree", {}, ["tree", main]),
        (f"/api/threads/{main}/checkpoints", {}, ["checkpoints", main]),
        (f"/api/threads/{main}/checkpoints/turn-1", {}, ["checkpoint", "show", main, "turn-1"]),
        (f"/api/threads/{main}/goal", {}, ["goal", main]),
        (f"/api/threads/{main}/tools", {}, ["tools", main]),
        ("/api/jobs", {}, ["jobs"]),
        ("/api/jobs", {"status": "running"}, ["jobs", "--status", "running"]),
    ]
    for path, params, args in twins:
        api = _get(client, path, **params)
        expected = _cli_json(served.db, *args)
        # The API may add keys (a page says which branch it shows); it renames none.
        assert {k: api[k] for k in expected} == expected, (path, args)
    covered = {twin[2][0] if twin[2][0] != "checkpoint" else "checkpoint show" for twin in twins}
    declared = {e.cli_twin.removesuffix(" --json") for e in ENDPOINTS if e.cli_twin}
    assert declared - {"fork", "switch"} <= covered  # the writing twins: test_writes


def test_a_branch_pages_backwards_and_to_any_leaf(served: Served, client: TestClient) -> None:
    main = served.ids["main"]
    every = _get(client, f"/api/threads/{main}/messages")
    ids = [m["id"] for m in every["messages"]]
    assert every["branch"] == {"leaf_id": ids[-1], "has_more": False}
    last3 = _get(client, f"/api/threads/{main}/messages", limit=3)
    assert [m["id"] for m in last3["messages"]] == ids[-3:] and last3["branch"]["has_more"]
    older = _get(client, f"/api/threads/{main}/messages", limit=3, before=ids[-3])
    assert [m["id"] for m in older["messages"]] == ids[-6:-3]
    tree = _get(client, f"/api/threads/{main}/tree")
    leaves = [n["id"] for n in tree["nodes"] if not n["children"]]
    other = next(leaf for leaf in leaves if leaf != tree["current_leaf_id"])
    page = _get(client, f"/api/threads/{main}/messages", leaf=other)
    assert page["messages"][-1]["id"] == other
    by_id = {n["id"]: n for n in tree["nodes"]}
    for parent, child in zip(page["messages"], page["messages"][1:], strict=False):
        assert by_id[child["id"]]["parent_id"] == parent["id"]
    assert page["messages"][0]["parent_entry_id"] is None
    _get(client, f"/api/threads/{main}/messages", 404, leaf=10**9)
    _get(client, f"/api/threads/{main}/messages", 400, limit="many")
    _get(client, f"/api/threads/{main}/messages", 400, limit=10**6)


def test_a_diff_starts_after_the_common_ancestor(served: Served, client: TestClient) -> None:
    main = served.ids["main"]
    tree = _get(client, f"/api/threads/{main}/tree")
    current = tree["current_leaf_id"]
    other = next(n["id"] for n in tree["nodes"] if not n["children"] and n["id"] != current)
    diff = _get(client, f"/api/threads/{main}/diff", a=current, b=other)
    a_path = _get(client, f"/api/threads/{main}/messages", leaf=current)["messages"]
    b_path = _get(client, f"/api/threads/{main}/messages", leaf=other)["messages"]
    shared = [m["id"] for m in a_path if m["id"] in {x["id"] for x in b_path}]
    assert diff["common"] == shared and diff["ancestor_id"] == shared[-1]
    assert [m["id"] for m in diff["a"]["messages"]] == [m["id"] for m in a_path[len(shared) :]]
    assert [m["id"] for m in diff["b"]["messages"]] == [m["id"] for m in b_path[len(shared) :]]
    same = _get(client, f"/api/threads/{main}/diff", a=current, b=current)
    assert same["a"]["messages"] == same["b"]["messages"] == []
    _get(client, f"/api/threads/{main}/diff", 400, a=current)
    _get(client, f"/api/threads/{main}/diff", 404, a=current, b=10**9)


def test_workflow_runs_mark_replay_hits_and_divergences(served: Served, client: TestClient) -> None:
    runs = _get(client, "/api/workflows/runs")["runs"]
    assert {r["id"] for r in runs} == {served.ids["run"], served.ids["first_run"]}
    run = _get(client, f"/api/workflows/runs/{served.ids['run']}")
    marks = {leaf["leaf_id"]: leaf["replay"] for b in run["branches"] for leaf in b["leaves"]}
    assert marks == {"summarize": "hit", "lint": "diverged"}
    first = _get(client, f"/api/workflows/runs/{served.ids['first_run']}")
    assert {leaf["replay"] for b in first["branches"] for leaf in b["leaves"]} == {None}
    _get(client, "/api/workflows/runs/nope", 404)


def test_search_finds_messages_and_sessions(served: Served, client: TestClient) -> None:
    hits = _get(client, "/api/search", q="WAL")["hits"]
    assert hits and all(h["thread_id"] == served.ids["main"] for h in hits)
    assert any(h["message_id"] is not None and "WAL" in h["snippet"] for h in hits)
    # The fields of the store's SearchHit records (full-text search, issue 14).
    assert set(hits[0]) == {
        "thread_id", "thread_name", "message_id", "role", "created_at", "on_current_branch",
        "matched_in", "snippet", "highlights", "rank",
    }  # fmt: skip
    for h in hits:
        for start, end in h["highlights"]:
            assert h["snippet"][start:end].casefold() == "wal"
    assert _get(client, "/api/search", q="flaky ci")["hits"][0]["thread_id"] == served.ids["ci"]
    assert _get(client, "/api/search", q="no such text anywhere")["hits"] == []
    _get(client, "/api/search", 400, q="  ")


def test_missing_things_are_404_and_bad_parameters_400(client: TestClient) -> None:
    assert _get(client, "/api/threads/nope", 404) == {"error": "no thread 'nope'"}
    _get(client, "/api/threads/nope/tree", 404)
    _get(client, "/api/threads", 400, status="sleeping")
    _get(client, "/api/threads", 400, page=0)
    _get(client, "/api/no/such/endpoint", 404)


def test_the_openapi_description_lists_every_route(client: TestClient) -> None:
    doc = _get(client, "/api/openapi.json")
    assert doc["openapi"].startswith("3.")
    reads = {(e.method.lower(), e.path) for e in ENDPOINTS if not e.write}
    listed = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert listed == reads  # read-only: the writes are neither served nor described
    full = openapi(ServerOptions(allow_writes=True))
    assert {(m, p) for p, ops in full["paths"].items() for m in ops} == {
        (e.method.lower(), e.path) for e in ENDPOINTS
    }
    index = _get(client, "/api/")
    assert index["read_only"] is True and index["openapi"] == "/api/openapi.json"


WRITE_HEADERS = {"origin": "http://127.0.0.1:8765", "content-type": "application/json"}


def test_writes_fork_switch_rename_and_archive(served: Served) -> None:
    main = served.ids["main"]
    with served.client(allow_writes=True) as client:
        before = _get(client, f"/api/threads/{main}")["thread"]["current_leaf_id"]

        def post(action: str, body: Any, status: int = 200) -> Any:
            response = client.post(
                f"/api/threads/{main}/{action}", content=json.dumps(body), headers=WRITE_HEADERS
            )
            assert response.status_code == status, response.text
            return response.json()

        forked = post("fork", {"message_id": 1, "content": "Try again", "role": "user"})
        assert forked["thread_id"] == main and forked["parent_id"] == 1
        assert served.store.get_thread(main).current_leaf_id == forked["message_id"]  # type: ignore[union-attr]
        switched = post("switch", {"message_id": before})
        assert switched == {
            "thread_id": main,
            "previous_leaf_id": forked["message_id"],
            "current_leaf_id": before,
            "changed": True,
        }
        assert post("switch", {"message_id": before})["changed"] is False
        assert post("rename", {"name": "Renamed"})["title"] == "Renamed"
        assert post("rename", {"name": None})["thread"]["name"] is None
        assert post("archive", {"archived": True})["thread"]["archived"] is True
        assert post("archive", {"archived": False})["thread"]["archived"] is False
        post("fork", {"message_id": 10**9, "content": "x"}, 404)
        post("fork", {"message_id": "1", "content": "x"}, 400)
        post("fork", {"message_id": 1, "content": "x", "role": "admin"}, 400)
        post("rename", {"name": "  "}, 400)
        post("switch", {}, 400)
        bad = client.post(f"/api/threads/{main}/switch", content=b"{", headers=WRITE_HEADERS)
        assert bad.status_code == 400
        # The same document as `threadloom switch --json`.
        cli_doc = _cli_json(served.db, "switch", main, str(forked["message_id"]))
        assert set(cli_doc) == set(switched)


@pytest.mark.parametrize("path", ["/", "/index.html", "/app.js", "/style.css", "/views/tree.js"])
def test_the_viewer_files_are_served_with_their_types(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    kind = {"/": "text/html", "/index.html": "text/html", "/style.css": "text/css"}
    assert response.headers["content-type"].startswith(kind.get(path, "text/javascript"))
