"""ThreadloomSession against the SDK's own SQLiteSession: the same tests pass on both.

Each test states one documented behaviour of the ``Session`` protocol (or, where the
protocol is silent, of ``SQLiteSession``) and runs on ``SQLiteSession``, on threadloom
over SQLite and on threadloom over PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKENDS, StoreFactory
from tests.integrations.conftest import need

need("agents", "agents")

from agents import SQLiteSession  # noqa: E402
from agents.memory import SessionSettings  # noqa: E402

from threadloom import StateStore  # noqa: E402
from threadloom.integrations.agents import ThreadloomSession, item_role_and_text  # noqa: E402

Factory = Callable[..., Any]


@pytest.fixture(params=["sdk-sqlite", "threadloom-sqlite", "threadloom-postgres"])
def make_session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Sessions on one database: the SDK's SQLiteSession, or threadloom on each backend."""
    opened: list[Any] = []
    stores: Iterator[StoreFactory] | None = None
    store = None
    if request.param != "sdk-sqlite":
        stores = BACKENDS[request.param.removeprefix("threadloom-")](tmp_path)
        store = next(stores)()

    def make(session_id: str = "s1", **kwargs: Any) -> Any:
        if store is None:
            session: Any = SQLiteSession(session_id, tmp_path / "sdk.db", **kwargs)
        else:
            session = ThreadloomSession(session_id, store, **kwargs)
        opened.append(session)
        return session

    yield make
    for session in opened:
        session.close()
    if stores is not None:
        next(stores, None)  # the factory's cleanup


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def msg(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": text}


ITEMS = [msg("user", "hi"), msg("assistant", "hello"), msg("user", "bye"), msg("assistant", "ok")]


def test_a_new_session_is_empty(make_session: Factory) -> None:
    session = make_session()
    assert run(session.get_items()) == []
    assert run(session.pop_item()) is None


def test_items_come_back_in_order_exactly(make_session: Factory) -> None:
    session = make_session()
    call = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a": 1}'}
    out = {"type": "function_call_output", "call_id": "c1", "output": "2"}
    run(session.add_items([*ITEMS[:2], call]))
    run(session.add_items([out]))
    assert run(session.get_items()) == [*ITEMS[:2], call, out]


def test_limit_gives_the_latest_items_oldest_first(make_session: Factory) -> None:
    session = make_session()
    run(session.add_items(ITEMS))
    assert run(session.get_items(limit=2)) == ITEMS[2:]
    assert run(session.get_items(limit=10)) == ITEMS
    assert run(session.get_items(limit=0)) == []


def test_a_negative_limit_reads_everything(make_session: Factory) -> None:
    session = make_session()
    run(session.add_items(ITEMS))
    assert run(session.get_items(limit=-1)) == ITEMS


def test_session_settings_limit_applies_without_an_explicit_limit(make_session: Factory) -> None:
    session = make_session(session_settings=SessionSettings(limit=3))
    run(session.add_items(ITEMS))
    assert run(session.get_items()) == ITEMS[1:]
    assert run(session.get_items(limit=1)) == ITEMS[3:]
    coerced = make_session("s2", session_settings={"limit": 1})
    assert isinstance(coerced.session_settings, SessionSettings)
    assert coerced.session_settings.limit == 1


def test_default_settings_have_no_limit(make_session: Factory) -> None:
    session = make_session()
    assert isinstance(session.session_settings, SessionSettings)
    assert session.session_settings.limit is None


def test_pop_item_removes_and_returns_the_latest(make_session: Factory) -> None:
    session = make_session()
    run(session.add_items(ITEMS))
    assert run(session.pop_item()) == ITEMS[-1]
    assert run(session.get_items()) == ITEMS[:-1]
    for _ in ITEMS[:-1]:
        run(session.pop_item())
    assert run(session.pop_item()) is None
    assert run(session.get_items()) == []
    run(session.add_items([msg("user", "again")]))
    assert run(session.get_items()) == [msg("user", "again")]


def test_clear_session_empties_it_and_it_can_be_used_again(make_session: Factory) -> None:
    session = make_session()
    run(session.add_items(ITEMS))
    run(session.clear_session())
    assert run(session.get_items()) == []
    run(session.add_items(ITEMS[:1]))
    assert run(session.get_items()) == ITEMS[:1]


def test_adding_no_items_changes_nothing(make_session: Factory) -> None:
    session = make_session()
    run(session.add_items([]))
    assert run(session.get_items()) == []


def test_sessions_are_isolated(make_session: Factory) -> None:
    a, b = make_session("a"), make_session("b")
    run(a.add_items(ITEMS[:1]))
    run(b.add_items(ITEMS[1:2]))
    run(a.clear_session())
    assert run(a.get_items()) == []
    assert run(b.get_items()) == ITEMS[1:2]


def test_a_second_session_object_sees_the_same_history(make_session: Factory) -> None:
    run(make_session("same").add_items(ITEMS))
    assert run(make_session("same").get_items()) == ITEMS


def test_calls_after_close_raise_runtime_error(make_session: Factory) -> None:
    session = make_session()
    session.close()
    with pytest.raises(RuntimeError):
        run(session.add_items(ITEMS[:1]))
    with pytest.raises(RuntimeError):
        run(session.get_items())


# -- threadloom only ---------------------------------------------------------------------


def test_items_are_a_readable_transcript(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    session = ThreadloomSession("t", str(db))
    call = {"type": "function_call", "call_id": "c", "name": "add", "arguments": "{}"}
    run(session.add_items([msg("user", "what is 1+1"), call]))
    session.close()
    with StateStore.open(db) as store:
        thread = store.get_thread("t")
        assert thread is not None and thread.preview == "what is 1+1"
        rows = [(m.role, m.content, m.item) for m in store.list_messages("t")]
    assert rows == [
        ("user", "what is 1+1", msg("user", "what is 1+1")),
        ("assistant", "add({})", call),
    ]


def test_run_usage_is_recorded_against_the_goal(tmp_path: Path) -> None:
    from agents import Runner

    from tests.integrations.agents_support import agent
    from threadloom import ThreadGoalRecord, ThreadGoalStatus

    with StateStore.open(tmp_path / "state.db") as store:
        session = ThreadloomSession("g", store)
        result = run(Runner.run(agent(), "hello", session=session))
        store.upsert_thread_goal(
            ThreadGoalRecord(
                thread_id="g",
                goal_id="goal-1",
                objective="answer",
                status=ThreadGoalStatus.ACTIVE,
                token_budget=None,
                tokens_used=0,
                time_used_seconds=0,
                created_at=1,
                updated_at=1,
            )
        )
        goal = run(session.record_run_usage(result, seconds=3))
        assert goal is not None
        assert (goal.tokens_used, goal.time_used_seconds) == (10, 3)
        run(session.aclose())


def test_role_and_text_of_sdk_items() -> None:
    parts = {
        "role": "assistant",
        "type": "message",
        "content": [{"type": "output_text", "text": "a"}],
    }
    assert item_role_and_text(parts) == ("assistant", "a")
    assert item_role_and_text({"type": "function_call_output", "output": "4"}) == ("tool", "4")
    assert item_role_and_text({"type": "web_search_call"}) == ("web_search_call", "")


@pytest.mark.slow
def test_a_real_agent_run_persists_and_resumes_in_a_new_process(tmp_path: Path) -> None:
    """Two processes: the second continues the conversation the first stored."""
    db = str(tmp_path / "state.db")

    def turns(*prompts: str) -> list[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.integrations.agents_support", db, "conv", *prompts],
            capture_output=True,
            text=True,
            check=True,
        )
        return list(json.loads(proc.stdout.splitlines()[-1]))

    assert turns("hello", "count these three words") == [
        "turn 1; history 1 items",
        "turn 2; history 5 items",
    ]
    # A new process sees the stored history: 6 items, then its prompt.
    assert turns("and now?") == ["turn 3; history 7 items"]
    with StateStore.open(db) as store:
        roles = [m.role for m in store.list_messages("conv")]
    assert roles == [
        "user",
        "assistant",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
    ]
