"""threadloom as an OpenAI Agents SDK session (extra ``agents``).

:class:`ThreadloomSession` implements the SDK's ``Session`` protocol (openai-agents
0.24) and can replace ``SQLiteSession`` one for one::

    from agents import Agent, Runner
    from threadloom.integrations.agents import ThreadloomSession

    session = ThreadloomSession("conversation-1", "agents.db")
    result = await Runner.run(agent, "Hello", session=session)

Items are threadloom messages of thread ``session_id`` (created on first use): the
role and text are taken from the item where it has them and the whole item is kept
in ``item`` exactly, so a run reads as a transcript in ``threadloom show``. Items are
the thread's current branch: :meth:`ThreadloomSession.pop_item` moves the branch's
end back to the popped item's parent (the popped item stays in the tree, off the
branch), so nothing is lost and ``threadloom tree`` shows it.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from ..contract import KeyValueRow
from ..errors import InvalidRecord, ThreadloomError
from ..records import I64_MAX, MessageRecord, ThreadGoalRecord, ThreadMetadata
from ..store import StateStore
from ._common import StoreHolder, require

require("agents.memory", "agents", "openai-agents>=0.24")

from agents.memory.session import SessionABC  # noqa: E402
from agents.memory.session_settings import (  # noqa: E402
    SessionSettings,
    coerce_session_settings,
    resolve_session_limit,
)

__all__ = ["SessionClosed", "ThreadloomSession", "item_role_and_text"]

#: The threadloom_kv namespace of a session's branch names and their leaves.
_BRANCHES = "agents.branches"
#: Characters of the first user text kept as the thread's preview.
_PREVIEW = 120


class SessionClosed(ThreadloomError, RuntimeError):
    """The session was closed (a ``RuntimeError``, as ``SQLiteSession`` raises)."""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text") or part.get("refusal")
                if isinstance(text, str):
                    parts.append(text)
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return ""


def item_role_and_text(item: Any) -> tuple[str, str]:
    """The role and readable text of an SDK item, for the message's columns.

    Messages keep their role (``user``, ``assistant``, ``system``, ``developer``);
    a function call is an ``assistant`` message ``name(arguments)``; a tool's output is
    a ``tool`` message; any other item is named by its ``type``.
    """
    if not isinstance(item, dict):
        return "item", ""
    role = item.get("role")
    kind = item.get("type")
    if isinstance(role, str) and kind in (None, "message"):
        return role, _text_of(item.get("content"))
    if kind == "function_call":
        return "assistant", f"{item.get('name', '')}({item.get('arguments', '')})"
    if isinstance(kind, str) and kind.endswith("_call_output"):
        output = item.get("output")
        return "tool", output if isinstance(output, str) else _text_of(output)
    if kind == "reasoning":
        return "assistant", _text_of(item.get("summary"))
    return (kind if isinstance(kind, str) else "item"), _text_of(item.get("content"))


def _item_of(message: MessageRecord) -> Any:
    # A message written by something other than this session (the CLI, an import)
    # reads back as a plain message item.
    if message.item is not None:
        return message.item
    return {"role": message.role, "content": message.content}


class ThreadloomSession(SessionABC):
    """An Agents SDK session stored as a threadloom thread.

    Args:
        session_id: The session, and the id of its thread.
        store: A ``StateStore``/``AsyncStateStore``, a database path, a
            ``postgresql://`` DSN, or ``None`` for the default store. A store passed in
            stays open when the session closes; one the session opened is closed with it.
        session_settings: ``SessionSettings`` or a dict; ``limit`` applies to
            :meth:`get_items` when it is given no limit (as ``SQLiteSession``).

    Raises:
        ThreadloomError: openai-agents is not installed (at import), or the store
            cannot be opened.
    """

    session_settings: SessionSettings | None = None

    def __init__(
        self,
        session_id: str,
        store: StateStore | str | os.PathLike[str] | Any | None = None,
        *,
        session_settings: SessionSettings | dict[str, Any] | None = None,
    ) -> None:
        self.session_id = session_id
        self.session_settings = (
            coerce_session_settings(session_settings)
            if session_settings is not None
            else SessionSettings()
        )
        self._holder = StoreHolder(store)
        self.store = self._holder.store
        self._closed = False

    # -- the synchronous work each async method runs on the store's threads ----------

    def _check_open(self) -> None:
        if self._closed:
            raise SessionClosed(f"ThreadloomSession {self.session_id!r} is closed")

    def _get_items_sync(self, limit: int | None) -> list[Any]:
        self._check_open()
        if limit == 0:
            return []
        # SQLiteSession reads a negative limit as no limit (SQLite's LIMIT -1).
        count = I64_MAX if limit is None or limit < 0 else limit
        return [_item_of(m) for m in self.store.list_messages(self.session_id, count)]

    def _add_items_sync(self, items: list[Any]) -> None:
        self._check_open()
        if not items:
            return
        store = self.store
        with store.transaction():
            if store.get_thread(self.session_id) is None:
                preview = next(
                    (text for role, text in map(item_role_and_text, items) if role == "user"),
                    "",
                )
                store.upsert_thread(
                    ThreadMetadata.create(
                        self.session_id,
                        preview=preview[:_PREVIEW],
                        model_provider="openai-agents",
                    )
                )
            for item in items:
                role, text = item_role_and_text(item)
                store.append_message(self.session_id, role, text, item)

    def _pop_item_sync(self) -> Any:
        self._check_open()
        store = self.store
        with store.transaction():
            last = store.list_messages(self.session_id, 1)
            if not last:
                return None
            message = last[0]
            self._move_leaf(message.parent_entry_id)
            return _item_of(message)

    def _clear_sync(self) -> None:
        self._check_open()
        with self.store.transaction():
            self.store.clear_messages(self.session_id)
            self.store.backend.delete_value(_BRANCHES, self.session_id)

    def _move_leaf(self, leaf: int | None) -> None:
        if leaf is not None:
            self.store.set_current_leaf_id(self.session_id, leaf)
        else:
            # An empty branch: the next item starts a new root; nothing is deleted.
            self.store.backend.clear_current_leaf(self.session_id)

    # -- branches: named leaves of the message tree, kept in threadloom_kv --------------

    def _branches(self, *, lock: bool = False) -> dict[str, Any]:
        row = self.store.backend.get_value(_BRANCHES, self.session_id, for_update=lock)
        if row is None:
            return {"current": "main", "branches": {"main": {"leaf": None, "created_at": None}}}
        return dict(json.loads(row.value))

    def _save_branches(self, doc: dict[str, Any]) -> None:
        self.store.backend.put_value(
            KeyValueRow(_BRANCHES, self.session_id, self.session_id, json.dumps(doc), time.time())
        )

    def _leaf_now(self) -> int | None:
        thread = self.store.get_thread(self.session_id)
        return None if thread is None else thread.current_leaf_id

    def _ensure_thread(self) -> None:
        if self.store.get_thread(self.session_id) is None:
            self.store.upsert_thread(
                ThreadMetadata.create(self.session_id, model_provider="openai-agents")
            )

    def _create_branch_sync(self, turn_number: int, branch_name: str | None) -> str:
        self._check_open()
        if branch_name is not None and not branch_name.strip():
            raise InvalidRecord("Branch name cannot be empty")
        store = self.store
        with store.transaction():
            doc = self._branches(lock=True)
            path = store.list_messages(self.session_id, I64_MAX)
            users = [m for m in path if m.role == "user"]
            if not 1 <= turn_number <= len(users):
                raise InvalidRecord(f"Turn {turn_number} does not contain a user message")
            name = branch_name or f"branch_from_turn_{turn_number}_{int(time.time())}"
            if name in doc["branches"] or name in doc.get("used", []):
                raise InvalidRecord(f"Branch '{name}' already exists in this session")
            self._ensure_thread()
            doc["branches"][doc["current"]]["leaf"] = self._leaf_now()
            doc["branches"][name] = {"leaf": None, "created_at": time.time()}
            doc["used"] = [*doc.get("used", []), name]
            doc["current"] = name
            self._move_leaf(users[turn_number - 1].parent_entry_id)
            self._save_branches(doc)
            return name

    def _switch_sync(self, branch_id: str) -> None:
        self._check_open()
        store = self.store
        with store.transaction():
            doc = self._branches(lock=True)
            if branch_id not in doc["branches"]:
                raise InvalidRecord(f"Branch '{branch_id}' does not exist")
            if branch_id == doc["current"]:
                return
            self._ensure_thread()
            doc["branches"][doc["current"]]["leaf"] = self._leaf_now()
            doc["current"] = branch_id
            self._move_leaf(doc["branches"][branch_id]["leaf"])
            self._save_branches(doc)

    def _delete_branch_sync(self, branch_id: str, force: bool) -> None:
        self._check_open()
        if not branch_id or not branch_id.strip():
            raise InvalidRecord("Branch ID cannot be empty")
        if branch_id == "main":
            raise InvalidRecord("Cannot delete the 'main' branch")
        with self.store.transaction():
            doc = self._branches(lock=True)
            if branch_id not in doc["branches"]:
                raise InvalidRecord(f"Branch '{branch_id}' does not exist")
            if branch_id == doc["current"]:
                if not force:
                    raise InvalidRecord(
                        f"Cannot delete current branch '{branch_id}'. "
                        "Use force=True or switch branches first"
                    )
                self._switch_sync("main")
                doc = self._branches(lock=True)
            # The name goes; the branch's messages stay in the tree (nothing is lost).
            del doc["branches"][branch_id]
            self._save_branches(doc)

    def _list_branches_sync(self) -> list[dict[str, Any]]:
        self._check_open()
        with self.store.snapshot():
            doc = self._branches()
            leaf_now = self._leaf_now()
            messages = {m.id: m for m in self.store.list_all_messages(self.session_id)}
        listed = []
        for name, branch in doc["branches"].items():
            leaf = leaf_now if name == doc["current"] else branch["leaf"]
            count = turns = 0
            seen: set[int] = set()
            while leaf is not None and leaf in messages and leaf not in seen:
                seen.add(leaf)
                count += 1
                turns += messages[leaf].role == "user"
                leaf = messages[leaf].parent_entry_id
            listed.append(
                {
                    "branch_id": name,
                    "message_count": count,
                    "user_turns": turns,
                    "is_current": name == doc["current"],
                    "created_at": branch["created_at"],
                }
            )
        return listed

    # -- the Session protocol -----------------------------------------------------------

    async def get_items(self, limit: int | None = None) -> list[Any]:
        """The latest ``limit`` items, oldest first (``session_settings.limit`` when
        ``None``; all when both are ``None``; ``0`` gives ``[]``).

        Raises:
            SessionClosed: The session was closed.
            CorruptData: A stored item does not parse (named with its row).
        """
        return await self._holder.read(
            self._get_items_sync, resolve_session_limit(limit, self.session_settings)
        )

    async def add_items(self, items: list[Any]) -> None:
        """Append items in one transaction (the thread is created on first use).

        Raises:
            SessionClosed: The session was closed.
            InvalidRecord: An item is not JSON (nothing is added).
        """
        await self._holder.write(self._add_items_sync, list(items))

    async def pop_item(self) -> Any:
        """Remove and return the latest item; ``None`` when there is none."""
        return await self._holder.write(self._pop_item_sync)

    async def clear_session(self) -> None:
        """Delete every item of the session (its thread stays, empty)."""
        await self._holder.write(self._clear_sync)

    # -- branches (AdvancedSQLiteSession's names; durable across processes) -------------

    async def create_branch_from_turn(
        self, turn_number: int, branch_name: str | None = None
    ) -> str:
        """Fork before the ``turn_number``-th user message of the current branch and
        switch to the new branch (the user message and what followed stay on the old one).

        Returns:
            The new branch's id (``branch_name``, or a generated one).

        Raises:
            InvalidRecord: No such turn, or the name is blank or was used before (a
                ``ValueError``, as the SDK raises).
        """
        return await self._holder.write(self._create_branch_sync, turn_number, branch_name)

    async def switch_to_branch(self, branch_id: str) -> None:
        """Make ``branch_id`` the current branch (for every process using the session).

        Raises:
            InvalidRecord: The branch does not exist (a ``ValueError``).
        """
        await self._holder.write(self._switch_sync, branch_id)

    async def delete_branch(self, branch_id: str, force: bool = False) -> None:
        """Forget a branch's name (its messages stay in the tree); ``force`` allows the
        current branch, switching to ``main`` first.

        Raises:
            InvalidRecord: The branch does not exist, is ``main``, or is current without
                ``force`` (a ``ValueError``).
        """
        await self._holder.write(self._delete_branch_sync, branch_id, force)

    async def list_branches(self) -> list[dict[str, Any]]:
        """The branches: ``branch_id``, ``message_count``, ``user_turns``, ``is_current``,
        ``created_at``."""
        return await self._holder.read(self._list_branches_sync)

    # -- beyond the protocol ------------------------------------------------------------

    async def record_usage(self, tokens: int, seconds: int = 0) -> ThreadGoalRecord | None:
        """Add a run's token usage (``result.context_wrapper.usage.total_tokens``) and
        time to the thread's goal; the goal after it, or ``None`` without a goal."""
        return await self._holder.write(
            self.store.record_thread_goal_usage, self.session_id, tokens, seconds
        )

    async def record_run_usage(self, result: Any, seconds: int = 0) -> ThreadGoalRecord | None:
        """:meth:`record_usage` with the total tokens of a ``RunResult``'s usage."""
        return await self.record_usage(int(result.context_wrapper.usage.total_tokens), seconds)

    def close(self) -> None:
        """Close the session (and the store, if the session opened it); later calls
        raise :class:`SessionClosed`."""
        self._closed = True
        self._holder.close()

    async def aclose(self) -> None:
        """:meth:`close`, also stopping the async threads the session started."""
        self._closed = True
        await self._holder.aclose()
