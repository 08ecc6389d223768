"""ThreadloomSessionService against ADK's own SqliteSessionService: the same tests on both.

Each test states one documented behaviour of ``BaseSessionService`` (state scopes,
``GetSessionConfig``, ordering, staleness) and runs on ADK's ``SqliteSessionService``,
on threadloom over SQLite and on threadloom over PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.conftest import BACKENDS, StoreFactory
from tests.integrations.conftest import need

need("google.adk.sessions", "adk")

from google.adk.errors._stale_session_error import StaleSessionError  # noqa: E402
from google.adk.errors.already_exists_error import AlreadyExistsError  # noqa: E402
from google.adk.events.event import Event  # noqa: E402
from google.adk.events.event_actions import EventActions  # noqa: E402
from google.adk.sessions.base_session_service import BaseSessionService, GetSessionConfig  # noqa: E402
from google.adk.sessions.sqlite_session_service import SqliteSessionService  # noqa: E402
from google.genai import types  # noqa: E402

from threadloom import StateStore  # noqa: E402
from threadloom.integrations.adk import ThreadloomSessionService  # noqa: E402

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(params=["adk-sqlite", "threadloom-sqlite", "threadloom-postgres"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseSessionService]:
    if request.param == "adk-sqlite":
        yield SqliteSessionService(str(tmp_path / "adk.db"))
        return
    stores: Iterator[StoreFactory] = BACKENDS[request.param.removeprefix("threadloom-")](tmp_path)
    svc = ThreadloomSessionService(next(stores)())
    yield svc
    run(svc.close())
    next(stores, None)


def event(
    text: str, *, author: str = "user", delta: dict[str, Any] | None = None, **kw: Any
) -> Event:
    return Event(
        invocation_id="inv",
        author=author,
        content=types.Content(role="user", parts=[types.Part(text=text)]),
        actions=EventActions(state_delta=delta or {}),
        **kw,
    )


def test_create_then_get_returns_the_session(service: BaseSessionService) -> None:
    created = run(service.create_session(app_name="a", user_id="u", state={"k": 1}))
    got = run(service.get_session(app_name="a", user_id="u", session_id=created.id))
    assert got is not None
    assert (got.id, got.app_name, got.user_id, got.state, got.events) == (
        created.id,
        "a",
        "u",
        {"k": 1},
        [],
    )
    assert got.last_update_time == pytest.approx(created.last_update_time)


def test_a_client_id_is_kept_and_a_duplicate_refused(service: BaseSessionService) -> None:
    run(service.create_session(app_name="a", user_id="u", session_id="s1"))
    with pytest.raises(AlreadyExistsError):
        run(service.create_session(app_name="a", user_id="u", session_id="s1"))
    # The same id for another user is another session.
    other = run(service.create_session(app_name="a", user_id="v", session_id="s1"))
    assert other.id == "s1"


def test_a_missing_session_is_none(service: BaseSessionService) -> None:
    assert run(service.get_session(app_name="a", user_id="u", session_id="nope")) is None


def test_state_scopes_app_user_session_and_temp(service: BaseSessionService) -> None:
    state = {"app:theme": "dark", "user:lang": "fr", "topic": "x", "temp:scratch": 1}
    s1 = run(service.create_session(app_name="a", user_id="u", state=state))
    assert s1.state == {"app:theme": "dark", "user:lang": "fr", "topic": "x"}
    s2 = run(service.create_session(app_name="a", user_id="u"))
    assert s2.state == {"app:theme": "dark", "user:lang": "fr"}
    s3 = run(service.create_session(app_name="a", user_id="w"))
    assert s3.state == {"app:theme": "dark"}
    assert run(service.get_user_state(app_name="a", user_id="u")) == {"lang": "fr"}
    assert run(service.get_user_state(app_name="a", user_id="w")) == {}


def test_append_event_applies_its_state_delta(service: BaseSessionService) -> None:
    session = run(service.create_session(app_name="a", user_id="u", state={"n": 0}))
    delta = {"n": 1, "app:v": 2, "user:seen": True, "temp:t": "only in memory"}
    run(service.append_event(session, event("hi", delta=delta)))
    assert session.state["temp:t"] == "only in memory"
    stored = run(service.get_session(app_name="a", user_id="u", session_id=session.id))
    assert stored is not None
    assert stored.state == {"n": 1, "app:v": 2, "user:seen": True}
    assert "temp:t" not in (stored.events[0].actions.state_delta or {})
    other = run(service.create_session(app_name="a", user_id="u"))
    assert other.state == {"app:v": 2, "user:seen": True}


def _texts(events: list[Event]) -> list[str]:
    return [p.text or "" for e in events if e.content and e.content.parts for p in e.content.parts]


def test_events_round_trip_in_order(service: BaseSessionService) -> None:
    session = run(service.create_session(app_name="a", user_id="u"))
    sent = [event("one"), event("two", author="agent"), event("three")]
    for e in sent:
        run(service.append_event(session, e))
    stored = run(service.get_session(app_name="a", user_id="u", session_id=session.id))
    assert stored is not None
    assert [(e.id, e.author) for e in stored.events] == [(e.id, e.author) for e in sent]
    assert _texts(stored.events) == ["one", "two", "three"]
    assert stored.last_update_time == pytest.approx(sent[-1].timestamp)


def test_get_session_config_recent_and_after(service: BaseSessionService) -> None:
    session = run(service.create_session(app_name="a", user_id="u"))
    base = time.time()
    for i in range(5):
        run(service.append_event(session, event(str(i), timestamp=base + i)))

    def texts(config: GetSessionConfig) -> list[str]:
        got = run(
            service.get_session(app_name="a", user_id="u", session_id=session.id, config=config)
        )
        assert got is not None
        return _texts(got.events)

    assert texts(GetSessionConfig(num_recent_events=2)) == ["3", "4"]
    assert texts(GetSessionConfig(num_recent_events=0)) == []
    assert texts(GetSessionConfig(after_timestamp=base + 2)) == ["2", "3", "4"]
    assert texts(GetSessionConfig(after_timestamp=base + 1, num_recent_events=2)) == ["3", "4"]


def test_list_sessions_oldest_update_first_without_events(service: BaseSessionService) -> None:
    first = run(service.create_session(app_name="a", user_id="u", session_id="first"))
    run(service.create_session(app_name="a", user_id="v", session_id="second"))
    run(service.create_session(app_name="b", user_id="u", session_id="elsewhere"))
    run(service.append_event(first, event("later", timestamp=time.time() + 10)))
    listed = run(service.list_sessions(app_name="a")).sessions
    assert [s.id for s in listed] == ["second", "first"]
    assert all(s.events == [] for s in listed)
    mine = run(service.list_sessions(app_name="a", user_id="u")).sessions
    assert [s.id for s in mine] == ["first"]


def test_delete_session(service: BaseSessionService) -> None:
    session = run(service.create_session(app_name="a", user_id="u"))
    run(service.append_event(session, event("x")))
    run(service.delete_session(app_name="a", user_id="u", session_id=session.id))
    assert run(service.get_session(app_name="a", user_id="u", session_id=session.id)) is None
    assert run(service.list_sessions(app_name="a")).sessions == []
    run(service.delete_session(app_name="a", user_id="u", session_id="never-was"))


def test_a_stale_session_is_refused(service: BaseSessionService) -> None:
    session = run(service.create_session(app_name="a", user_id="u"))
    copy = run(service.get_session(app_name="a", user_id="u", session_id=session.id))
    assert copy is not None
    run(service.append_event(session, event("first", timestamp=time.time() + 1)))
    with pytest.raises(StaleSessionError):
        run(service.append_event(copy, event("second", timestamp=time.time() + 2)))


def test_a_partial_event_is_not_stored(service: BaseSessionService) -> None:
    session = run(service.create_session(app_name="a", user_id="u"))
    run(service.append_event(session, event("streaming", partial=True)))
    stored = run(service.get_session(app_name="a", user_id="u", session_id=session.id))
    assert stored is not None and stored.events == []


# -- threadloom only ------------------------------------------------------------------


def test_a_session_is_a_readable_thread(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    service = ThreadloomSessionService(str(db))
    session = run(service.create_session(app_name="a", user_id="u", session_id="chat"))
    run(service.append_event(session, event("hello there")))
    run(service.close())
    with StateStore.open(db) as store:
        rows = [(m.role, m.content) for m in store.list_messages("chat")]
    assert rows == [("user", "hello there")]


@pytest.mark.slow
def test_a_real_agent_run_persists_and_resumes_in_a_new_process(tmp_path: Path) -> None:
    """Two processes running an ADK agent: the second continues what the first stored."""
    import json
    import subprocess
    import sys

    db = str(tmp_path / "state.db")

    def turns(*prompts: str) -> list[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.integrations.adk_support", db, "chat", *prompts],
            capture_output=True,
            text=True,
            check=True,
        )
        return list(json.loads(proc.stdout.splitlines()[-1]))

    assert turns("hello", "again") == ["turn 1; history 1 contents", "turn 2; history 3 contents"]
    assert turns("third") == ["turn 3; history 5 contents"]
    with StateStore.open(db) as store:
        rows = [(m.role, m.content) for m in store.list_messages("chat")]
    assert rows[0] == ("user", "hello") and rows[-1] == ("scripted", "turn 3; history 5 contents")
    assert len(rows) == 6
