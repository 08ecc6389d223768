"""``copy``: SQLite → PostgreSQL → SQLite gives identical data; resumable; verified."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from threadloom import DynamicToolRecord, StateStore, ThreadGoalRecord, ThreadMetadata
from threadloom.cli import cli
from threadloom.cli.demo import create_demo
from threadloom.copy import copy_store
from threadloom.export import build_document

pytestmark = pytest.mark.postgres

NUL_TEXT = "nul\x00here \ufdd0 and \ufdd00"


def _fill(store: StateStore) -> None:
    create_demo(store, now=1_750_000_000)
    store.upsert_thread(ThreadMetadata.create("odd" + NUL_TEXT, name=NUL_TEXT, cwd="/w"))
    first = store.append_message("odd" + NUL_TEXT, "user", NUL_TEXT, {NUL_TEXT: [1e300, -0.5]})
    store.append_message("odd" + NUL_TEXT, "assistant", "b")
    store.fork_at_message(first, "assistant", "c")
    for n in range(3):  # same second: "latest" is decided by insertion order
        store.save_checkpoint("odd" + NUL_TEXT, f"c{n}", {"n": n})
    store.save_checkpoint("odd" + NUL_TEXT, "c0", {"n": "again"})
    store.persist_dynamic_tools(
        "odd" + NUL_TEXT,
        [
            DynamicToolRecord(
                position=0, name=NUL_TEXT, description=None, input_schema={"type": "object"}
            )
        ],
    )
    store.upsert_thread_goal(
        ThreadGoalRecord.from_dict(
            {
                "thread_id": "odd" + NUL_TEXT,
                "goal_id": "g",
                "objective": NUL_TEXT,
                "status": "active",
                "token_budget": None,
                "tokens_used": 3,
                "time_used_seconds": 4,
                "created_at": 1,
                "updated_at": 2,
            }
        )
    )
    flows = store.workflows
    run = flows.start_run("wf", NUL_TEXT, metadata={"k": NUL_TEXT}, started_at=10)
    branch = flows.record_branch(run.id, "b1", "n1", started_at=11)
    flows.record_leaf(
        run.id, "l1", "task", input_hash="h", branch_run_id=branch.id, output={"o": 1}
    )


def _dump(store: StateStore) -> dict[str, Any]:
    threads = [t.to_dict() for t in store.iter_threads(include_archived=True)]
    flows = store.workflows
    return {
        "threads": threads,
        "documents": [build_document(store, t["id"]) for t in threads],
        "branches": {t["id"]: store.list_messages(t["id"]) for t in threads},
        "latest": {t["id"]: store.load_checkpoint(t["id"]) for t in threads},
        "jobs": [j.to_dict() for j in store.list_jobs(10**6)],
        "index": store.session_index_entries(),
        "runs": [flows.get_run_tree(r.id) for r in flows.list_runs(limit=10**6)],
    }


def test_round_trip_sqlite_postgres_sqlite(tmp_path: Path, pg_dsn: str) -> None:
    with StateStore.open(tmp_path / "a" / "state.db", clock=lambda: 1_750_000_100) as a:
        _fill(a)
        before = _dump(a)
        with StateStore.open(pg_dsn) as pg:
            there = copy_store(a, pg, batch_size=2)
            assert there.verified, there
            assert _dump(pg) == before
            with StateStore.open(tmp_path / "b" / "state.db") as b:
                back = copy_store(pg, b, batch_size=3)
                assert back.verified, back
                assert _dump(b) == before
                # New messages continue the id sequence on both copies.
                tid = "odd" + NUL_TEXT
                assert pg.append_message(tid, "user", "x") == b.append_message(tid, "user", "x")


def test_an_interrupted_copy_resumes(tmp_path: Path, pg_dsn: str) -> None:
    with StateStore.open(tmp_path / "state.db") as a, StateStore.open(pg_dsn) as pg:
        _fill(a)
        calls = 0

        def stop_in_messages(table: str, done: int, total: int) -> None:
            nonlocal calls
            calls += 1
            if table == "messages":
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            copy_store(a, pg, batch_size=2, progress=stop_in_messages)
        report = copy_store(a, pg, batch_size=2)
        assert report.verified
        copied = {t.name: t.copied for t in report.tables}
        assert copied["threads"] == 0  # done by the first run
        assert _dump(pg) == _dump(a)


def test_verification_catches_a_difference(tmp_path: Path, pg_dsn: str) -> None:
    with StateStore.open(tmp_path / "state.db") as a, StateStore.open(pg_dsn) as pg:
        _fill(a)
        assert copy_store(a, pg).verified
        jobs = pg.list_jobs()
        pg.delete_job(jobs[0].id)
        report = copy_store(a, pg)  # copies the job again: verified
        assert report.verified
        pg.upsert_job(jobs[1].validated().__class__.from_dict({**jobs[1].to_dict(), "name": "x"}))
        report = copy_store(a, pg)
        assert [t.name for t in report.tables if not t.verified] == ["jobs"]


def test_cli_copy(tmp_path: Path, pg_dsn: str) -> None:
    src = tmp_path / "state.db"
    with StateStore.open(src) as a:
        _fill(a)
    result = CliRunner().invoke(cli, ["copy", str(src), pg_dsn, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["verified"] is True
    assert {t["table"] for t in data["tables"]} >= {"threads", "messages", "session_index"}
    missing = CliRunner().invoke(cli, ["copy", str(tmp_path / "nope.db"), pg_dsn])
    assert missing.exit_code != 0 and "no database" in missing.output
