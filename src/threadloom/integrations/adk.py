"""threadloom as a Google ADK session service (extra ``adk``).

:class:`ThreadloomSessionService` is a ``BaseSessionService`` (google-adk 2.x)::

    from google.adk.runners import Runner
    from threadloom.integrations.adk import ThreadloomSessionService

    runner = Runner(agent=agent, app_name="app", session_service=ThreadloomSessionService("adk.db"))

An ADK session is a threadloom thread; its events are messages on the thread's
current branch (role: the event's author, content: its text, item: the whole event
as JSON). State the original's tables have no place for lives in threadloom's own
``threadloom_kv``: a session's row (its state and last update time, deleted with the
thread), app state (``app:`` keys) and user state (``user:`` keys). ``temp:`` keys
are never stored. A session read before another writer appended to it is stale:
:meth:`ThreadloomSessionService.append_event` raises ADK's ``StaleSessionError``.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import orjson

from ..contract import KeyValueRow
from ..errors import NotFound
from ..records import I64_MAX, MessageRecord, ThreadMetadata
from ..store import StateStore
from ._common import StoreHolder, require

require("google.adk.sessions", "adk", "google-adk>=2")

from google.adk.errors._stale_session_error import StaleSessionError  # noqa: E402
from google.adk.errors.already_exists_error import AlreadyExistsError  # noqa: E402
from google.adk.errors.session_not_found_error import SessionNotFoundError  # noqa: E402
from google.adk.events.event import Event  # noqa: E402
from google.adk.platform import time as platform_time  # noqa: E402
from google.adk.platform import uuid as platform_uuid  # noqa: E402
from google.adk.sessions import _session_util  # noqa: E402
from google.adk.sessions.base_session_service import (  # noqa: E402
    BaseSessionService,
    GetSessionConfig,
    ListSessionsResponse,
)
from google.adk.sessions.session import Session  # noqa: E402
from google.adk.sessions.state import State  # noqa: E402

__all__ = ["ThreadloomSessionService"]

_SESSION = "adk.session"
_APP = "adk.app"
_USER = "adk.user"


def _key(*parts: str) -> str:
    """A key whose prefixes select an app's or a user's sessions (JSON, no spaces)."""
    return json.dumps(list(parts), separators=(",", ":"), ensure_ascii=False)


def _prefix(*parts: str) -> str:
    return _key(*parts)[:-1] + ","


def _merge(app: dict[str, Any], user: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(session)
    merged.update({State.APP_PREFIX + k: v for k, v in app.items()})
    merged.update({State.USER_PREFIX + k: v for k, v in user.items()})
    return merged


def _text(event: Event) -> str:
    content = event.content
    if content is None or not content.parts:
        return ""
    return "\n".join(part.text for part in content.parts if part.text)


def _event(message: MessageRecord) -> Event:
    return Event.model_validate(message.item)


class ThreadloomSessionService(BaseSessionService):
    """An ADK session service storing in a threadloom database.

    Args:
        store: A ``StateStore``/``AsyncStateStore``, a database path, a
            ``postgresql://`` DSN, or ``None`` for the default store. A store passed in
            stays open; one the service opened is closed by :meth:`close`.

    Raises:
        ThreadloomError: google-adk is not installed (at import), or the store cannot
            be opened.
    """

    def __init__(self, store: StateStore | str | os.PathLike[str] | Any | None = None) -> None:
        self._holder = StoreHolder(store)
        self.store = self._holder.store

    async def close(self) -> None:
        """Stop the async threads the service started; close the store if it opened it."""
        await self._holder.aclose()

    # -- state documents ----------------------------------------------------------------

    def _doc(self, namespace: str, key: str, *, lock: bool = False) -> dict[str, Any]:
        row = self.store.backend.get_value(namespace, key, for_update=lock)
        return {} if row is None else dict(orjson.loads(row.value))

    def _merge_doc(
        self, namespace: str, key: str, delta: dict[str, Any], now: float, thread: str | None = None
    ) -> dict[str, Any]:
        state = self._doc(namespace, key, lock=True)
        state.update(delta)
        self.store.backend.put_value(
            KeyValueRow(namespace, key, thread, json.dumps(state, ensure_ascii=False), now)
        )
        return state

    def _session_row(
        self, app: str, user: str, sid: str, *, lock: bool = False
    ) -> KeyValueRow | None:
        return self.store.backend.get_value(_SESSION, _key(app, user, sid), for_update=lock)

    # -- synchronous bodies (run on the async store's threads) -----------------------------

    def _create(
        self, app: str, user: str, state: dict[str, Any] | None, sid: str | None
    ) -> Session:
        now = platform_time.get_time()
        sid = sid or platform_uuid.new_uuid()
        deltas = _session_util.extract_json_safe_state_delta(state or {})
        store = self.store
        with store.transaction():
            if self._session_row(app, user, sid, lock=True) is not None:
                raise AlreadyExistsError(f"Session with id {sid} already exists.")
            # The session's thread: its own id when free, else one naming its owner.
            thread_id = sid if store.get_thread(sid) is None else _key(app, user, sid)
            store.upsert_thread(
                ThreadMetadata.create(thread_id, model_provider="google-adk", name=sid)
            )
            app_state = (
                self._merge_doc(_APP, app, deltas["app"], now)
                if deltas["app"]
                else self._doc(_APP, app)
            )
            user_state = (
                self._merge_doc(_USER, _key(app, user), deltas["user"], now)
                if deltas["user"]
                else self._doc(_USER, _key(app, user))
            )
            body = {"thread_id": thread_id, "state": deltas["session"]}
            store.backend.put_value(
                KeyValueRow(_SESSION, _key(app, user, sid), thread_id, json.dumps(body), now)
            )
        return Session(
            app_name=app,
            user_id=user,
            id=sid,
            state=_merge(app_state, user_state, deltas["session"]),
            events=[],
            last_update_time=now,
        )

    def _get(
        self, app: str, user: str, sid: str, config: GetSessionConfig | None
    ) -> Session | None:
        with self.store.snapshot():
            row = self._session_row(app, user, sid)
            if row is None:
                return None
            body = orjson.loads(row.value)
            recent = config.num_recent_events if config else None
            after = config.after_timestamp if config else None
            if recent == 0:
                events: list[Event] = []
            elif after:
                events = [
                    e
                    for e in map(_event, self.store.list_messages(body["thread_id"], I64_MAX))
                    if e.timestamp >= after
                ]
                if recent is not None:
                    events = events[-recent:]
            else:
                limit = I64_MAX if recent is None else recent
                events = [_event(m) for m in self.store.list_messages(body["thread_id"], limit)]
            app_state = self._doc(_APP, app)
            user_state = self._doc(_USER, _key(app, user))
        return Session(
            app_name=app,
            user_id=user,
            id=sid,
            state=_merge(app_state, user_state, body["state"]),
            events=events,
            last_update_time=row.updated_at,
        )

    def _list(self, app: str, user: str | None) -> ListSessionsResponse:
        backend = self.store.backend
        with self.store.snapshot():
            prefix = _prefix(app) if user is None else _prefix(app, user)
            rows = backend.list_values(_SESSION, prefix, I64_MAX)
            app_state = self._doc(_APP, app)
            users = {
                tuple(orjson.loads(r.key))[1]: dict(orjson.loads(r.value))
                for r in backend.list_values(
                    _USER, _prefix(app) if user is None else _key(app, user), I64_MAX
                )
            }
        sessions = []
        for row in rows:
            _, owner, sid = orjson.loads(row.key)
            sessions.append(
                Session(
                    app_name=app,
                    user_id=owner,
                    id=sid,
                    state=_merge(app_state, users.get(owner, {}), orjson.loads(row.value)["state"]),
                    events=[],
                    last_update_time=row.updated_at,
                )
            )
        sessions.sort(key=lambda s: (s.last_update_time, s.user_id, s.id))
        return ListSessionsResponse(sessions=sessions)

    def _delete(self, app: str, user: str, sid: str) -> None:
        store = self.store
        with store.transaction():
            row = self._session_row(app, user, sid, lock=True)
            if row is None:
                return
            store.backend.delete_value(_SESSION, row.key)
            store.delete_thread(orjson.loads(row.value)["thread_id"])

    def _append(self, session: Session, event: Event) -> None:
        store = self.store
        app, user, sid = session.app_name, session.user_id, session.id
        now = event.timestamp
        with store.transaction():
            row = self._session_row(app, user, sid, lock=True)
            if row is None:
                raise SessionNotFoundError(f"Session {sid} not found.")
            if row.updated_at > session.last_update_time:
                raise StaleSessionError(
                    "The last_update_time provided in the session object is earlier than "
                    "the update_time in storage. Please check if it is a stale session."
                )
            body = orjson.loads(row.value)
            if event.actions and event.actions.state_delta:
                deltas = _session_util.extract_json_safe_state_delta(event.actions.state_delta)
                if deltas["app"]:
                    self._merge_doc(_APP, app, deltas["app"], now)
                if deltas["user"]:
                    self._merge_doc(_USER, _key(app, user), deltas["user"], now)
                body["state"].update(deltas["session"])
            item = event.model_dump(mode="json", exclude_none=True)
            try:
                store.append_message(body["thread_id"], event.author or "event", _text(event), item)
            except NotFound as exc:
                raise SessionNotFoundError(f"Session {sid} not found.") from exc
            store.backend.put_value(
                KeyValueRow(_SESSION, row.key, body["thread_id"], json.dumps(body), now)
            )

    # -- BaseSessionService ------------------------------------------------------------------

    async def create_session(
        self,
        *,
        app_name: str,
        user_id: str,
        state: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> Session:
        """Create a session (and its thread); ``app:``/``user:`` keys go to shared state.

        Raises:
            AlreadyExistsError: The app and user already have a session of this id.
        """
        return await self._holder.write(self._create, app_name, user_id, state, session_id)

    async def get_session(
        self,
        *,
        app_name: str,
        user_id: str,
        session_id: str,
        config: GetSessionConfig | None = None,
    ) -> Session | None:
        """A session with its events (the newest ``num_recent_events``, those at or after
        ``after_timestamp``) and its state merged with app and user state; ``None`` if
        there is none."""
        return await self._holder.read(self._get, app_name, user_id, session_id, config)

    async def list_sessions(
        self, *, app_name: str, user_id: str | None = None
    ) -> ListSessionsResponse:
        """The app's sessions (of one user, if given) without events, least recently
        updated first."""
        return await self._holder.read(self._list, app_name, user_id)

    async def delete_session(self, *, app_name: str, user_id: str, session_id: str) -> None:
        """Delete a session and its thread (nothing happens if there is none)."""
        await self._holder.write(self._delete, app_name, user_id, session_id)

    async def get_user_state(self, *, app_name: str, user_id: str) -> dict[str, Any]:
        """The user's state shared by their sessions of the app, keys without ``user:``."""
        return await self._holder.read(self._doc, _USER, _key(app_name, user_id))

    async def append_event(self, session: Session, event: Event) -> Event:
        """Store an event and its state delta in one transaction (``temp:`` keys only in
        memory), then add it to ``session``.

        Raises:
            StaleSessionError: Another writer updated the session after it was read.
            SessionNotFoundError: The session does not exist.
        """
        if event.partial:
            return event
        self._apply_temp_state(session, event)
        event = self._trim_temp_delta_state(event)
        await self._holder.write(self._append, session, event)
        session.last_update_time = event.timestamp
        return self._commit_event_to_session(session, event)
