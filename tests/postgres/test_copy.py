"""``copy``: SQLite → PostgreSQL → SQLite gives identical data; resumable; verified."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from threadloom import (
    CandidateKind,
    CandidateStatus,
    DynamicToolRecord,
    NodeKind,
    StateStore,
    ThreadGoalRecord,
    ThreadMetadata,
    compute_leaf_input_hash,
)
from threadloom.backends.postgres.nul import unescape_row
from threadloom.cli import cli
from threadloom.cli.demo import create_demo
from threadloom.contract import TRACE_COLUMNS
from threadloom.transfer import build_document
from threadloom.transfer.copy import SESSION_INDEX, DestinationNotEmpty, copy_store

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
    _fill_traces(store)


#: Rows ``_fill_traces`` writes into each trace table.
TRACE_ROWS = {
    "workflow_runs": 3,
    "branch_runs": 2,
    "leaf_runs": 5,
    "control_node_runs": 2,
    "teacher_candidates": 3,
}


def _fill_traces(store: StateStore) -> None:
    """Traces recorded through ``store.workflows``: every table, every kind of value."""
    flows = store.workflows
    spec = {"prompt": NUL_TEXT, "role": "reviewer"}
    key = compute_leaf_input_hash("wf", NUL_TEXT, spec, {"diff": "a"})
    other = compute_leaf_input_hash("wf", NUL_TEXT, spec, {"diff": "b"})
    run = flows.start_run("wf", NUL_TEXT, input_hash=key, metadata={"k": NUL_TEXT}, started_at=10)
    good = flows.record_branch(run.id, "b1", "fanout", started_at=11)
    bad = flows.record_branch(run.id, "b2", "fanout", started_at=11)
    leaf = flows.record_leaf(run.id, "l1", "task-1", input_hash=key, branch_run_id=good.id)
    flows.update_leaf(
        leaf.id, status="succeeded", output={"o": NUL_TEXT}, artifacts=[{"path": "a.txt"}]
    )
    flows.record_leaf(run.id, "l2", "task-2", branch_run_id=bad.id, status="failed")
    flows.record_leaf(run.id, "l3", "task-3", started_at=12)  # no branch
    flows.update_branch(good.id, status="succeeded", result={"score": 1e300})
    flows.update_branch(bad.id, status="failed", result={"error": NUL_TEXT})
    review = flows.record_control_node(
        run.id, "review", NodeKind.TEACHER_REVIEW, selected_children=["b1", NUL_TEXT]
    )
    flows.record_candidate(
        review.id,
        "c1",
        CandidateKind.SKILL_PATCH,
        status=CandidateStatus.ACCEPTED,
        branch_run_id=good.id,
        score=0.75,
        passed=True,
        rationale={"why": NUL_TEXT},
        created_at=13,
    )
    flows.record_candidate(review.id, "c2", CandidateKind.NOTE, created_at=13)  # score NULL
    reduce = flows.record_control_node(run.id, "reduce", "reduce", status="succeeded")
    flows.record_candidate(reduce.id, "c3", "regression_test", score=-0.5, passed=False)
    flows.update_control_node(review.id, status="succeeded", result={"picked": "c1"})
    flows.finish_run(run.id, "succeeded", completed_at=20)
    # A second run replays the first: one hit, one miss (diverged). Same start time as
    # the first, so "newest first" is decided by insertion order.
    again = flows.start_run("wf", NUL_TEXT, started_at=10)
    assert flows.replay_leaf(run.id, again.id, "l1", key, task_id="task-1").hit
    assert not flows.replay_leaf(run.id, again.id, "l1", other, task_id="task-1").hit
    flows.start_run("other", "pending work", status="pending", started_at=30)


def _trace_rows(where: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every trace table, read with the bare driver, sorted by id.

    Args:
        where: A SQLite file, or a PostgreSQL DSN (its text unescaped as the backend
            stores NUL; JSON read back as the exact text stored).
    """
    dump: dict[str, list[tuple[Any, ...]]] = {}
    for table, columns in TRACE_COLUMNS.items():
        json_at = tuple(i for i, c in enumerate(columns) if c.endswith("_json"))
        if isinstance(where, Path):
            conn = sqlite3.connect(where)
            try:
                rows = [tuple(r) for r in conn.execute(f"SELECT {', '.join(columns)} FROM {table}")]
            finally:
                conn.close()
        else:
            select = ", ".join(f"{c}::text" if c.endswith("_json") else c for c in columns)
            with psycopg.connect(where) as pg:
                rows = [
                    unescape_row(r, json_at) for r in pg.execute(f"SELECT {select} FROM {table}")
                ]
        # Sorted here: PostgreSQL orders text by its collation, SQLite by bytes.
        dump[table.value] = sorted(rows, key=lambda r: str(r[0]))
    return dump


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
        "replays": [
            flows.find_replay(leaf.workflow_run_id, leaf.leaf_id, leaf.input_hash)
            for run in flows.list_runs(limit=10**6)
            for leaf in flows.get_run_tree(run.id).iter_leaves()
            if leaf.input_hash is not None
        ],
    }


def test_round_trip_sqlite_postgres_sqlite(tmp_path: Path, pg_dsn: str) -> None:
    with StateStore.open(tmp_path / "a" / "state.db", clock=lambda: 1_750_000_100) as a:
        _fill(a)
        before = _dump(a)
        traces = _trace_rows(tmp_path / "a" / "state.db")
        assert {t: len(rows) for t, rows in traces.items()} == TRACE_ROWS
        with StateStore.open(pg_dsn) as pg:
            there = copy_store(a, pg, batch_size=2)
            assert there.verified, there
            assert {t.name: t.copied for t in there.tables if t.name in TRACE_ROWS} == TRACE_ROWS
            assert _dump(pg) == before
            assert _trace_rows(pg_dsn) == traces
            with StateStore.open(tmp_path / "b" / "state.db") as b:
                back = copy_store(pg, b, batch_size=3)
                assert back.verified, back
                assert _dump(b) == before
                assert _trace_rows(tmp_path / "b" / "state.db") == traces
                # New messages continue the id sequence on both copies.
                tid = "odd" + NUL_TEXT
                assert pg.append_message(tid, "user", "x") == b.append_message(tid, "user", "x")


@pytest.mark.parametrize("stop_in", ["messages", "leaf_runs", "teacher_candidates"])
def test_an_interrupted_copy_resumes(tmp_path: Path, pg_dsn: str, stop_in: str) -> None:
    with StateStore.open(tmp_path / "state.db") as a, StateStore.open(pg_dsn) as pg:
        _fill(a)

        def stop_after_first_batch(table: str, done: int, total: int) -> None:
            if table == stop_in:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            copy_store(a, pg, batch_size=2, progress=stop_after_first_batch)
        with pytest.raises(DestinationNotEmpty, match="nothing was copied"):
            copy_store(a, pg, batch_size=2)  # resuming is asked for, not assumed
        report = copy_store(a, pg, batch_size=2, mode="resume")
        assert report.verified, report
        names = [t.name for t in report.tables]
        copied = {t.name: t.copied for t in report.tables}
        source_rows = {t.name: t.source_rows for t in report.tables}
        # Tables before the interrupted one were complete: nothing copied again.
        assert all(copied[n] == 0 for n in names[: names.index(stop_in)]), copied
        # The interrupted table kept its first batch (one committed transaction).
        assert copied[stop_in] == source_rows[stop_in] - 2
        assert _dump(pg) == _dump(a)
        assert _trace_rows(pg_dsn) == _trace_rows(tmp_path / "state.db")


def test_tables_cover_the_schemas_parents_first(tmp_path: Path, pg_dsn: str) -> None:
    """Every table is copied, after the tables its foreign keys point at.

    Read from both live schemas, so a table or foreign key added later without a
    place in the backends' ``copy_tables()`` fails here instead of being silently left
    behind by a copy.
    """
    db = tmp_path / "state.db"
    with StateStore.open(db) as lite, StateStore.open(pg_dsn) as server:
        copied = lite.backend.copy_tables()
        assert server.backend.copy_tables() == copied
    order = [spec.name for spec in copied]
    parents = {spec.name: set(spec.parents) for spec in copied}
    conn = sqlite3.connect(db)
    try:
        tables = {
            name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        # Schema bookkeeping, not data (AUTOINCREMENT follows the copied ids by itself).
        # threadloom_deleted_threads records this store's own deletions; idempotency
        # keys answer retries against this store, and its settings (a retention policy)
        # are its own (copy_store carries the encryption key ids over by themselves).
        assert tables - set(order) == {
            "sqlite_sequence",
            "threadloom_meta",
            "threadloom_deleted_threads",
            "threadloom_idempotency_keys",
            "threadloom_settings",
        }
        for table in order:
            not_null = {r[1]: r[3] for r in conn.execute(f"PRAGMA table_info({table})")}
            for fk in conn.execute(f"PRAGMA foreign_key_list({table})"):
                target, column = fk[2], fk[3]
                assert order.index(target) < order.index(table), (table, target)
                # A NOT NULL reference makes a row without its parent an orphan.
                assert ((column, target) in parents[table]) == bool(not_null[column]), fk
    finally:
        conn.close()
    with psycopg.connect(pg_dsn) as pg:
        tables = {
            name
            for (name,) in pg.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
        }
        references = pg.execute(
            "SELECT child.relname, parent.relname FROM pg_constraint c "
            "JOIN pg_class child ON child.oid = c.conrelid "
            "JOIN pg_class parent ON parent.oid = c.confrelid "
            "WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace"
        ).fetchall()
    # Schema bookkeeping stays with each store; the session index is copied apart.
    assert tables - set(order) == {
        SESSION_INDEX,
        "threadloom_meta",
        "threadloom_schema_migrations",
        "threadloom_deleted_threads",
        "threadloom_idempotency_keys",
        "threadloom_settings",
    }
    assert references  # the query does see the schema's foreign keys
    for child, parent in references:
        # The session index is copied last, after threads; idempotency keys stay.
        if child not in (SESSION_INDEX, "threadloom_idempotency_keys"):
            assert order.index(parent) < order.index(child), (child, parent)


def test_orphaned_trace_rows_are_skipped_and_counted(tmp_path: Path, pg_dsn: str) -> None:
    db = tmp_path / "state.db"
    with StateStore.open(db) as a:
        _fill_traces(a)
    # As a file written with foreign keys off would be: a control node whose run is
    # gone, and so its candidates too (their own run is still there).
    conn = sqlite3.connect(db)
    with conn:
        (run_id,) = conn.execute(
            "SELECT workflow_run_id FROM control_node_runs WHERE node_id = 'reduce'"
        ).fetchone()
        conn.execute(
            "UPDATE control_node_runs SET workflow_run_id = 'gone' WHERE node_id = 'reduce'"
        )
    conn.close()
    with StateStore.open(db) as a, StateStore.open(pg_dsn) as pg:
        report = copy_store(a, pg)
        assert report.verified, report
        skipped = {t.name: t.orphans_skipped for t in report.tables if t.orphans_skipped}
        assert skipped == {"control_node_runs": 1, "teacher_candidates": 1}
        tree = pg.workflows.get_run_tree(run_id)
        assert [n.control_node.node_id for n in tree.control_nodes] == ["review"]
        assert sorted(c.candidate_id for c in tree.iter_candidates()) == ["c1", "c2"]
        assert tree == a.workflows.get_run_tree(run_id)


def test_verification_catches_a_difference(tmp_path: Path, pg_dsn: str) -> None:
    with StateStore.open(tmp_path / "state.db") as a, StateStore.open(pg_dsn) as pg:
        _fill(a)
        assert copy_store(a, pg).verified
        jobs = pg.list_jobs()
        pg.delete_job(jobs[0].id)
        report = copy_store(a, pg, mode="resume")  # copies the job again: verified
        assert report.verified
        assert {t.name: t.copied for t in report.tables if t.copied} == {"jobs": 1}
        # A row changed behind the copy's back (after the checks that run before any
        # write): the counts agree, the checksums do not.
        changed = jobs[1].validated().__class__.from_dict({**jobs[1].to_dict(), "name": "x"})

        def change(table: str, done: int, total: int) -> None:
            if table == "jobs":
                pg.upsert_job(changed)

        report = copy_store(a, pg, mode="resume", progress=change)
        assert [t.name for t in report.tables if not t.verified] == ["jobs"]
        # Now the destination is not a copy of the source: resume and merge refuse.
        with pytest.raises(DestinationNotEmpty, match=r"1 of its jobs rows .*id="):
            copy_store(a, pg, mode="resume")
        with pytest.raises(DestinationNotEmpty, match=r"cannot merge .*1 jobs row"):
            copy_store(a, pg, mode="merge")


def test_a_non_empty_postgres_destination_is_refused(tmp_path: Path, pg_dsn: str) -> None:
    with StateStore.open(tmp_path / "state.db") as a, StateStore.open(pg_dsn) as pg:
        _fill(a)
        create_demo(pg, now=1_760_000_000)
        before = _dump(pg)
        for mode in ("new", "resume", "merge"):
            with pytest.raises(DestinationNotEmpty, match="nothing was copied"):
                copy_store(a, pg, mode=mode)
        assert _dump(pg) == before
        assert _trace_rows(pg_dsn) == {t: [] for t in TRACE_ROWS}


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
    again = CliRunner().invoke(cli, ["copy", str(src), pg_dsn])
    assert again.exit_code == 1 and "is not empty" in again.output and "--resume" in again.output
    resumed = CliRunner().invoke(cli, ["copy", str(src), pg_dsn, "--resume", "--json"])
    assert resumed.exit_code == 0, resumed.output
    data = json.loads(resumed.stdout)
    assert data["mode"] == "resume" and data["verified"] is True
    assert all(t["copied"] == 0 for t in data["tables"])
