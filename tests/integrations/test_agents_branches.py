"""Branching: ThreadloomSession against the SDK's AdvancedSQLiteSession, the same tests.

The SDK copies messages into a new branch; threadloom forks the message tree. Both
must show the same items on each branch, list the same branches and refuse the same
deletions. threadloom's current branch also survives a new process (the SDK keeps it
in memory only), tested apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKENDS, StoreFactory
from tests.integrations.conftest import need

need("agents", "agents")

from agents.extensions.memory.advanced_sqlite_session import AdvancedSQLiteSession  # noqa: E402

from threadloom import StateStore  # noqa: E402
from threadloom.integrations.agents import ThreadloomSession  # noqa: E402

Factory = Callable[[], Any]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def msg(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": text}


CONVERSATION = [
    msg("user", "q1"),
    msg("assistant", "a1"),
    msg("user", "q2"),
    msg("assistant", "a2"),
    msg("user", "q3"),
    msg("assistant", "a3"),
]


@pytest.fixture(params=["sdk-advanced-sqlite", "threadloom-sqlite", "threadloom-postgres"])
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    stores: Iterator[StoreFactory] | None = None
    if request.param == "sdk-advanced-sqlite":
        s: Any = AdvancedSQLiteSession(
            session_id="s", db_path=tmp_path / "sdk.db", create_tables=True
        )
    else:
        stores = BACKENDS[request.param.removeprefix("threadloom-")](tmp_path)
        s = ThreadloomSession("s", next(stores)())
    run(s.add_items(CONVERSATION))
    yield s
    s.close()
    if stores is not None:
        next(stores, None)


def test_a_branch_from_a_turn_holds_what_came_before_it(session: Any) -> None:
    name = run(session.create_branch_from_turn(2, "alt"))
    assert name == "alt"
    assert run(session.get_items()) == CONVERSATION[:2]
    run(session.add_items([msg("user", "q2-alt")]))
    assert run(session.get_items()) == [*CONVERSATION[:2], msg("user", "q2-alt")]


def test_switching_back_shows_the_original_branch(session: Any) -> None:
    run(session.create_branch_from_turn(3, "alt"))
    run(session.add_items([msg("user", "other")]))
    run(session.switch_to_branch("main"))
    assert run(session.get_items()) == CONVERSATION
    run(session.switch_to_branch("alt"))
    assert run(session.get_items()) == [*CONVERSATION[:4], msg("user", "other")]


def test_branching_from_the_first_turn_starts_empty(session: Any) -> None:
    run(session.create_branch_from_turn(1, "fresh"))
    assert run(session.get_items()) == []
    run(session.add_items([msg("user", "new start")]))
    assert run(session.get_items()) == [msg("user", "new start")]


def test_list_branches(session: Any) -> None:
    run(session.create_branch_from_turn(2, "alt"))
    run(session.add_items([msg("user", "x")]))
    listed = {b["branch_id"]: b for b in run(session.list_branches())}
    assert set(listed) == {"main", "alt"}
    assert listed["alt"]["is_current"] and not listed["main"]["is_current"]
    assert (listed["main"]["message_count"], listed["main"]["user_turns"]) == (6, 3)
    assert (listed["alt"]["message_count"], listed["alt"]["user_turns"]) == (3, 2)


def test_refused_branch_operations(session: Any) -> None:
    with pytest.raises(ValueError):
        run(session.create_branch_from_turn(9, "nope"))
    with pytest.raises(ValueError):
        run(session.switch_to_branch("missing"))
    with pytest.raises(ValueError):
        run(session.delete_branch("main"))
    run(session.create_branch_from_turn(2, "alt"))
    with pytest.raises(ValueError):
        run(session.create_branch_from_turn(1, "alt"))
    with pytest.raises(ValueError):
        run(session.delete_branch("alt"))  # the current branch, without force
    run(session.delete_branch("alt", force=True))
    assert [b["branch_id"] for b in run(session.list_branches())] == ["main"]
    assert run(session.get_items()) == CONVERSATION


def test_the_current_branch_is_durable_across_sessions(tmp_path: Path) -> None:
    db = str(tmp_path / "state.db")
    first = ThreadloomSession("s", db)
    run(first.add_items(CONVERSATION))
    run(first.create_branch_from_turn(2, "alt"))
    first.close()
    again = ThreadloomSession("s", db)
    assert run(again.get_items()) == CONVERSATION[:2]
    assert [b["branch_id"] for b in run(again.list_branches()) if b["is_current"]] == ["alt"]
    run(again.switch_to_branch("main"))
    assert run(again.get_items()) == CONVERSATION
    again.close()
    with StateStore.open(db) as store:
        # "alt" ends at an inner message of the tree until something is added to it.
        assert len(store.list_leaf_messages("s")) == 1
