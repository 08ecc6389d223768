"""Records: the original's JSON shapes, both ways, and what ``from_dict`` refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.ops import run_oracle
from tests.support.shared import require_oracle
from threadloom import (
    CheckpointRecord,
    DynamicToolRecord,
    InvalidRecord,
    JobStateRecord,
    JobStateStatus,
    MessageRecord,
    SessionSource,
    ThreadGoalRecord,
    ThreadGoalStatus,
    ThreadMetadata,
    ThreadStatus,
)
from threadloom.backends.common.rows import thread_from_row

THREAD: dict[str, Any] = {
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
    "current_leaf_id": None,
}
GOAL: dict[str, Any] = {
    "thread_id": "t1",
    "goal_id": "g1",
    "objective": "x",
    "status": "active",
    "token_budget": None,
    "tokens_used": 0,
    "time_used_seconds": 0,
    "created_at": 1,
    "updated_at": 1,
}
JOB: dict[str, Any] = {
    "id": "j1",
    "name": "build",
    "status": "running",
    "progress": 42,
    "detail": None,
    "created_at": 1,
    "updated_at": 2,
}
TOOL: dict[str, Any] = {
    "position": 0,
    "name": "grep",
    "description": None,
    "input_schema": {"properties": {"q": {"type": "string"}}, "type": "object"},
}
MESSAGE: dict[str, Any] = {
    "id": 1,
    "thread_id": "t1",
    "role": "user",
    "content": "hi",
    "item": {"type": "text"},
    "created_at": 5,
    "parent_entry_id": None,
}
CHECKPOINT: dict[str, Any] = {
    "thread_id": "t1",
    "checkpoint_id": "cp",
    "state": {"turn": 1},
    "created_at": 7,
}


@pytest.mark.parametrize(
    ("record", "data"),
    [
        (ThreadMetadata, THREAD),
        (JobStateRecord, JOB),
        (DynamicToolRecord, TOOL),
        (MessageRecord, MESSAGE),
        (CheckpointRecord, CHECKPOINT),
    ],
)
def test_round_trip_keeps_shape_and_order(record: Any, data: dict[str, Any]) -> None:
    built = record.from_dict(data)
    out = built.to_dict()
    assert out == data
    assert list(out) == list(data)
    assert record.from_dict(out) == built


def test_goal_round_trip_with_and_without_continuation_count() -> None:
    goal = ThreadGoalRecord.from_dict(GOAL)
    assert goal.continuation_count == 0
    assert goal.to_seed_dict() == GOAL and list(goal.to_seed_dict()) == list(GOAL)
    assert list(goal.to_dict()) == [*GOAL, "continuation_count"]
    with_count = ThreadGoalRecord.from_dict({**GOAL, "continuation_count": 3})
    assert with_count.to_dict()["continuation_count"] == 3


def test_enums_read_as_members_and_write_as_strings() -> None:
    thread = ThreadMetadata.from_dict(THREAD)
    assert thread.status is ThreadStatus.RUNNING and thread.source is SessionSource.INTERACTIVE
    assert json.dumps(thread.to_dict()["status"]) == '"running"'
    job = JobStateRecord.from_dict({**JOB, "status": "paused"})
    assert job.status is JobStateStatus.PAUSED
    goal = ThreadGoalRecord.from_dict({**GOAL, "status": "budget_limited"})
    assert goal.status is ThreadGoalStatus.BUDGET_LIMITED


def test_absent_optional_fields_are_none() -> None:
    required = {k: v for k, v in THREAD.items() if v is not None}
    required.pop("name")
    required.pop("rollout_path")
    thread = ThreadMetadata.from_dict(required)
    assert thread.name is None and thread.current_leaf_id is None and thread.rollout_path is None
    job = JobStateRecord.from_dict({k: v for k, v in JOB.items() if k not in ("progress",)})
    assert job.progress is None


def test_unknown_fields_are_ignored_like_serde() -> None:
    assert ThreadMetadata.from_dict({**THREAD, "extra": 1}) == ThreadMetadata.from_dict(THREAD)


def test_paths_accept_pathlike_and_store_strings() -> None:
    thread = ThreadMetadata.from_dict({**THREAD, "rollout_path": Path("/r/x"), "cwd": Path("/w")})
    assert thread.rollout_path == "/r/x" and thread.cwd == "/w"


@pytest.mark.parametrize(
    ("record", "base", "field", "value"),
    [
        (ThreadMetadata, THREAD, "created_at", True),
        (ThreadMetadata, THREAD, "created_at", 2**63),
        (ThreadMetadata, THREAD, "updated_at", -(2**63) - 1),
        (ThreadMetadata, THREAD, "updated_at", 1.0),
        (ThreadMetadata, THREAD, "ephemeral", 0),
        (ThreadMetadata, THREAD, "status", "sleeping"),
        (ThreadMetadata, THREAD, "source", "Interactive"),
        (ThreadMetadata, THREAD, "name", 5),
        (ThreadMetadata, THREAD, "id", None),
        (ThreadMetadata, THREAD, "current_leaf_id", "7"),
        (JobStateRecord, JOB, "progress", 256),
        (JobStateRecord, JOB, "progress", -1),
        (JobStateRecord, JOB, "progress", True),
        (JobStateRecord, JOB, "status", "exploded"),
        (JobStateRecord, JOB, "detail", {"a": 1}),
        (ThreadGoalRecord, GOAL, "status", "done"),
        (ThreadGoalRecord, GOAL, "tokens_used", False),
        (ThreadGoalRecord, GOAL, "token_budget", 2**64),
        (ThreadGoalRecord, GOAL, "continuation_count", "1"),
        (DynamicToolRecord, TOOL, "position", True),
        (DynamicToolRecord, TOOL, "name", None),
        (MessageRecord, MESSAGE, "id", "1"),
        (CheckpointRecord, CHECKPOINT, "created_at", None),
    ],
)
def test_from_dict_rejects_wrong_values(
    record: Any, base: dict[str, Any], field: str, value: Any
) -> None:
    with pytest.raises(InvalidRecord, match=field):
        record.from_dict({**base, field: value})


@pytest.mark.parametrize(
    ("record", "base", "field"),
    [
        (ThreadMetadata, THREAD, "preview"),
        (ThreadMetadata, THREAD, "archived"),
        (JobStateRecord, JOB, "updated_at"),
        (ThreadGoalRecord, GOAL, "objective"),
        (DynamicToolRecord, TOOL, "input_schema"),
        (CheckpointRecord, CHECKPOINT, "state"),
    ],
)
def test_from_dict_requires_fields(record: Any, base: dict[str, Any], field: str) -> None:
    data = {k: v for k, v in base.items() if k != field}
    with pytest.raises(InvalidRecord, match=f"missing field `{field}`"):
        record.from_dict(data)


@pytest.mark.parametrize("data", [None, [], "thread", 3])
def test_from_dict_needs_an_object(data: Any) -> None:
    with pytest.raises(InvalidRecord):
        ThreadMetadata.from_dict(data)


def test_invalid_record_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        JobStateRecord.from_dict({**JOB, "progress": 300})


def test_create_builds_a_valid_thread() -> None:
    thread = ThreadMetadata.create("t9", name="N", now=42, status="paused")
    assert thread.created_at == thread.updated_at == 42
    assert thread.status is ThreadStatus.PAUSED and thread.name == "N"
    with pytest.raises(InvalidRecord, match="bogus"):
        ThreadMetadata.create("t9", bogus=1)


def test_field_order_matches_the_oracle(tmp_path: Path) -> None:
    oracle = require_oracle()
    thread = {**THREAD}
    thread.pop("current_leaf_id")
    ops: list[dict[str, Any]] = [
        {"op": "upsert_thread", "thread": thread},
        {"op": "get_thread", "id": "t1"},
        {"op": "upsert_thread_goal", "goal": GOAL},
        {"op": "get_thread_goal", "thread_id": "t1"},
        {"op": "upsert_job", "job": JOB},
        {"op": "get_job", "id": "j1"},
        {"op": "persist_dynamic_tools", "thread_id": "t1", "tools": [TOOL]},
        {"op": "get_dynamic_tools", "thread_id": "t1"},
        {"op": "append_message", "thread_id": "t1", "role": "user", "content": "hi"},
        {"op": "list_messages", "thread_id": "t1"},
        {"op": "save_checkpoint", "thread_id": "t1", "checkpoint_id": "cp", "state": 1},
        {"op": "load_checkpoint", "thread_id": "t1"},
    ]
    answers = run_oracle(oracle, tmp_path / "state.db", ops)
    got_thread, got_goal, got_job = answers[1]["ok"], answers[3]["ok"], answers[5]["ok"]
    got_tool, got_message = answers[7]["ok"][0], answers[9]["ok"][0]
    got_checkpoint = answers[11]["ok"]
    # run_oracle decodes into dicts, which keep the key order of the oracle's JSON.
    assert list(ThreadMetadata.from_dict(got_thread).to_dict()) == list(got_thread)
    assert list(ThreadGoalRecord.from_dict(got_goal).to_seed_dict()) == list(got_goal)
    assert list(JobStateRecord.from_dict(got_job).to_dict()) == list(got_job)
    assert list(DynamicToolRecord.from_dict(got_tool).to_dict()) == list(got_tool)
    assert list(MessageRecord.from_dict(got_message).to_dict()) == list(got_message)
    assert list(CheckpointRecord.from_dict(got_checkpoint).to_dict()) == list(got_checkpoint)
    assert ThreadMetadata.from_dict(got_thread).to_dict() == got_thread


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("running", ThreadStatus.RUNNING),
        ("Running", ThreadStatus.IDLE),
        (None, ThreadStatus.IDLE),
        (1, ThreadStatus.IDLE),
        (b"running", ThreadStatus.IDLE),
        ("", ThreadStatus.IDLE),
    ],
)
def test_stored_status_reads_known_values_and_falls_back(
    raw: object, expected: ThreadStatus
) -> None:
    assert ThreadMetadata.status_from_storage(raw) is expected
    row = (
        "t",
        None,
        "",
        0,
        "",
        1,
        1,
        raw,
        None,
        "/",
        "",
        raw,
        None,
        None,
        None,
        0,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    thread = thread_from_row(row)
    assert thread.status is expected
    assert thread.source is SessionSource.UNKNOWN  # none of these is a source
    assert thread_from_row((*row[:11], "fork", *row[12:])).source is SessionSource.FORK
