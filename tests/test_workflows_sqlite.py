"""SQLite-only behaviour of the workflow trace store: the original's file, raw rows,
several processes recording one run, and the oracle opening a database with traces.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StepClock
from tests.support.ops import run_oracle
from tests.support.shared import require_oracle
from threadloom import CorruptData, NodeKind, RunStatus, StateStore
from threadloom.backends.sqlite.traces import SqliteTraces
from threadloom.workflows import COLUMNS, Table, WorkflowRunTree, WorkflowStore

_TRACE_TABLES = [t.value for t in Table]


def _schema(path: Path) -> dict[str, str]:
    """CREATE statements of the trace tables and their indexes, by name."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE tbl_name IN (?, ?, ?, ?, ?) "
            "AND sql IS NOT NULL",
            _TRACE_TABLES,
        ).fetchall()
    conn.close()
    return dict(rows)


def _record_sample_run(wf: WorkflowStore, workflow_id: str = "wf") -> str:
    run = wf.start_run(workflow_id, "goal ✓", metadata={"k": "v"})
    branch = wf.record_branch(run.id, "b", "fan", status="succeeded", result={"notes": "n"})
    for i in range(3):
        wf.record_leaf(
            run.id,
            f"l{i}",
            f"t{i}",
            input_hash=f"h{i}",
            branch_run_id=branch.id,
            status="succeeded",
        )
    node = wf.record_control_node(run.id, "rev", NodeKind.TEACHER_REVIEW, selected_children=["l0"])
    wf.record_candidate(node.id, "rev:b", "branch_heuristic", branch_run_id=branch.id, score=0.5)
    wf.finish_run(run.id, "succeeded")
    return run.id


def test_trace_tables_keep_the_original_columns(sqlite_store: StateStore, tmp_path: Path) -> None:
    before = _schema(sqlite_store.db_path())
    _record_sample_run(sqlite_store.workflows)
    assert _schema(sqlite_store.db_path()) == before
    with sqlite3.connect(sqlite_store.db_path()) as conn:
        for table, columns in COLUMNS.items():
            stored = tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table.value})"))
            assert stored == columns
    conn.close()


def test_replay_lookup_uses_the_replay_index(sqlite_store: StateStore) -> None:
    # The statement find_replay really runs, as the shared trace statements build it.
    conn = sqlite_store.backend.connection()  # type: ignore[attr-defined]
    plan = conn.execute(
        "EXPLAIN QUERY PLAN " + SqliteTraces._trace_sql.find_replay, ("r", "l", "h")
    ).fetchall()
    assert any("idx_leaf_runs_replay_lookup" in str(row[-1]) for row in plan)


def test_unknown_stored_values_read_back_without_crashing(sqlite_store: StateStore) -> None:
    wf = sqlite_store.workflows
    run_id = _record_sample_run(wf)
    with sqlite3.connect(sqlite_store.db_path()) as conn:
        conn.execute("UPDATE workflow_runs SET status = 'paused_by_v9'")
        conn.execute("UPDATE leaf_runs SET status = 'skipped' WHERE leaf_id = 'l1'")
        conn.execute("UPDATE control_node_runs SET kind = 'parallel_map'")
        conn.execute(
            "INSERT INTO teacher_candidates (id, workflow_run_id, control_node_run_id, "
            "candidate_id, rationale_json, created_at, passed) "
            "SELECT 'foreign', workflow_run_id, id, 'x', '{\"why\":\"engine\"}', 1, 1 "
            "FROM control_node_runs"
        )
    conn.close()
    tree = wf.get_run_tree(run_id)
    assert tree.run.status == "paused_by_v9" and not isinstance(tree.run.status, RunStatus)
    assert [leaf.status for leaf in tree.iter_leaves()] == ["succeeded", "skipped", "succeeded"]
    assert tree.control_nodes[0].control_node.kind == "parallel_map"
    foreign = next(c for c in tree.iter_candidates() if c.id == "foreign")
    assert (foreign.kind, foreign.status, foreign.rationale, foreign.passed) == (
        "note",
        "proposed",
        {"why": "engine"},
        True,
    )
    assert wf.list_runs(status=None)[0].status == "paused_by_v9"
    # Writing an unknown status is still refused.
    with pytest.raises(ValueError):
        wf.update_run(run_id, status="paused_by_v9")


def test_corrupt_stored_json_raises_corrupt_data_naming_the_row(sqlite_store: StateStore) -> None:
    wf = sqlite_store.workflows
    run_id = _record_sample_run(wf)
    with sqlite3.connect(sqlite_store.db_path()) as conn:
        conn.execute("UPDATE leaf_runs SET output_json = '{not json' WHERE leaf_id = 'l2'")
    conn.close()
    with pytest.raises(CorruptData) as info:
        wf.get_run_tree(run_id)
    assert info.value.table == "leaf_runs" and "output_json" in str(info.value)
    assert wf.get_run(run_id) is not None  # the run row itself is fine


# -- several processes -------------------------------------------------------------------


def _record_leaves(db: str, run_id: str, worker: int, count: int, start: Any) -> None:
    start.wait(timeout=30)
    with StateStore.open(db) as store:
        wf = store.workflows
        for i in range(count):
            leaf = wf.record_leaf(run_id, f"w{worker}-l{i}", f"task-{worker}", input_hash=f"h{i}")
            wf.update_leaf(leaf.id, status="succeeded", output={"worker": worker, "i": i})


def test_leaves_of_one_run_recorded_by_several_processes_are_all_kept(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with StateStore.open(db) as store:
        run_id = store.workflows.start_run("wf", "parallel").id
    ctx = multiprocessing.get_context("spawn")
    workers, count = 4, 40
    start = ctx.Barrier(workers)
    procs = [
        ctx.Process(target=_record_leaves, args=(str(db), run_id, w, count, start))
        for w in range(workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0] * workers
    with StateStore.open(db) as store:
        tree = store.workflows.get_run_tree(run_id)
        leaves = list(tree.iter_leaves())
        assert sorted(leaf.leaf_id for leaf in leaves) == sorted(
            f"w{w}-l{i}" for w in range(workers) for i in range(count)
        )
        for leaf in leaves:
            worker, i = leaf.leaf_id[1:].split("-l")
            assert leaf.output == {"worker": int(worker), "i": int(i)}
            assert leaf.status is RunStatus.SUCCEEDED and leaf.completed_at is not None
            assert store.workflows.find_replay(run_id, leaf.leaf_id, f"h{i}") == leaf


# -- the original still opens the file ---------------------------------------------------

_ORACLE_OPS: list[dict[str, Any]] = [
    {"op": "list_threads", "include_archived": True},
    {
        "op": "upsert_thread",
        "thread": {
            "id": "t1",
            "rollout_path": "/r/t1.jsonl",
            "preview": "hi",
            "ephemeral": False,
            "model_provider": "deepseek",
            "created_at": 1,
            "updated_at": 2,
            "status": "running",
            "path": None,
            "cwd": "/w",
            "cli_version": "0.8.59",
            "source": "interactive",
            "name": "Alpha",
            "sandbox_policy": None,
            "approval_mode": None,
            "archived": False,
            "archived_at": None,
            "git_sha": None,
            "git_branch": None,
            "git_origin_url": None,
            "memory_mode": None,
        },
    },
    {"op": "get_thread", "id": "t1"},
    {"op": "append_message", "thread_id": "t1", "role": "user", "content": "hi", "item": {"a": 1}},
    {"op": "append_message", "thread_id": "t1", "role": "assistant", "content": "yo"},
    {"op": "list_messages", "thread_id": "t1", "limit": 10},
    {"op": "save_checkpoint", "thread_id": "t1", "checkpoint_id": "latest", "state": {"n": 1}},
    {"op": "load_checkpoint", "thread_id": "t1"},
    {
        "op": "upsert_job",
        "job": {
            "id": "j1",
            "name": "b",
            "status": "running",
            "progress": 5,
            "detail": None,
            "created_at": 1,
            "updated_at": 2,
        },
    },
    {"op": "list_jobs", "limit": 10},
    {"op": "delete_thread", "id": "t1"},
    {"op": "list_threads", "include_archived": True},
    {"op": "get_thread", "id": "t1"},
]


def _mask_clock(answer: Any) -> Any:
    """Drop ``created_at`` of messages and checkpoints: the oracle stamps them with now."""
    if isinstance(answer, dict):
        stamped = "role" in answer or "checkpoint_id" in answer
        return {k: _mask_clock(v) for k, v in answer.items() if not (stamped and k == "created_at")}
    if isinstance(answer, list):
        return [_mask_clock(v) for v in answer]
    return answer


@pytest.mark.oracle
def test_oracle_opens_a_database_with_traces_and_answers_unchanged(tmp_path: Path) -> None:
    oracle = require_oracle()
    plain, traced = tmp_path / "plain" / "state.db", tmp_path / "traced" / "state.db"
    # Both files start as the original made them.
    assert run_oracle(oracle, plain, []) == []
    traced.parent.mkdir()
    shutil.copy(plain, traced)
    with StateStore.open(traced, clock=StepClock()) as store:
        run_ids = [_record_sample_run(store.workflows, f"wf{i}") for i in range(2)]
        trees: list[WorkflowRunTree] = [store.workflows.get_run_tree(r) for r in run_ids]

    expected = run_oracle(oracle, plain, _ORACLE_OPS)
    got = run_oracle(oracle, traced, _ORACLE_OPS)
    assert all("ok" in answer for answer in got), got
    assert _mask_clock(got) == _mask_clock(expected)

    with StateStore.open(traced) as store:
        assert [store.workflows.get_run_tree(r) for r in run_ids] == trees
    with sqlite3.connect(traced) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # Only the trace tables: the original's delete_thread leaves orphan messages.
        for table in _TRACE_TABLES:
            assert conn.execute(f"PRAGMA foreign_key_check({table})").fetchall() == []
    conn.close()
    assert json.loads(json.dumps(trees[0].run.to_dict()))["status"] == "succeeded"
