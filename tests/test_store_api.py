"""Unit tests of every public :class:`StateStore` method, on every backend.

These take the ``store``/``make_store`` contract fixtures, so they run on SQLite and
on PostgreSQL once its backend registers itself. SQLite-only behaviour (file modes,
pragmas, raw corrupt rows) is in ``test_store_sqlite.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import StepClock, StoreFactory
from threadloom import (
    CheckpointRecord,
    Conflict,
    DynamicToolRecord,
    InvalidRecord,
    JobStateRecord,
    JobStateStatus,
    NotFound,
    SessionSource,
    StateStore,
    ThreadGoalRecord,
    ThreadGoalStatus,
    ThreadListFilters,
    ThreadloomError,
    ThreadMetadata,
    ThreadStatus,
)


def _thread(thread_id: str = "t1", **fields: Any) -> ThreadMetadata:
    fields.setdefault("now", 100)
    return ThreadMetadata.create(thread_id, cwd="/w", model_provider="deepseek", **fields)


def _goal(thread_id: str = "t1", **fields: Any) -> ThreadGoalRecord:
    data: dict[str, Any] = {
        "thread_id": thread_id,
        "goal_id": "g1",
        "objective": "ship it",
        "status": "active",
        "token_budget": 1000,
        "tokens_used": 0,
        "time_used_seconds": 0,
        "created_at": 10,
        "updated_at": 20,
    }
    data.update(fields)
    return ThreadGoalRecord.from_dict(data)


def _job(job_id: str = "j1", **fields: Any) -> JobStateRecord:
    data: dict[str, Any] = {
        "id": job_id,
        "name": "build",
        "status": "running",
        "progress": 42,
        "detail": None,
        "created_at": 1,
        "updated_at": 2,
    }
    data.update(fields)
    return JobStateRecord.from_dict(data)


def _tool(position: int, name: str = "grep", schema: Any = None) -> DynamicToolRecord:
    return DynamicToolRecord(
        position=position,
        name=name,
        description=None,
        input_schema=schema if schema is not None else {"type": "object"},
    )


# -- threads ------------------------------------------------------------------------


def test_upsert_and_get_thread_round_trip(store: StateStore) -> None:
    thread = _thread(
        name="Alpha",
        rollout_path="/r/t1.jsonl",
        git_sha="abc",
        sandbox_policy="workspace-write",
        status="running",
        source="interactive",
    )
    store.upsert_thread(thread)
    assert store.get_thread("t1") == thread
    assert store.get_thread("missing") is None


def test_upsert_thread_updates_every_field_and_ignores_current_leaf(store: StateStore) -> None:
    store.upsert_thread(_thread(name="Alpha"))
    leaf = store.append_message("t1", "user", "hi")
    updated = _thread(name="Beta", preview="new", status="completed", current_leaf_id=999, now=200)
    store.upsert_thread(updated)
    got = store.get_thread("t1")
    assert got is not None
    assert got.name == "Beta" and got.preview == "new" and got.status is ThreadStatus.COMPLETED
    assert got.updated_at == 200
    # current_leaf_id is owned by the message tree, never by upsert_thread.
    assert got.current_leaf_id == leaf


def test_upsert_thread_rejects_wrong_types(store: StateStore) -> None:
    good = _thread()
    bad = ThreadMetadata(**{**good.to_dict(), "status": ThreadStatus.IDLE, "created_at": "1"})
    with pytest.raises(InvalidRecord, match="created_at"):
        store.upsert_thread(bad)
    with pytest.raises(TypeError):
        store.upsert_thread(good.to_dict())  # type: ignore[arg-type]
    assert store.get_thread("t1") is None


def test_upsert_thread_appends_session_index_entry(store: StateStore) -> None:
    store.upsert_thread(_thread(name="Alpha", rollout_path="/r/a"))
    assert store.find_thread_name_by_id("t1") == "Alpha"
    # An upsert without a name hides the previous name (the original's behaviour).
    store.upsert_thread(_thread(rollout_path="/r/a"))
    assert store.find_thread_name_by_id("t1") is None


def test_list_threads_order_filters_and_limits(store: StateStore) -> None:
    store.upsert_thread(_thread("a", now=300))
    store.upsert_thread(_thread("b", now=100))
    store.upsert_thread(_thread("c", now=200))
    store.upsert_thread(_thread("d", now=400))
    store.mark_archived("d")
    assert [t.id for t in store.list_threads()] == ["a", "c", "b"]
    assert [t.id for t in store.list_threads(include_archived=True)] == ["d", "a", "c", "b"]
    assert [t.id for t in store.list_threads(include_archived=True, limit=2)] == ["d", "a"]
    assert [t.id for t in store.list_threads(ThreadListFilters(limit=1))] == ["a"]
    assert store.list_threads(limit=0) == []
    # Keyword arguments override the filter object.
    filters = ThreadListFilters(include_archived=True, limit=1)
    assert [t.id for t in store.list_threads(filters, include_archived=False)] == ["a"]
    assert len(store.list_threads(limit=2**70)) == 3


def test_list_threads_ties_newest_inserted_first(store: StateStore) -> None:
    for thread_id in ("x", "y", "z"):
        store.upsert_thread(_thread(thread_id, now=500))
    assert [t.id for t in store.list_threads()] == ["z", "y", "x"]


def test_list_threads_default_limit_is_50(store: StateStore) -> None:
    for n in range(55):
        store.upsert_thread(_thread(f"t{n:02}", now=n))
    assert len(store.list_threads()) == 50
    assert [t.id for t in store.iter_threads()][:2] == ["t54", "t53"]
    assert len(list(store.iter_threads())) == 55


@pytest.mark.parametrize("limit", [-1, -(2**70)])
def test_list_threads_negative_limit(store: StateStore, limit: int) -> None:
    with pytest.raises(ValueError):
        store.list_threads(limit=limit)


def test_list_threads_limit_type(store: StateStore) -> None:
    with pytest.raises(TypeError):
        store.list_threads(limit=True)
    with pytest.raises(TypeError):
        store.list_threads(limit=1.5)  # type: ignore[arg-type]


def test_mark_archived_and_unarchived(make_store: StoreFactory) -> None:
    store = make_store(clock=StepClock(1000))
    store.upsert_thread(_thread(status="running"))
    assert store.mark_archived("t1") is True
    got = store.get_thread("t1")
    assert got is not None
    assert got.archived and got.archived_at == 1000 and got.status is ThreadStatus.ARCHIVED
    assert store.list_threads() == []
    # Deliberate improvement: unarchiving resets status "archived" to "idle".
    assert store.mark_unarchived("t1") is True
    got = store.get_thread("t1")
    assert got is not None
    assert not got.archived and got.archived_at is None and got.status is ThreadStatus.IDLE
    assert store.mark_archived("missing") is False
    assert store.mark_unarchived("missing") is False


def test_mark_unarchived_keeps_other_status(store: StateStore) -> None:
    store.upsert_thread(_thread(status="failed", archived=True, archived_at=5))
    assert store.mark_unarchived("t1")
    got = store.get_thread("t1")
    assert got is not None and got.status is ThreadStatus.FAILED and not got.archived


def test_delete_thread_cascades(store: StateStore) -> None:
    store.upsert_thread(_thread("t1", name="Doomed"))
    store.upsert_thread(_thread("t2"))
    store.append_message("t1", "user", "hi")
    store.append_message("t2", "user", "kept")
    store.save_checkpoint("t1", "c", {"x": 1})
    store.persist_dynamic_tools("t1", [_tool(0)])
    store.upsert_thread_goal(_goal("t1"))
    assert store.delete_thread("t1") is True
    assert store.get_thread("t1") is None
    assert store.list_all_messages("t1") == []
    assert store.list_leaf_messages("t1") == []
    assert store.load_checkpoint("t1") is None
    assert store.get_dynamic_tools("t1") == []
    assert store.get_thread_goal("t1") is None
    assert [m.content for m in store.list_messages("t2")] == ["kept"]
    # The session index is an append-only log of names: deleted threads keep theirs.
    assert store.find_thread_name_by_id("t1") == "Doomed"
    assert store.delete_thread("t1") is False


def test_memory_mode(store: StateStore) -> None:
    store.upsert_thread(_thread(memory_mode="off"))
    assert store.get_thread_memory_mode("t1") == "off"
    store.set_thread_memory_mode("t1", "on")
    assert store.get_thread_memory_mode("t1") == "on"
    store.set_thread_memory_mode("t1", None)
    assert store.get_thread_memory_mode("t1") is None
    assert store.get_thread_memory_mode("missing") is None
    with pytest.raises(NotFound, match="missing"):
        store.set_thread_memory_mode("missing", "on")
    with pytest.raises(InvalidRecord):
        store.set_thread_memory_mode("t1", 3)  # type: ignore[arg-type]


def test_find_rollout_path_by_id(store: StateStore) -> None:
    store.upsert_thread(_thread("t1", rollout_path="/r/ü.jsonl"))
    store.upsert_thread(_thread("t2"))
    assert store.find_rollout_path_by_id("t1") == "/r/ü.jsonl"
    assert store.find_rollout_path_by_id("t2") is None
    assert store.find_rollout_path_by_id("missing") is None


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.get_thread(1),
        lambda s: s.mark_archived(None),
        lambda s: s.delete_thread(b"t1"),
        lambda s: s.list_messages(1),
        lambda s: s.get_job(2),
    ],
)
def test_ids_must_be_strings(store: StateStore, call: Any) -> None:
    with pytest.raises(InvalidRecord):
        call(store)


# -- goals --------------------------------------------------------------------------


def test_goal_round_trip_replace_and_delete(store: StateStore) -> None:
    with pytest.raises(NotFound, match="thread nope not found"):
        store.upsert_thread_goal(_goal("nope"))
    store.upsert_thread(_thread())
    goal = _goal()
    store.upsert_thread_goal(goal)
    assert store.get_thread_goal("t1") == goal
    replaced = _goal(goal_id="g2", status="complete", token_budget=None, tokens_used=7)
    store.upsert_thread_goal(replaced)
    assert store.get_thread_goal("t1") == replaced
    assert store.delete_thread_goal("t1") is True
    assert store.get_thread_goal("t1") is None
    assert store.delete_thread_goal("t1") is False
    with pytest.raises(TypeError):
        store.upsert_thread_goal(goal.to_dict())  # type: ignore[arg-type]


@pytest.mark.parametrize("status", list(ThreadGoalStatus))
def test_goal_every_status(store: StateStore, status: ThreadGoalStatus) -> None:
    store.upsert_thread(_thread())
    store.upsert_thread_goal(_goal(status=status.value))
    got = store.get_thread_goal("t1")
    assert got is not None and got.status is status


def test_record_thread_goal_usage(store: StateStore) -> None:
    store.upsert_thread(_thread())
    assert store.record_thread_goal_usage("t1", 5, 1, now=30) is None
    store.upsert_thread_goal(_goal(tokens_used=10, time_used_seconds=3, updated_at=20))
    got = store.record_thread_goal_usage("t1", 5, 2, now=30)
    assert got is not None
    assert (got.tokens_used, got.time_used_seconds, got.updated_at) == (15, 5, 30)
    # updated_at never goes back.
    got = store.record_thread_goal_usage("t1", 1, 1, now=25)
    assert got is not None and got.updated_at == 30 and got.tokens_used == 16
    assert store.get_thread_goal("t1") == got
    with pytest.raises(InvalidRecord):
        store.record_thread_goal_usage("t1", True, 1, now=1)
    with pytest.raises(InvalidRecord):
        store.record_thread_goal_usage("t1", 2**64, 1, now=1)


def test_record_thread_goal_usage_overflow_changes_nothing(store: StateStore) -> None:
    store.upsert_thread(_thread())
    goal = _goal(tokens_used=2**63 - 10, time_used_seconds=5)
    store.upsert_thread_goal(goal)
    with pytest.raises(InvalidRecord):
        store.record_thread_goal_usage("t1", 100, 1, now=99)
    # The counter was neither wrapped nor turned into a float, and nothing else moved.
    assert store.get_thread_goal("t1") == goal


def test_record_thread_goal_usage_uses_clock(make_store: StoreFactory) -> None:
    store = make_store(clock=StepClock(5000))
    store.upsert_thread(_thread())
    store.upsert_thread_goal(_goal())
    got = store.record_thread_goal_usage("t1", 1, 1)
    assert got is not None and got.updated_at == 5000


def test_record_thread_goal_continuation(store: StateStore) -> None:
    store.upsert_thread(_thread())
    assert store.record_thread_goal_continuation("t1") is None
    store.upsert_thread_goal(_goal())
    first = store.record_thread_goal_continuation("t1")
    second = store.record_thread_goal_continuation("t1")
    assert first is not None and second is not None
    assert (first.continuation_count, second.continuation_count) == (1, 2)
    got = store.get_thread_goal("t1")
    assert got is not None and got.continuation_count == 2


# -- messages -----------------------------------------------------------------------


def test_append_and_list_messages(make_store: StoreFactory) -> None:
    store = make_store(clock=StepClock(100))
    store.upsert_thread(_thread())
    a = store.append_message("t1", "user", "hi", {"type": "text", "b": [1, 2]})
    b = store.append_message("t1", "assistant", "hello")
    c = store.append_message("t1", "tool", "out", None)
    messages = store.list_messages("t1")
    assert [m.id for m in messages] == [a, b, c]
    assert messages[0].item == {"b": [1, 2], "type": "text"}
    assert messages[1].item is None
    assert [m.parent_entry_id for m in messages] == [None, a, b]
    assert [m.created_at for m in messages] == [100, 101, 102]
    assert all(isinstance(m.id, int) for m in messages)
    thread = store.get_thread("t1")
    assert thread is not None and thread.current_leaf_id == c


def test_append_message_json_item_kinds(store: StateStore) -> None:
    store.upsert_thread(_thread())
    for item in (0, "text", [1, "x"], {"nested": {"deep": [None, True]}}, 1.5, False):
        store.append_message("t1", "user", "x", item)
    assert [m.item for m in store.list_messages("t1")] == [
        0,
        "text",
        [1, "x"],
        {"nested": {"deep": [None, True]}},
        1.5,
        False,
    ]


def test_append_message_errors(store: StateStore) -> None:
    with pytest.raises(NotFound, match="nope"):
        store.append_message("nope", "user", "hi")
    store.upsert_thread(_thread())
    with pytest.raises(InvalidRecord):
        store.append_message("t1", "user", "x", {1, 2})
    with pytest.raises(InvalidRecord):
        store.append_message("t1", "user", "x", float("nan"))
    with pytest.raises(InvalidRecord):
        store.append_message("t1", "user", 5)  # type: ignore[arg-type]
    with pytest.raises(InvalidRecord):
        store.append_message("t1", "user", "\ud800")
    assert store.list_messages("t1") == []


def test_message_text_round_trips_unicode_and_nul(store: StateStore) -> None:
    store.upsert_thread(_thread())
    text = "nul\x00inside — 🚀 \u2028 end"
    store.append_message("t1", "user", text, {"k": "v\x00"})
    [message] = store.list_messages("t1")
    assert message.content == text and message.item == {"k": "v\x00"}


def test_list_messages_limits(store: StateStore) -> None:
    store.upsert_thread(_thread())
    ids = [store.append_message("t1", "user", str(n)) for n in range(5)]
    assert [m.id for m in store.list_messages("t1", 2)] == ids[-2:]
    assert [m.id for m in store.list_messages("t1", 5)] == ids
    assert [m.id for m in store.list_messages("t1", 2**70)] == ids
    # Deliberate improvement: limit 0 returns nothing (the original returned the leaf).
    assert store.list_messages("t1", 0) == []
    with pytest.raises(ValueError):
        store.list_messages("t1", -1)
    assert store.list_messages("missing") == []


def test_list_messages_default_limit_is_500(store: StateStore) -> None:
    store.upsert_thread(_thread())
    with store.transaction():
        for n in range(505):
            store.append_message("t1", "user", str(n))
    messages = store.list_messages("t1")
    assert len(messages) == 500 and messages[-1].content == "504"


def test_fork_switch_and_leaves(store: StateStore) -> None:
    store.upsert_thread(_thread())
    root = store.append_message("t1", "user", "q")
    first = store.append_message("t1", "assistant", "a1")
    fork = store.fork_at_message(root, "assistant", "a2", {"alt": True})
    assert [m.id for m in store.list_messages("t1")] == [root, fork]
    assert [m.id for m in store.list_leaf_messages("t1")] == [first, fork]
    # A string id works too (the original took &str).
    store.set_current_leaf_id("t1", str(first))
    assert [m.id for m in store.list_messages("t1")] == [root, first]
    nxt = store.append_message("t1", "user", "more")
    assert [m.id for m in store.list_messages("t1")] == [root, first, nxt]
    assert [m.id for m in store.list_leaf_messages("t1")] == [fork, nxt]
    assert [m.id for m in store.list_all_messages("t1")] == [root, first, fork, nxt]
    fork2 = store.fork_at_message(str(fork), "user", "again")
    assert [m.id for m in store.list_messages("t1")] == [root, fork, fork2]


def test_fork_at_message_errors(store: StateStore) -> None:
    with pytest.raises(NotFound, match="message 42"):
        store.fork_at_message(42, "user", "x")
    with pytest.raises(InvalidRecord):
        store.fork_at_message("not-a-number", "user", "x")
    with pytest.raises(InvalidRecord):
        store.fork_at_message(True, "user", "x")
    with pytest.raises(InvalidRecord):
        store.fork_at_message(2**63, "user", "x")


def test_set_current_leaf_id_errors(store: StateStore) -> None:
    store.upsert_thread(_thread("t1"))
    store.upsert_thread(_thread("t2"))
    m1 = store.append_message("t1", "user", "x")
    m2 = store.append_message("t2", "user", "y")
    with pytest.raises(NotFound, match="nope"):
        store.set_current_leaf_id("nope", m1)
    with pytest.raises(NotFound, match="message"):
        store.set_current_leaf_id("t1", m2 + 100)
    with pytest.raises(Conflict, match="t2"):
        store.set_current_leaf_id("t1", m2)
    with pytest.raises(InvalidRecord):
        store.set_current_leaf_id("t1", "not-a-number")
    thread = store.get_thread("t1")
    assert thread is not None and thread.current_leaf_id == m1
    assert len(store.list_threads()) == 2


def test_clear_messages(store: StateStore) -> None:
    store.upsert_thread(_thread())
    store.append_message("t1", "user", "a")
    store.append_message("t1", "user", "b")
    assert store.clear_messages("t1") == 2
    assert store.list_messages("t1") == []
    thread = store.get_thread("t1")
    assert thread is not None and thread.current_leaf_id is None
    new = store.append_message("t1", "user", "fresh")
    [message] = store.list_messages("t1")
    assert message.id == new and message.parent_entry_id is None
    assert store.clear_messages("missing") == 0


# -- dynamic tools ------------------------------------------------------------------


def test_dynamic_tools_replace_and_order(store: StateStore) -> None:
    with pytest.raises(NotFound):
        store.persist_dynamic_tools("nope", [_tool(0)])
    store.upsert_thread(_thread())
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    tools = [_tool(2, "b", schema), _tool(0, "a"), _tool(1, "c")]
    store.persist_dynamic_tools("t1", tools)
    got = store.get_dynamic_tools("t1")
    assert [t.position for t in got] == [0, 1, 2]
    assert got[2] == tools[0]
    store.persist_dynamic_tools("t1", [_tool(5, "only")])
    assert [t.name for t in store.get_dynamic_tools("t1")] == ["only"]
    store.persist_dynamic_tools("t1", [])
    assert store.get_dynamic_tools("t1") == []
    assert store.get_dynamic_tools("missing") == []


def test_dynamic_tools_errors_change_nothing(store: StateStore) -> None:
    store.upsert_thread(_thread())
    store.persist_dynamic_tools("t1", [_tool(0, "keep")])
    with pytest.raises(Conflict, match="position 1"):
        store.persist_dynamic_tools("t1", [_tool(1, "a"), _tool(1, "b")])
    with pytest.raises(InvalidRecord):
        store.persist_dynamic_tools("t1", [_tool(0, "bad", {"x": {1, 2}})])
    with pytest.raises(TypeError):
        store.persist_dynamic_tools("t1", _tool(0))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.persist_dynamic_tools("t1", [{"position": 0}])  # type: ignore[list-item]
    assert [t.name for t in store.get_dynamic_tools("t1")] == ["keep"]


def test_dynamic_tools_missing_thread_is_checked_first(store: StateStore) -> None:
    # One shared implementation: every backend gives the same answer to a call that is
    # wrong twice over (PostgreSQL used to check the positions first).
    with pytest.raises(NotFound):
        store.persist_dynamic_tools("nope", [_tool(1, "a"), _tool(1, "b")])


# -- checkpoints --------------------------------------------------------------------


def test_checkpoints_save_load_list_delete(make_store: StoreFactory) -> None:
    store = make_store(clock=StepClock(100))
    with pytest.raises(NotFound):
        # Reads the clock once (100) even though it fails, as the original does.
        store.save_checkpoint("nope", "c", {})
    store.upsert_thread(_thread())
    store.save_checkpoint("t1", "a", {"turn": 1})
    store.save_checkpoint("t1", "b", [1, 2])
    store.save_checkpoint("t1", "c", None)
    assert store.load_checkpoint("t1") == CheckpointRecord(
        thread_id="t1", checkpoint_id="c", state=None, created_at=103
    )
    loaded = store.load_checkpoint("t1", "a")
    assert loaded is not None and loaded.state == {"turn": 1} and loaded.created_at == 101
    assert store.load_checkpoint("t1", "zz") is None
    assert store.load_checkpoint("missing") is None
    assert [c.checkpoint_id for c in store.list_checkpoints("t1")] == ["c", "b", "a"]
    assert [c.checkpoint_id for c in store.list_checkpoints("t1", 1)] == ["c"]
    assert store.list_checkpoints("t1", 0) == []
    with pytest.raises(ValueError):
        store.list_checkpoints("t1", -1)
    # Re-saving overwrites and makes it the latest.
    store.save_checkpoint("t1", "a", {"turn": 2})
    latest = store.load_checkpoint("t1")
    assert latest is not None and latest.checkpoint_id == "a" and latest.state == {"turn": 2}
    assert len(store.list_checkpoints("t1")) == 3
    assert store.delete_checkpoint("t1", "a") is True
    assert store.delete_checkpoint("t1", "a") is False
    latest = store.load_checkpoint("t1")
    assert latest is not None and latest.checkpoint_id == "c"
    with pytest.raises(InvalidRecord):
        store.save_checkpoint("t1", "x", {"bad": object()})


def test_latest_checkpoint_same_second_is_last_saved(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: 777)
    store.upsert_thread(_thread())
    for name in ("first", "second", "third", "second"):
        store.save_checkpoint("t1", name, name)
    latest = store.load_checkpoint("t1")
    assert latest is not None and latest.checkpoint_id == "second"
    assert [c.checkpoint_id for c in store.list_checkpoints("t1")] == [
        "second",
        "third",
        "first",
    ]


def test_checkpoint_default_limit_is_100(make_store: StoreFactory) -> None:
    store = make_store(clock=StepClock())
    store.upsert_thread(_thread())
    with store.transaction():
        for n in range(105):
            store.save_checkpoint("t1", f"c{n}", n)
    assert len(store.list_checkpoints("t1")) == 100


# -- jobs ---------------------------------------------------------------------------


def test_jobs(store: StateStore) -> None:
    job = _job(detail='{"schema_version":1}')
    store.upsert_job(job)
    assert store.get_job("j1") == job
    assert store.get_job("missing") is None
    store.upsert_job(_job(status="completed", progress=None, updated_at=5))
    got = store.get_job("j1")
    assert got is not None and got.status is JobStateStatus.COMPLETED and got.progress is None
    assert store.delete_job("j1") is True
    assert store.delete_job("j1") is False
    assert store.get_job("j1") is None


@pytest.mark.parametrize("status", list(JobStateStatus))
def test_job_every_status(store: StateStore, status: JobStateStatus) -> None:
    store.upsert_job(_job(status=status.value))
    got = store.get_job("j1")
    assert got is not None and got.status is status


def test_list_jobs_order_ties_and_limits(store: StateStore) -> None:
    store.upsert_job(_job("a", updated_at=1))
    store.upsert_job(_job("b", updated_at=3))
    store.upsert_job(_job("c", updated_at=3))
    store.upsert_job(_job("d", updated_at=2))
    assert [j.id for j in store.list_jobs()] == ["c", "b", "d", "a"]
    assert [j.id for j in store.list_jobs(2)] == ["c", "b"]
    assert store.list_jobs(0) == []
    with pytest.raises(ValueError):
        store.list_jobs(-1)
    # Re-upserting b makes it the newest of the tie.
    store.upsert_job(_job("b", updated_at=3, name="again"))
    assert [j.id for j in store.list_jobs()][:2] == ["b", "c"]


def test_upsert_job_rejects_bad_records(store: StateStore) -> None:
    bad = JobStateRecord(
        id="j", name="n", status=JobStateStatus.QUEUED, progress=256, detail=None,
        created_at=1, updated_at=1,
    )  # fmt: skip
    with pytest.raises(InvalidRecord, match="progress"):
        store.upsert_job(bad)
    with pytest.raises(TypeError):
        store.upsert_job({"id": "j"})  # type: ignore[arg-type]
    assert store.list_jobs() == []


# -- session index ------------------------------------------------------------------


def test_session_index_names(store: StateStore) -> None:
    store.append_thread_name("t1", "Alpha", 10, "/r/1")
    store.append_thread_name("t2", "Ümlaut", 11)
    store.append_thread_name("t1", "Alpha Renamed", 12, "/r/1b")
    assert store.find_thread_name_by_id("t1") == "Alpha Renamed"
    assert store.find_thread_name_by_id("zz") is None
    assert store.find_thread_names_by_ids(["t1", "t2", "zz"]) == {
        "t1": "Alpha Renamed",
        "t2": "Ümlaut",
        "zz": None,
    }
    assert store.find_thread_path_by_name_str("ALPHA renamed") == "/r/1b"
    assert store.find_thread_path_by_name_str("Alpha") is None
    # ASCII-only case folding: Ü does not match ü.
    assert store.find_thread_path_by_name_str("ümlaut") is None
    with pytest.raises(TypeError):
        store.find_thread_names_by_ids("t1")
    with pytest.raises(InvalidRecord):
        store.append_thread_name("t1", "x", "12")  # type: ignore[arg-type]
    # The database is not touched by append_thread_name.
    assert store.get_thread("t1") is None


def test_find_thread_path_by_name_picks_newest(store: StateStore) -> None:
    store.append_thread_name("old", "Same", 5, "/old")
    store.append_thread_name("new", "same", 9, "/new")
    store.append_thread_name("mid", "SAME", 7, "/mid")
    assert store.find_thread_path_by_name_str("same") == "/new"
    # A rename moves a thread out of the old name's matches.
    store.append_thread_name("new", "Other", 10, "/new")
    assert store.find_thread_path_by_name_str("same") == "/mid"


# -- transactions and lifecycle -----------------------------------------------------


def test_transaction_commits(store: StateStore) -> None:
    with store.transaction():
        store.upsert_thread(_thread())
        store.append_message("t1", "user", "a")
    assert len(store.list_messages("t1")) == 1


def test_transaction_rolls_back_on_error(store: StateStore) -> None:
    store.upsert_thread(_thread())
    with pytest.raises(RuntimeError), store.transaction():
        store.append_message("t1", "user", "a")
        store.save_checkpoint("t1", "c", 1)
        raise RuntimeError("boom")
    assert store.list_messages("t1") == []
    assert store.load_checkpoint("t1") is None


def test_transaction_rolls_back_on_keyboard_interrupt(store: StateStore) -> None:
    store.upsert_thread(_thread())
    with pytest.raises(KeyboardInterrupt), store.transaction():
        store.append_message("t1", "user", "a")
        raise KeyboardInterrupt
    assert store.list_messages("t1") == []
    store.append_message("t1", "user", "after")
    assert len(store.list_messages("t1")) == 1


def test_nested_transaction_is_a_savepoint(store: StateStore) -> None:
    store.upsert_thread(_thread())
    with store.transaction():
        store.append_message("t1", "user", "outer")
        with pytest.raises(ValueError), store.transaction():
            store.append_message("t1", "user", "inner")
            raise ValueError("inner fails")
        with store.transaction():
            store.append_message("t1", "user", "inner ok")
    assert [m.content for m in store.list_messages("t1")] == ["outer", "inner ok"]


def test_failed_call_inside_transaction_leaves_the_rest(store: StateStore) -> None:
    store.upsert_thread(_thread())
    with store.transaction():
        store.append_message("t1", "user", "a")
        with pytest.raises(NotFound):
            store.append_message("nope", "user", "b")
        store.append_message("t1", "user", "c")
    assert [m.content for m in store.list_messages("t1")] == ["a", "c"]


def test_snapshot_reads(store: StateStore) -> None:
    store.upsert_thread(_thread())
    with store.snapshot():
        assert store.get_thread("t1") is not None
        assert store.list_messages("t1") == []


def test_close_and_context_manager(make_store: StoreFactory) -> None:
    store = make_store()
    with store as same:
        assert same is store
        same.upsert_thread(_thread())
    with pytest.raises(ThreadloomError):
        store.get_thread("t1")


def test_closed_store_refuses_session_index_calls(make_store: StoreFactory) -> None:
    store = make_store()
    store.append_thread_name("t1", "Alpha", 1)
    store.close()
    for call in (
        lambda: store.find_thread_name_by_id("t1"),
        lambda: store.find_thread_names_by_ids(["t1"]),
        lambda: store.find_thread_path_by_name_str("alpha"),
        lambda: store.append_thread_name("t1", "Beta", 2),
    ):
        with pytest.raises(ThreadloomError):
            call()


def test_records_have_original_enums(store: StateStore) -> None:
    store.upsert_thread(_thread(source="fork", status="paused"))
    got = store.get_thread("t1")
    assert got is not None
    assert got.source is SessionSource.FORK and got.status is ThreadStatus.PAUSED
    assert got.to_dict()["source"] == "fork"
