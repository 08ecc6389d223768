"""The store of an encrypted database: :class:`StateStore` with sealing on the way in
and unsealing on the way out.

``StateStore.open`` returns one when it is given a key or the database holds sealed
data (its key ids are in ``threadloom_settings``); every other store is the plain
class, whose paths stay exactly as they were. What is sealed: message content and
items, checkpoint states, job details, goal objectives (see :mod:`threadloom.encryption`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ._fastrecords import positional_builder
from ._json import JSONValue, decode_json, encode_json
from .contract import Backend, ThreadImport
from .encryption import PREFIX, Keyring
from .errors import CorruptData, EncryptedData
from .idempotency import DEFAULT_TTL
from .records import (
    CheckpointRecord,
    JobStateRecord,
    MessageRecord,
    ThreadGoalRecord,
    check_str,
)
from .store import StateStore, _message_id

_message_record = positional_builder(MessageRecord)

__all__ = ["KEY_IDS_SETTING", "SealedStateStore", "known_key_ids", "sealed_store_for"]

#: The ids of the keys that sealed data in this database (a JSON list), never the keys.
KEY_IDS_SETTING = "encryption.key_ids"

CONTENT = "messages.content"
ITEM = "messages.item_json"
STATE = "checkpoints.state_json"
DETAIL = "jobs.detail"
OBJECTIVE = "thread_goals.objective"


def _sealed(value: object) -> bool:
    return type(value) is str and value.startswith(PREFIX)


class SealedStateStore(StateStore):
    """A :class:`StateStore` that seals content with a :class:`Keyring`.

    Args:
        backend: The storage backend.
        keyring: The keys (empty: sealed values read as
            :class:`~threadloom.errors.EncryptedData`, content writes are refused).
        clock: As :class:`StateStore`'s.
        idempotency_ttl: As :class:`StateStore`'s.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        keyring: Keyring,
        clock: Callable[[], int] | None = None,
        idempotency_ttl: float = DEFAULT_TTL,
    ) -> None:
        super().__init__(backend, clock=clock, idempotency_ttl=idempotency_ttl)
        self._keyring = keyring
        self._fingerprint_secret = keyring.fingerprint_secret

    def __repr__(self) -> str:
        return f"StateStore({self._backend.location!r}, encrypted)"

    # -- sealing -------------------------------------------------------------------

    def _seal_json(self, text: str | None, column: str) -> str | None:
        """Canonical JSON text sealed, as the JSON string the column stores."""
        if text is None:
            return None
        return encode_json(self._keyring.seal(text, column), column)

    def _message(self, m: MessageRecord) -> MessageRecord:
        content, item = m.content, m.item
        if not (content.startswith(PREFIX) or _sealed(item)):
            return m
        where = f"id={m.id}"
        kr = self._keyring
        content = kr.unseal(content, CONTENT, where)
        if _sealed(item):
            assert isinstance(item, str)
            text = kr.unseal(item, ITEM, where)
            item = decode_json(text, table="messages", row=where, column="item_json")
        # Not dataclasses.replace: on list_messages(50) it cost more than the AES
        # (bench/lifecycle.py); the row mappers' positional builder is the cheap way.
        return _message_record(
            m.id, m.thread_id, m.role, content, item, m.created_at, m.parent_entry_id
        )

    def _checkpoint(self, c: CheckpointRecord | None) -> CheckpointRecord | None:
        if c is None or not _sealed(c.state):
            return c
        assert isinstance(c.state, str)
        where = f"thread_id={c.thread_id!r}, checkpoint_id={c.checkpoint_id!r}"
        text = self._keyring.unseal(c.state, STATE, where)
        return replace(
            c, state=decode_json(text, table="checkpoints", row=where, column="state_json")
        )

    def _job(self, j: JobStateRecord | None) -> JobStateRecord | None:
        if j is None or not _sealed(j.detail):
            return j
        assert j.detail is not None
        return replace(j, detail=self._keyring.unseal(j.detail, DETAIL, f"id={j.id!r}"))

    def _goal(self, g: ThreadGoalRecord | None) -> ThreadGoalRecord | None:
        if g is None or not _sealed(g.objective):
            return g
        where = f"thread_id={g.thread_id!r}"
        return replace(g, objective=self._keyring.unseal(g.objective, OBJECTIVE, where))

    def seal_import(self, data: ThreadImport) -> ThreadImport:
        """An imported thread's rows with their content sealed (``threadloom import``).

        Raises:
            EncryptedData: The store was opened without a key.
        """
        kr = self._keyring
        return replace(
            data,
            messages=tuple(
                replace(
                    m,
                    content=kr.seal(m.content, CONTENT),
                    item_json=self._seal_json(m.item_json, ITEM),
                )
                for m in data.messages
            ),
            checkpoints=tuple(
                replace(c, state_json=self._seal_json(c.state_json, STATE) or "")
                for c in data.checkpoints
            ),
            goal=None
            if data.goal is None
            else replace(data.goal, objective=kr.seal(data.goal.objective, OBJECTIVE)),
        )

    # -- messages --------------------------------------------------------------------

    def append_message(
        self,
        thread_id: str,
        role: str,
        content: str,
        item: JSONValue = None,
        *,
        idempotency_key: str | None = None,
    ) -> int:
        thread_id, role = check_str(thread_id, "thread_id"), check_str(role, "role")
        content = check_str(content, "content")
        plain_item = self._item_json(item)
        sealed = self._keyring.seal(content, CONTENT)
        sealed_item = self._seal_json(plain_item, ITEM)
        if idempotency_key is None:
            return self._backend.append_message(thread_id, role, sealed, sealed_item, self._now())
        once = self._once(idempotency_key, role, content, plain_item)
        return self._backend.append_message_once(
            thread_id, once, role, sealed, sealed_item, self._now()
        )

    def fork_at_message(
        self,
        message_id: int | str,
        role: str,
        content: str,
        item: JSONValue = None,
        *,
        idempotency_key: str | None = None,
    ) -> int:
        parent = _message_id(message_id)
        role, content = check_str(role, "role"), check_str(content, "content")
        plain_item = self._item_json(item)
        sealed = self._keyring.seal(content, CONTENT)
        sealed_item = self._seal_json(plain_item, ITEM)
        if idempotency_key is None:
            return self._backend.fork_at_message(parent, role, sealed, sealed_item, self._now())
        once = self._once(idempotency_key, str(parent), role, content, plain_item)
        return self._backend.fork_at_message_once(
            parent, once, role, sealed, sealed_item, self._now()
        )

    def list_messages(self, thread_id: str, limit: int | None = None) -> list[MessageRecord]:
        return [self._message(m) for m in super().list_messages(thread_id, limit)]

    def list_leaf_messages(self, thread_id: str) -> list[MessageRecord]:
        return [self._message(m) for m in super().list_leaf_messages(thread_id)]

    def list_all_messages(self, thread_id: str) -> list[MessageRecord]:
        return [self._message(m) for m in super().list_all_messages(thread_id)]

    # -- checkpoints -------------------------------------------------------------------

    def save_checkpoint(
        self,
        thread_id: str,
        checkpoint_id: str,
        state: JSONValue,
        *,
        idempotency_key: str | None = None,
    ) -> None:
        thread_id = check_str(thread_id, "thread_id")
        checkpoint_id = check_str(checkpoint_id, "checkpoint_id")
        plain = encode_json(state, "checkpoint state")
        sealed = self._seal_json(plain, STATE)
        assert sealed is not None
        if idempotency_key is None:
            self._backend.save_checkpoint(thread_id, checkpoint_id, sealed, self._now())
            return
        once = self._once(idempotency_key, checkpoint_id, plain)
        self._backend.save_checkpoint_once(thread_id, once, checkpoint_id, sealed, self._now())

    def load_checkpoint(
        self, thread_id: str, checkpoint_id: str | None = None
    ) -> CheckpointRecord | None:
        return self._checkpoint(super().load_checkpoint(thread_id, checkpoint_id))

    def list_checkpoints(self, thread_id: str, limit: int | None = None) -> list[CheckpointRecord]:
        out: list[Any] = [self._checkpoint(c) for c in super().list_checkpoints(thread_id, limit)]
        return out

    # -- jobs and goals ----------------------------------------------------------------

    def upsert_job(self, job: JobStateRecord) -> None:
        if isinstance(job, JobStateRecord) and job.detail is not None:
            job = replace(job.validated(), detail=self._keyring.seal(job.detail, DETAIL))
        super().upsert_job(job)

    def get_job(self, id: str) -> JobStateRecord | None:
        return self._job(super().get_job(id))

    def list_jobs(self, limit: int | None = None) -> list[JobStateRecord]:
        out: list[Any] = [self._job(j) for j in super().list_jobs(limit)]
        return out

    def upsert_thread_goal(self, goal: ThreadGoalRecord) -> None:
        if isinstance(goal, ThreadGoalRecord):
            goal = goal.validated()
            goal = replace(goal, objective=self._keyring.seal(goal.objective, OBJECTIVE))
        super().upsert_thread_goal(goal)

    def get_thread_goal(self, thread_id: str) -> ThreadGoalRecord | None:
        return self._goal(super().get_thread_goal(thread_id))

    def record_thread_goal_usage(
        self,
        thread_id: str,
        tokens_delta: int,
        seconds_delta: int,
        now: int | None = None,
    ) -> ThreadGoalRecord | None:
        return self._goal(
            super().record_thread_goal_usage(thread_id, tokens_delta, seconds_delta, now)
        )

    def record_thread_goal_continuation(self, thread_id: str) -> ThreadGoalRecord | None:
        return self._goal(super().record_thread_goal_continuation(thread_id))


def known_key_ids(backend: Backend) -> list[str]:
    """The ids of the keys that sealed data in the database (empty: never encrypted).

    Raises:
        CorruptData: The stored list does not parse.
    """
    text = backend.get_setting(KEY_IDS_SETTING)
    if text is None:
        return []
    try:
        ids = json.loads(text)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValueError("not a list of strings")
    except ValueError as exc:
        raise CorruptData(
            f"the stored encryption key ids do not parse: {exc}",
            table="threadloom_settings",
            row=f"name={KEY_IDS_SETTING!r}",
        ) from exc
    return ids


def register_key(backend: Backend, key_id: str, now: int) -> list[str]:
    """Add ``key_id`` to the database's key ids (a compare-and-set, so two processes
    registering at once both land); the list after."""
    while True:
        text = backend.get_setting(KEY_IDS_SETTING)
        ids = [] if text is None else known_key_ids(backend)
        if key_id in ids:
            return ids
        if backend.swap_setting(KEY_IDS_SETTING, text, json.dumps([*ids, key_id]), now):
            return [*ids, key_id]


def sealed_store_for(
    backend: Backend,
    keyring: Keyring | None,
    *,
    read_only: bool,
    clock: Callable[[], int] | None,
    idempotency_ttl: float,
) -> SealedStateStore | None:
    """The store ``StateStore.open`` returns for an encrypted database or a key given;
    ``None`` for neither (the plain store).

    Raises:
        EncryptedData: The database knows keys, and none of those given.
    """
    known = known_key_ids(backend)
    if keyring is None and not known:
        return None
    keyring = keyring or Keyring()
    if keyring.current is not None and known and not set(keyring.ids) & set(known):
        raise EncryptedData(
            f"wrong encryption key: the database at {backend.location} was encrypted with "
            f"key(s) {', '.join(known)}, and none of the keys given ({', '.join(keyring.ids)}) "
            "is one of them (to rotate, give the new key first and the old one after it)"
        )
    store = SealedStateStore(backend, keyring=keyring, clock=clock, idempotency_ttl=idempotency_ttl)
    if keyring.current is not None and keyring.current not in known and not read_only:
        register_key(backend, keyring.current, store._now())
    return store
