"""Every error a public method raises on purpose is a ThreadloomError, wrong types included.

The README promises one base class. A wrong-typed argument raises
:class:`InvalidType`, which is a ``ThreadloomError`` (and an ``InvalidRecord``) and
also the ``TypeError`` Python code expects; a wrong value (a negative limit) raises
``InvalidRecord``, also a ``ValueError``. Nothing is written by a refused call. Run on
every backend.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from threadloom import (
    DynamicToolRecord,
    InvalidRecord,
    InvalidType,
    StateStore,
    ThreadloomError,
    ThreadMetadata,
)

Call = Callable[[StateStore], object]

#: Public method -> calls with one argument of the wrong type each.
WRONG_TYPES: dict[str, list[Call]] = {
    "upsert_thread": [
        lambda s: s.upsert_thread("t1"),  # type: ignore[arg-type]
        lambda s: s.upsert_thread({"id": "t1"}),  # type: ignore[arg-type]
    ],
    "get_thread": [lambda s: s.get_thread(1)],  # type: ignore[arg-type]
    "list_threads": [
        lambda s: s.list_threads("all"),  # type: ignore[arg-type]
        lambda s: s.list_threads(limit="10"),  # type: ignore[arg-type]
        lambda s: s.list_threads(include_archived="yes"),  # type: ignore[arg-type]
    ],
    "iter_threads": [lambda s: list(s.iter_threads(include_archived=1))],  # type: ignore[arg-type]
    "mark_archived": [lambda s: s.mark_archived(None)],  # type: ignore[arg-type]
    "mark_unarchived": [lambda s: s.mark_unarchived(b"t")],  # type: ignore[arg-type]
    "delete_thread": [lambda s: s.delete_thread(["t"])],  # type: ignore[arg-type]
    "set_thread_memory_mode": [lambda s: s.set_thread_memory_mode("t", 1)],  # type: ignore[arg-type]
    "get_thread_memory_mode": [lambda s: s.get_thread_memory_mode(1)],  # type: ignore[arg-type]
    "find_rollout_path_by_id": [lambda s: s.find_rollout_path_by_id(1)],  # type: ignore[arg-type]
    "upsert_thread_goal": [lambda s: s.upsert_thread_goal("goal")],  # type: ignore[arg-type]
    "get_thread_goal": [lambda s: s.get_thread_goal(1)],  # type: ignore[arg-type]
    "delete_thread_goal": [lambda s: s.delete_thread_goal(1)],  # type: ignore[arg-type]
    "record_thread_goal_usage": [
        lambda s: s.record_thread_goal_usage("t", "10", 1),  # type: ignore[arg-type]
        lambda s: s.record_thread_goal_usage("t", 10, 1.5),  # type: ignore[arg-type]
    ],
    "record_thread_goal_continuation": [
        lambda s: s.record_thread_goal_continuation(1)  # type: ignore[arg-type]
    ],
    "append_message": [
        lambda s: s.append_message("t", "user", 42),  # type: ignore[arg-type]
        lambda s: s.append_message("t", None, "x"),  # type: ignore[arg-type]
    ],
    "fork_at_message": [lambda s: s.fork_at_message(1.5, "user", "x")],  # type: ignore[arg-type]
    "list_messages": [lambda s: s.list_messages("t", "5")],  # type: ignore[arg-type]
    "list_leaf_messages": [lambda s: s.list_leaf_messages(1)],  # type: ignore[arg-type]
    "list_all_messages": [lambda s: s.list_all_messages(1)],  # type: ignore[arg-type]
    "set_current_leaf_id": [lambda s: s.set_current_leaf_id("t", [1])],  # type: ignore[arg-type]
    "clear_messages": [lambda s: s.clear_messages(1)],  # type: ignore[arg-type]
    "persist_dynamic_tools": [
        lambda s: s.persist_dynamic_tools("t", 5),  # type: ignore[arg-type]
        lambda s: s.persist_dynamic_tools("t", [{"name": "grep"}]),  # type: ignore[list-item]
        lambda s: s.persist_dynamic_tools(
            "t",
            [DynamicToolRecord(position="0", name="g", description=None, input_schema={})],  # type: ignore[arg-type]
        ),
    ],
    "get_dynamic_tools": [lambda s: s.get_dynamic_tools(1)],  # type: ignore[arg-type]
    "save_checkpoint": [lambda s: s.save_checkpoint("t", 1, {})],  # type: ignore[arg-type]
    "load_checkpoint": [lambda s: s.load_checkpoint("t", 1)],  # type: ignore[arg-type]
    "list_checkpoints": [lambda s: s.list_checkpoints("t", 2.0)],  # type: ignore[arg-type]
    "delete_checkpoint": [lambda s: s.delete_checkpoint("t", None)],  # type: ignore[arg-type]
    "upsert_job": [lambda s: s.upsert_job("job")],  # type: ignore[arg-type]
    "get_job": [lambda s: s.get_job(1)],  # type: ignore[arg-type]
    "list_jobs": [lambda s: s.list_jobs("10")],  # type: ignore[arg-type]
    "delete_job": [lambda s: s.delete_job(1)],  # type: ignore[arg-type]
    "append_thread_name": [
        lambda s: s.append_thread_name("t", "n", "now"),  # type: ignore[arg-type]
        lambda s: s.append_thread_name("t", "n", 1, 5),  # type: ignore[arg-type]
    ],
    "find_thread_name_by_id": [lambda s: s.find_thread_name_by_id(1)],  # type: ignore[arg-type]
    "find_thread_names_by_ids": [
        lambda s: s.find_thread_names_by_ids("t"),
        lambda s: s.find_thread_names_by_ids(5),  # type: ignore[arg-type]
        lambda s: s.find_thread_names_by_ids([1]),  # type: ignore[list-item]
    ],
    "find_thread_path_by_name_str": [
        lambda s: s.find_thread_path_by_name_str(None)  # type: ignore[arg-type]
    ],
    "set_retention_policy": [lambda s: s.set_retention_policy({"older_than_days": 1})],  # type: ignore[arg-type]
    "run_retention": [
        lambda s: s.run_retention("all"),  # type: ignore[arg-type]
        lambda s: s.run_retention(batch_size="5"),  # type: ignore[arg-type]
        lambda s: s.run_retention(dry_run=1),  # type: ignore[arg-type]
    ],
}

#: Public methods that take no argument a caller could get the type of wrong.
NO_ARGUMENTS = {
    "close",
    "db_path",
    "compact_session_index",
    "migrate",
    "retention_policy",
    "schema_info",
    "session_index_entries",
    "session_index_health",
    "snapshot",
    "transaction",
}

CASES = [
    pytest.param(name, call, id=f"{name}-{i}")
    for name, calls in WRONG_TYPES.items()
    for i, call in enumerate(calls)
]


def test_every_public_method_is_covered() -> None:
    public = {
        name
        for name, member in inspect.getmembers(StateStore)
        if not name.startswith("_") and inspect.isfunction(member)
    }
    assert public == set(WRONG_TYPES) | NO_ARGUMENTS


def _snapshot(store: StateStore) -> tuple[object, ...]:
    return (
        store.list_threads(include_archived=True, limit=100),
        store.list_all_messages("t"),
        store.list_checkpoints("t"),
        store.get_dynamic_tools("t"),
        store.list_jobs(),
        store.get_thread_goal("t"),
        store.session_index_entries(),
    )


@pytest.mark.parametrize(("name", "call"), CASES)
def test_a_wrong_type_raises_invalid_type(store: StateStore, name: str, call: Call) -> None:
    store.upsert_thread(ThreadMetadata.create("t", name="t", now=1))
    store.append_message("t", "user", "kept")
    before = _snapshot(store)
    with pytest.raises(InvalidType) as info:
        call(store)
    # One class to catch, and the built-in one Python code expects.
    assert isinstance(info.value, ThreadloomError)
    assert isinstance(info.value, InvalidRecord)
    assert isinstance(info.value, TypeError)
    assert _snapshot(store) == before, name


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.list_messages("t", -1),
        lambda s: s.list_threads(limit=-1),
        lambda s: s.list_checkpoints("t", -5),
        lambda s: s.list_jobs(-1),
    ],
)
def test_a_negative_limit_is_invalid_record(store: StateStore, call: Call) -> None:
    with pytest.raises(InvalidRecord) as info:
        call(store)
    assert isinstance(info.value, ValueError)
    assert not isinstance(info.value, TypeError)


def test_invalid_type_is_one_class_for_both_catches() -> None:
    error: Any = InvalidType("x")
    assert isinstance(error, ThreadloomError | TypeError | ValueError)
