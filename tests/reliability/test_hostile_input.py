"""Scenario 6: hostile input across every public method.

Each call either round-trips exactly (under JSON's rules, see below) or raises
``ThreadloomError``/``ValueError``/``TypeError`` before anything is written; the
database stays intact either way.

"Exactly" for JSON values means: what is read back equals
``json.loads(json.dumps(value))``. JSON has only string keys and arrays, so an int
key comes back as a string and a tuple as a list, as with the ``json`` module itself.
Rejecting those instead would need a walk over every value on the hot path; measured
on an 11 KB checkpoint state it costs about as much as the encoding itself (see
``docs/reliability.md``), so the store follows the ``json`` module's rules.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threadloom import (
    DynamicToolRecord,
    InvalidRecord,
    JobStateRecord,
    StateStore,
    ThreadGoalRecord,
    ThreadloomError,
    ThreadMetadata,
)
from threadloom._json import MAX_DEPTH

from ._support import TABLES, check_integrity, record

# Every refusal is a ThreadloomError (wrong types: InvalidType, also a TypeError).
ALLOWED = (ThreadloomError,)

SQL_METACHARACTERS = [
    "'",
    '"',
    "'; DROP TABLE threads; --",
    "' OR '1'='1",
    "%",
    "_",
    "\\",
    "`",
    "?",
    ":name",
    "$1",
    "/* */",
    "\x00",
    "a\x00b",
    "\u2028",
    "\ud800",
    "\udfff",
    "",
]

# Text including lone surrogates (Hypothesis leaves category Cs out by default).
any_text = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=20),
    st.sampled_from(SQL_METACHARACTERS),
)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    any_text,
)
json_like = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(any_text, inner, max_size=4),
        st.dictionaries(st.integers(-5, 5), inner, max_size=3),
        st.tuples(inner, inner),
    ),
    max_leaves=12,
)
hostile = st.one_of(
    json_like,
    st.binary(max_size=8),
    st.just(object()),
    st.just({1, 2}),
    st.just({"a": {1, 2}}),
    st.just({1: "int key", "1": "str key"}),
    st.just(Path("/p")),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([-1, 0, 2**63 - 1, 2**63, -(2**63), 10**30, True, 1.5]),
)


def normalized(value: Any) -> Any:
    """What JSON storage gives back for ``value``."""
    return json.loads(json.dumps(value))


def _counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        out = {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}
        out["max_message_id"] = int(
            conn.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]
        )
        return out
    finally:
        conn.close()


def _state(db: Path) -> tuple[dict[str, int], bytes]:
    index = db.parent / "session_index.jsonl"
    return _counts(db), index.read_bytes() if index.exists() else b""


@pytest.fixture
def hostile_store(tmp_path: Path) -> Iterator[tuple[StateStore, Path]]:
    db = tmp_path / "state.db"
    with StateStore.open(db) as store:
        store.upsert_thread(ThreadMetadata.create("t", name="t"))
        store.append_message("t", "user", "first")
        store.save_checkpoint("t", "c", {"k": 1})
        yield store, db


BASE_THREAD = ThreadMetadata.create("base", name="base", now=1)
BASE_JOB = JobStateRecord.from_dict(
    {
        "id": "j",
        "name": "job",
        "status": "running",
        "progress": 1,
        "detail": None,
        "created_at": 1,
        "updated_at": 2,
    }
)
BASE_GOAL = ThreadGoalRecord.from_dict(
    {
        "thread_id": "t",
        "goal_id": "g",
        "objective": "o",
        "status": "active",
        "token_budget": None,
        "tokens_used": 0,
        "time_used_seconds": 0,
        "created_at": 1,
        "updated_at": 1,
    }
)

Check = Callable[[StateStore, Any], None]


def _check_append(store: StateStore, a: list[Any]) -> None:
    message = store.list_messages("t", 1)[0]
    assert (message.role, message.content) == (a[0], a[1])
    assert message.item == normalized(a[2])


def _check_checkpoint(store: StateStore, a: list[Any]) -> None:
    saved = store.load_checkpoint("t", a[0])
    assert saved is not None and saved.state == normalized(a[1])


def _check_thread(store: StateStore, thread: ThreadMetadata) -> None:
    got = store.get_thread(thread.id)
    assert got is not None
    assert dataclasses.replace(got, current_leaf_id=None) == dataclasses.replace(
        thread, current_leaf_id=None
    )


def _replace(base: Any, field: str, value: Any) -> Any:
    # dataclasses.replace runs __init__ only; validation is the store's job.
    return dataclasses.replace(base, **{field: value})


#: name -> (number of hostile arguments, call, round-trip check on success or None)
CALLS: dict[str, tuple[int, Callable[[StateStore, list[Any]], Any], Any]] = {
    "append_message": (
        3,
        lambda s, a: s.append_message("t", a[0], a[1], a[2]),
        lambda s, a, r: _check_append(s, a),
    ),
    "append_message(thread)": (1, lambda s, a: s.append_message(a[0], "u", "c"), None),
    "fork_at_message": (2, lambda s, a: s.fork_at_message(a[0], "u", "c", a[1]), None),
    "set_current_leaf_id": (2, lambda s, a: s.set_current_leaf_id(a[0], a[1]), None),
    "list_messages": (2, lambda s, a: s.list_messages(a[0], a[1]), None),
    "list_leaf_messages": (1, lambda s, a: s.list_leaf_messages(a[0]), None),
    "list_all_messages": (1, lambda s, a: s.list_all_messages(a[0]), None),
    "save_checkpoint": (
        2,
        lambda s, a: s.save_checkpoint("t", a[0], a[1]),
        lambda s, a, r: _check_checkpoint(s, a),
    ),
    "load_checkpoint": (2, lambda s, a: s.load_checkpoint(a[0], a[1]), None),
    "list_checkpoints": (2, lambda s, a: s.list_checkpoints(a[0], a[1]), None),
    "delete_checkpoint": (2, lambda s, a: s.delete_checkpoint(a[0], a[1]), None),
    "upsert_thread": (
        2,
        lambda s, a: s.upsert_thread(_replace(BASE_THREAD, str(a[0]), a[1])),
        None,
    ),
    "get_thread": (1, lambda s, a: s.get_thread(a[0]), None),
    "list_threads": (2, lambda s, a: s.list_threads(include_archived=a[0], limit=a[1]), None),
    "mark_archived": (1, lambda s, a: s.mark_archived(a[0]), None),
    "mark_unarchived": (1, lambda s, a: s.mark_unarchived(a[0]), None),
    "set_thread_memory_mode": (2, lambda s, a: s.set_thread_memory_mode(a[0], a[1]), None),
    "get_thread_memory_mode": (1, lambda s, a: s.get_thread_memory_mode(a[0]), None),
    "find_rollout_path_by_id": (1, lambda s, a: s.find_rollout_path_by_id(a[0]), None),
    "upsert_thread_goal": (
        2,
        lambda s, a: s.upsert_thread_goal(_replace(BASE_GOAL, str(a[0]), a[1])),
        None,
    ),
    "get_thread_goal": (1, lambda s, a: s.get_thread_goal(a[0]), None),
    "record_thread_goal_usage": (
        3,
        lambda s, a: s.record_thread_goal_usage(a[0], a[1], a[2]),
        None,
    ),
    "record_thread_goal_continuation": (
        1,
        lambda s, a: s.record_thread_goal_continuation(a[0]),
        None,
    ),
    "persist_dynamic_tools": (
        4,
        lambda s, a: s.persist_dynamic_tools(
            "t",
            [DynamicToolRecord(position=a[0], name=a[1], description=a[2], input_schema=a[3])],
        ),
        None,
    ),
    "persist_dynamic_tools(raw)": (1, lambda s, a: s.persist_dynamic_tools("t", a[0]), None),
    "get_dynamic_tools": (1, lambda s, a: s.get_dynamic_tools(a[0]), None),
    "upsert_job": (2, lambda s, a: s.upsert_job(_replace(BASE_JOB, str(a[0]), a[1])), None),
    "get_job": (1, lambda s, a: s.get_job(a[0]), None),
    "list_jobs": (1, lambda s, a: s.list_jobs(a[0]), None),
    "delete_job": (1, lambda s, a: s.delete_job(a[0]), None),
    "append_thread_name": (
        4,
        lambda s, a: s.append_thread_name(a[0], a[1], a[2], a[3]),
        lambda s, a, r: _check_name(s, a),
    ),
    "find_thread_name_by_id": (1, lambda s, a: s.find_thread_name_by_id(a[0]), None),
    "find_thread_names_by_ids": (1, lambda s, a: s.find_thread_names_by_ids(a[0]), None),
    "find_thread_path_by_name_str": (
        1,
        lambda s, a: s.find_thread_path_by_name_str(a[0]),
        None,
    ),
}


def _check_name(store: StateStore, a: list[Any]) -> None:
    assert store.find_thread_name_by_id(a[0]) == a[1]


THREAD_FIELDS = [f.name for f in dataclasses.fields(ThreadMetadata)]
JOB_FIELDS = [f.name for f in dataclasses.fields(JobStateRecord)]
GOAL_FIELDS = [f.name for f in dataclasses.fields(ThreadGoalRecord)]
_tried: dict[str, int] = {}
#: What the generated calls did, counted as they ran (test_hostile_figures reports it).
_outcomes = {"succeeded": 0, "refused": 0, "unexpected_exceptions": 0, "writes_after_refusal": 0}


@st.composite
def _call(draw: st.DrawFn) -> tuple[str, list[Any]]:
    name = draw(st.sampled_from(sorted(CALLS)))
    count = CALLS[name][0]
    args = [draw(hostile) for _ in range(count)]
    fields = {"upsert_thread": THREAD_FIELDS, "upsert_job": JOB_FIELDS}
    fields["upsert_thread_goal"] = [f for f in GOAL_FIELDS if f != "thread_id"]
    if name in fields:
        args[0] = draw(st.sampled_from(fields[name]))
    # Well-typed values now and then, so success paths and round trips are exercised.
    if name == "append_message" and draw(st.booleans()):
        args = [draw(any_text), draw(any_text), draw(json_like)]
    if name == "save_checkpoint" and draw(st.booleans()):
        args = [draw(any_text), draw(json_like)]
    if name == "append_thread_name" and draw(st.booleans()):
        args = [draw(any_text), draw(st.none() | any_text), draw(st.integers()), None]
    return name, args


@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(call=_call())
def test_every_public_method_under_hostile_input(
    hostile_store: tuple[StateStore, Path], call: tuple[str, list[Any]]
) -> None:
    store, db = hostile_store
    name, args = call
    _tried[name] = _tried.get(name, 0) + 1
    _, run, check = CALLS[name]
    before = _state(db)
    try:
        result = run(store, args)
    except ALLOWED:
        _outcomes["refused"] += 1
        # Refused before anything was written: rows and index bytes unchanged.
        changed = _state(db) != before
        _outcomes["writes_after_refusal"] += changed
        assert not changed, f"{name} was refused but wrote"
    except Exception:
        _outcomes["unexpected_exceptions"] += 1
        raise
    else:
        _outcomes["succeeded"] += 1
        if check is not None:
            check(store, args, result)
    check_integrity(db)


def test_hostile_figures() -> None:
    """Record how many hostile calls the property test made (it runs first)."""
    if _tried:
        record(
            "6-hostile-input",
            methods=len(_tried),
            inputs_tried=sum(_tried.values()),
            **_outcomes,
        )


# -- explicit extremes ---------------------------------------------------------------


def test_ten_megabyte_content_round_trips(hostile_store: tuple[StateStore, Path]) -> None:
    store, _db = hostile_store
    content = "é\x00" * (5 * 1024 * 1024)
    mid = store.append_message("t", "user", content, {"blob": content[:1000]})
    message = store.list_messages("t", 1)[0]
    assert message.id == mid and message.content == content
    store.save_checkpoint("t", "big", {"s": content})
    saved = store.load_checkpoint("t", "big")
    assert saved is not None and saved.state == {"s": content}


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_absurdly_deep_json_is_refused(hostile_store: tuple[StateStore, Path], depth: int) -> None:
    store, db = hostile_store
    before = _state(db)
    for call in (
        lambda: store.append_message("t", "user", "deep", _nested(depth)),
        lambda: store.save_checkpoint("t", "deep", _nested(depth)),
        lambda: store.persist_dynamic_tools(
            "t",
            [
                DynamicToolRecord(
                    position=0, name="d", description=None, input_schema=_nested(depth)
                )
            ],
        ),
    ):
        with pytest.raises(InvalidRecord, match="nested too deeply"):
            call()
    assert _state(db) == before
    check_integrity(db)


def test_every_depth_up_to_the_limit_round_trips_or_is_refused(
    hostile_store: tuple[StateStore, Path],
) -> None:
    """No depth is accepted on write and then unreadable (CorruptData) on read.

    The limit is the original's: serde_json cannot read JSON nested 128 levels deep,
    so every depth below 128 round-trips and every depth from 128 is refused.
    """
    store, db = hostile_store
    for depth in [*range(0, 1200, 7), 127, 128]:
        value = _nested(depth)
        if depth < MAX_DEPTH:
            store.append_message("t", "user", "d", value)
            assert store.list_messages("t", 1)[0].item == value
        else:
            with pytest.raises(InvalidRecord, match="the original cannot read"):
                store.append_message("t", "user", "d", value)
    check_integrity(db)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, {"x": [math.nan]}])
def test_nan_and_infinity_are_refused(hostile_store: tuple[StateStore, Path], bad: Any) -> None:
    store, db = hostile_store
    before = _state(db)
    with pytest.raises(InvalidRecord, match="JSON"):
        store.append_message("t", "user", "x", bad)
    with pytest.raises(InvalidRecord, match="JSON"):
        store.save_checkpoint("t", "nan", bad)
    assert _state(db) == before


@pytest.mark.parametrize("text", SQL_METACHARACTERS)
def test_sql_metacharacters_and_nul_round_trip(
    hostile_store: tuple[StateStore, Path], text: str
) -> None:
    store, db = hostile_store
    before = _state(db)
    thread = ThreadMetadata.create(f"id{text}", name=f"name{text}", preview=text, cwd=text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates cannot be stored as UTF-8 (nor by the original).
        with pytest.raises(InvalidRecord):
            store.upsert_thread(thread)
        with pytest.raises(InvalidRecord):
            store.append_message("t", text, text, {text: text})
        with pytest.raises(InvalidRecord):
            store.append_thread_name("t", text, 1)
        assert _state(db) == before
        return
    store.upsert_thread(thread)
    _check_thread(store, thread)
    store.append_message(thread.id, text, text, {text: text})
    message = store.list_messages(thread.id, 1)[0]
    assert (message.role, message.content, message.item) == (text, text, {text: text})
    assert store.find_thread_name_by_id(thread.id) == f"name{text}"
    assert store.find_thread_path_by_name_str(f"NAME{text}") is None or text.upper() != text
    assert store.list_threads(limit=1000)[0].id == thread.id
    check_integrity(db)
