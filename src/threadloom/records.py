"""Records and statuses: the data the store keeps, in the original's JSON shapes.

Each record is a frozen, slotted dataclass whose fields are declared in the order of
the original's Rust struct, so :meth:`to_dict` gives exactly the JSON object the
original's serde derives produce (field names, order, snake_case enum strings, paths
as strings). :meth:`from_dict` accepts what the original accepts (an absent optional
field is ``None``; unknown fields are ignored, as serde does) and raises
:class:`~threadloom.errors.InvalidRecord` for anything else.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Self, TypeVar

from ._json import JSONValue
from .errors import InvalidRecord, InvalidType

__all__ = [
    "I64_MAX",
    "I64_MIN",
    "CheckpointRecord",
    "DynamicToolRecord",
    "JobStateRecord",
    "JobStateStatus",
    "MessageRecord",
    "SearchHit",
    "SearchIndexStatus",
    "SessionIndexEntry",
    "SessionSource",
    "ThreadGoalRecord",
    "ThreadGoalStatus",
    "ThreadListFilters",
    "ThreadMetadata",
    "ThreadStatus",
]

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1


class ThreadStatus(enum.StrEnum):
    """Lifecycle status of a thread. Unknown stored values read as ``IDLE``."""

    RUNNING = "running"
    IDLE = "idle"
    COMPLETED = "completed"
    FAILED = "failed"
    PAUSED = "paused"
    ARCHIVED = "archived"


class SessionSource(enum.StrEnum):
    """How a session started. Unknown stored values read as ``UNKNOWN``."""

    INTERACTIVE = "interactive"
    RESUME = "resume"
    FORK = "fork"
    API = "api"
    UNKNOWN = "unknown"


class JobStateStatus(enum.StrEnum):
    """Status of a background job. Unknown stored values read as ``QUEUED``.

    ``PAUSED`` is a later addition of the original; the seed version rejects it.
    """

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PAUSED = "paused"


class ThreadGoalStatus(enum.StrEnum):
    """Status of a thread goal. Unknown stored values read as ``PAUSED`` (fail closed)."""

    ACTIVE = "active"
    PAUSED = "paused"
    BLOCKED = "blocked"
    USAGE_LIMITED = "usage_limited"
    BUDGET_LIMITED = "budget_limited"
    COMPLETE = "complete"


# ---------------------------------------------------------------------------
# Field checks shared by from_dict and the store's argument validation.
# ---------------------------------------------------------------------------

_E = TypeVar("_E", bound=enum.StrEnum)


def check_str(value: object, name: str) -> str:
    """Return ``value`` if it is a ``str``; raise :class:`InvalidType` otherwise."""
    if not isinstance(value, str):
        raise InvalidType(f"{name} must be a string, got {type(value).__name__}")
    return value


def check_opt_str(value: object, name: str) -> str | None:
    """Like :func:`check_str`, but ``None`` is allowed."""
    return None if value is None else check_str(value, name)


def check_path(value: object, name: str) -> str | None:
    """Accept ``None``, a string or an ``os.PathLike``; return the path as a string."""
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise InvalidType(f"{name} must be a path string, got {type(value).__name__}")
    return value


def check_i64(value: object, name: str) -> int:
    """Return ``value`` if it is an ``int`` (not ``bool``) that fits a signed 64-bit integer."""
    if type(value) is not int:
        if isinstance(value, int) and not isinstance(value, bool):
            value = int(value)
        else:
            raise InvalidType(f"{name} must be an integer, got {type(value).__name__}")
    if not I64_MIN <= value <= I64_MAX:
        raise InvalidRecord(f"{name} is out of the 64-bit integer range: {value}")
    return value


def check_opt_i64(value: object, name: str) -> int | None:
    """Like :func:`check_i64`, but ``None`` is allowed."""
    return None if value is None else check_i64(value, name)


def check_bool(value: object, name: str) -> bool:
    """Return ``value`` if it is a ``bool``."""
    if not isinstance(value, bool):
        raise InvalidType(f"{name} must be a boolean, got {type(value).__name__}")
    return value


def check_enum(value: object, enum_type: type[_E], name: str) -> _E:
    """Return the ``enum_type`` member named by ``value`` (a member or its string)."""
    if isinstance(value, enum_type):
        return value
    if isinstance(value, str):
        try:
            return enum_type(value)
        except ValueError:
            pass
    expected = ", ".join(f"`{m.value}`" for m in enum_type)
    raise InvalidRecord(f"{name}: unknown variant {value!r}, expected one of {expected}")


def check_progress(value: object, name: str = "progress") -> int | None:
    """A job's progress: ``None`` or an integer from 0 to 255 (the original's ``u8``)."""
    if value is None:
        return None
    number = check_i64(value, name)
    if not 0 <= number <= 255:
        raise InvalidRecord(f"{name} must be between 0 and 255, got {number}")
    return number


def _require(data: Mapping[str, Any], key: str, record: str) -> Any:
    if key not in data:
        raise InvalidRecord(f"{record}: missing field `{key}`")
    return data[key]


def _mapping(data: object, record: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidType(f"{record} must be a JSON object, got {type(data).__name__}")
    return data


# Stored enum strings to members: a dict lookup instead of Enum.__call__, which is slow
# and runs twice per thread row of list_threads.
_MEMBERS: dict[type[enum.StrEnum], dict[str, enum.StrEnum]] = {}


def _members(enum_type: type[_E]) -> dict[str, _E]:
    table = _MEMBERS.get(enum_type)
    if table is None:
        table = _MEMBERS[enum_type] = {m.value: m for m in enum_type}
    return table  # type: ignore[return-value]


def _enum_from_storage(raw: object, enum_type: type[_E], fallback: _E) -> _E:
    if not isinstance(raw, str):
        return fallback
    return _members(enum_type).get(raw, fallback)


class _Record:
    """Shared ``to_dict`` for the records: the fields in declaration order."""

    __slots__ = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build the record from the original's JSON object (each record defines it)."""
        raise NotImplementedError

    def validated(self) -> Self:
        """Return this record after checking every field, as :meth:`from_dict` does.

        Raises:
            InvalidRecord: A field has the wrong type or is out of range.
        """
        return type(self).from_dict(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """Return the record as the original's JSON object (enums as strings)."""
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = value.value if isinstance(value, enum.Enum) else value
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadMetadata(_Record):
    """Metadata of one thread (session). Field order is the original's.

    ``name`` is stored in the ``title`` column. ``current_leaf_id`` is read-only here:
    :meth:`StateStore.upsert_thread` ignores it, as the original does.
    """

    id: str
    rollout_path: str | None
    preview: str
    ephemeral: bool
    model_provider: str
    created_at: int
    updated_at: int
    status: ThreadStatus
    path: str | None
    cwd: str
    cli_version: str
    source: SessionSource
    name: str | None = None
    sandbox_policy: str | None = None
    approval_mode: str | None = None
    archived: bool = False
    archived_at: int | None = None
    git_sha: str | None = None
    git_branch: str | None = None
    git_origin_url: str | None = None
    memory_mode: str | None = None
    current_leaf_id: int | None = None

    @classmethod
    def create(
        cls,
        id: str,
        *,
        cwd: str | os.PathLike[str] = ".",
        preview: str = "",
        model_provider: str = "",
        cli_version: str = "",
        status: ThreadStatus | str = ThreadStatus.IDLE,
        source: SessionSource | str = SessionSource.API,
        now: int | None = None,
        **optional: Any,
    ) -> ThreadMetadata:
        """Build a new thread with sensible defaults (timestamps now, not archived).

        Args:
            id: The thread id.
            cwd: The working directory (default ``"."``).
            preview: A short preview of the conversation.
            model_provider: The model provider (``"deepseek"``, ``"openai"``).
            cli_version: The version of the program creating the thread.
            status: The initial status (default ``idle``).
            source: How the session started (default ``api``).
            now: The creation timestamp in seconds (default: the current time).
            **optional: Any other field (``name``, ``rollout_path``, ``git_sha`` ...).

        Raises:
            InvalidRecord: A field has the wrong type or an unknown name.
        """
        stamp = int(time.time()) if now is None else now
        data: dict[str, Any] = {
            "id": id,
            "rollout_path": None,
            "preview": preview,
            "ephemeral": False,
            "model_provider": model_provider,
            "created_at": stamp,
            "updated_at": stamp,
            "status": status,
            "path": None,
            "cwd": os.fspath(cwd),
            "cli_version": cli_version,
            "source": source,
            "archived": False,
        }
        unknown = set(optional) - {f.name for f in fields(cls)}
        if unknown:
            raise InvalidRecord(f"unknown thread field(s): {', '.join(sorted(unknown))}")
        data.update(optional)
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build a thread from the original's JSON object.

        Raises:
            InvalidRecord: A required field is missing or a field has the wrong type.
        """
        d = _mapping(data, "thread")
        return cls(
            id=check_str(_require(d, "id", "thread"), "thread.id"),
            rollout_path=check_path(d.get("rollout_path"), "thread.rollout_path"),
            preview=check_str(_require(d, "preview", "thread"), "thread.preview"),
            ephemeral=check_bool(_require(d, "ephemeral", "thread"), "thread.ephemeral"),
            model_provider=check_str(
                _require(d, "model_provider", "thread"), "thread.model_provider"
            ),
            created_at=check_i64(_require(d, "created_at", "thread"), "thread.created_at"),
            updated_at=check_i64(_require(d, "updated_at", "thread"), "thread.updated_at"),
            status=check_enum(_require(d, "status", "thread"), ThreadStatus, "thread.status"),
            path=check_path(d.get("path"), "thread.path"),
            cwd=check_path(_require(d, "cwd", "thread"), "thread.cwd") or "",
            cli_version=check_str(_require(d, "cli_version", "thread"), "thread.cli_version"),
            source=check_enum(_require(d, "source", "thread"), SessionSource, "thread.source"),
            name=check_opt_str(d.get("name"), "thread.name"),
            sandbox_policy=check_opt_str(d.get("sandbox_policy"), "thread.sandbox_policy"),
            approval_mode=check_opt_str(d.get("approval_mode"), "thread.approval_mode"),
            archived=check_bool(_require(d, "archived", "thread"), "thread.archived"),
            archived_at=check_opt_i64(d.get("archived_at"), "thread.archived_at"),
            git_sha=check_opt_str(d.get("git_sha"), "thread.git_sha"),
            git_branch=check_opt_str(d.get("git_branch"), "thread.git_branch"),
            git_origin_url=check_opt_str(d.get("git_origin_url"), "thread.git_origin_url"),
            memory_mode=check_opt_str(d.get("memory_mode"), "thread.memory_mode"),
            current_leaf_id=check_opt_i64(d.get("current_leaf_id"), "thread.current_leaf_id"),
        )

    @staticmethod
    def status_from_storage(raw: object) -> ThreadStatus:
        """Read a stored status string; unknown values read as ``idle`` (the original's rule)."""
        return _enum_from_storage(raw, ThreadStatus, ThreadStatus.IDLE)

    @staticmethod
    def source_from_storage(raw: object) -> SessionSource:
        """Read a stored source string; unknown values read as ``unknown``."""
        return _enum_from_storage(raw, SessionSource, SessionSource.UNKNOWN)


@dataclass(frozen=True, slots=True, kw_only=True)
class DynamicToolRecord(_Record):
    """A tool registered on a thread, at a position in its tool list."""

    position: int
    name: str
    description: str | None
    input_schema: JSONValue

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build a tool from the original's JSON object.

        Raises:
            InvalidRecord: A required field is missing or has the wrong type.
        """
        d = _mapping(data, "tool")
        return cls(
            position=check_i64(_require(d, "position", "tool"), "tool.position"),
            name=check_str(_require(d, "name", "tool"), "tool.name"),
            description=check_opt_str(d.get("description"), "tool.description"),
            input_schema=_require(d, "input_schema", "tool"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRecord(_Record):
    """One message of a thread's message tree (``parent_entry_id`` links to the parent)."""

    id: int
    thread_id: str
    role: str
    content: str
    item: JSONValue
    created_at: int
    parent_entry_id: int | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build a message from the original's JSON object.

        Raises:
            InvalidRecord: A required field is missing or has the wrong type.
        """
        d = _mapping(data, "message")
        return cls(
            id=check_i64(_require(d, "id", "message"), "message.id"),
            thread_id=check_str(_require(d, "thread_id", "message"), "message.thread_id"),
            role=check_str(_require(d, "role", "message"), "message.role"),
            content=check_str(_require(d, "content", "message"), "message.content"),
            item=d.get("item"),
            created_at=check_i64(_require(d, "created_at", "message"), "message.created_at"),
            parent_entry_id=check_opt_i64(d.get("parent_entry_id"), "message.parent_entry_id"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointRecord(_Record):
    """A named JSON snapshot of a thread's state."""

    thread_id: str
    checkpoint_id: str
    state: JSONValue
    created_at: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build a checkpoint from the original's JSON object.

        Raises:
            InvalidRecord: A required field is missing or has the wrong type.
        """
        d = _mapping(data, "checkpoint")
        return cls(
            thread_id=check_str(_require(d, "thread_id", "checkpoint"), "checkpoint.thread_id"),
            checkpoint_id=check_str(
                _require(d, "checkpoint_id", "checkpoint"), "checkpoint.checkpoint_id"
            ),
            state=_require(d, "state", "checkpoint"),
            created_at=check_i64(_require(d, "created_at", "checkpoint"), "checkpoint.created_at"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStateRecord(_Record):
    """A background job's persisted state (``progress`` is 0-255 or ``None``)."""

    id: str
    name: str
    status: JobStateStatus
    progress: int | None
    detail: str | None
    created_at: int
    updated_at: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build a job from the original's JSON object.

        Raises:
            InvalidRecord: A required field is missing or has the wrong type.
        """
        d = _mapping(data, "job")
        return cls(
            id=check_str(_require(d, "id", "job"), "job.id"),
            name=check_str(_require(d, "name", "job"), "job.name"),
            status=check_enum(_require(d, "status", "job"), JobStateStatus, "job.status"),
            progress=check_progress(d.get("progress"), "job.progress"),
            detail=check_opt_str(d.get("detail"), "job.detail"),
            created_at=check_i64(_require(d, "created_at", "job"), "job.created_at"),
            updated_at=check_i64(_require(d, "updated_at", "job"), "job.updated_at"),
        )

    @staticmethod
    def status_from_storage(raw: object) -> JobStateStatus:
        """Read a stored status; unknown values read as ``queued`` (the original's rule)."""
        return _enum_from_storage(raw, JobStateStatus, JobStateStatus.QUEUED)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadGoalRecord(_Record):
    """The goal attached to a thread, with its token budget and usage counters.

    ``continuation_count`` is the original's schema-v4 addition; the seed's JSON shape
    does not have it, and :meth:`from_dict` reads its absence as 0.
    """

    thread_id: str
    goal_id: str
    objective: str
    status: ThreadGoalStatus
    token_budget: int | None
    tokens_used: int
    time_used_seconds: int
    created_at: int
    updated_at: int
    continuation_count: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build a goal from the original's JSON object.

        Raises:
            InvalidRecord: A required field is missing or has the wrong type.
        """
        d = _mapping(data, "goal")
        return cls(
            thread_id=check_str(_require(d, "thread_id", "goal"), "goal.thread_id"),
            goal_id=check_str(_require(d, "goal_id", "goal"), "goal.goal_id"),
            objective=check_str(_require(d, "objective", "goal"), "goal.objective"),
            status=check_enum(_require(d, "status", "goal"), ThreadGoalStatus, "goal.status"),
            token_budget=check_opt_i64(d.get("token_budget"), "goal.token_budget"),
            tokens_used=check_i64(_require(d, "tokens_used", "goal"), "goal.tokens_used"),
            time_used_seconds=check_i64(
                _require(d, "time_used_seconds", "goal"), "goal.time_used_seconds"
            ),
            created_at=check_i64(_require(d, "created_at", "goal"), "goal.created_at"),
            updated_at=check_i64(_require(d, "updated_at", "goal"), "goal.updated_at"),
            continuation_count=check_i64(d.get("continuation_count", 0), "goal.continuation_count"),
        )

    def to_seed_dict(self) -> dict[str, Any]:
        """The JSON object of the seed version (schema v3), without ``continuation_count``."""
        data = self.to_dict()
        del data["continuation_count"]
        return data

    @staticmethod
    def status_from_storage(raw: object) -> ThreadGoalStatus:
        """Read a stored status; unknown values read as ``paused`` (fail closed)."""
        return _enum_from_storage(raw, ThreadGoalStatus, ThreadGoalStatus.PAUSED)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadListFilters:
    """Filters of :meth:`StateStore.list_threads`: archived threads and a row limit."""

    include_archived: bool = False
    limit: int | None = 50

    DEFAULT_LIMIT: ClassVar[int] = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionIndexEntry(_Record):
    """One line of ``session_index.jsonl``: a thread's name, update time and rollout path."""

    thread_id: str
    thread_name: str | None
    updated_at: int
    rollout_path: str | None = field(default=None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build an entry from one decoded index line.

        Raises:
            InvalidRecord: The line lacks ``thread_id``/``updated_at`` or has wrong types.
        """
        d = _mapping(data, "session index entry")
        return cls(
            thread_id=check_str(_require(d, "thread_id", "entry"), "entry.thread_id"),
            thread_name=check_opt_str(d.get("thread_name"), "entry.thread_name"),
            updated_at=check_i64(_require(d, "updated_at", "entry"), "entry.updated_at"),
            rollout_path=check_path(d.get("rollout_path"), "entry.rollout_path"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchHit(_Record):
    """One result of :meth:`StateStore.search`: a message, or a thread by its name or preview.

    Attributes:
        thread_id: The thread.
        thread_name: Its name (``threads.title``), or ``None``.
        message_id: The message; ``None`` for a hit on the thread's name or preview.
        role: The message's role (``None`` for a thread hit).
        created_at: When the message was written (a thread hit: its ``updated_at``).
        on_current_branch: The message is on its thread's current branch (a thread
            hit: ``True``).
        matched_in: ``content``, ``item`` (text inside the message's item: tool calls,
            tool output), ``name`` or ``preview``.
        snippet: About 160 characters around the first match, on one line.
        highlights: ``(start, end)`` offsets of the matched words in ``snippet``.
        rank: With ``order="relevance"``, the score hits are ordered by, higher is
            better (BM25 on SQLite, ``ts_rank`` on PostgreSQL); comparable within one
            search only. 0 in the default ``recent`` order (a score needs every match
            of each word counted first) and from the fallback scan.
    """

    thread_id: str
    thread_name: str | None
    message_id: int | None
    role: str | None
    created_at: int
    on_current_branch: bool
    matched_in: str
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    rank: float

    def marked(self, before: str = "[", after: str = "]") -> str:
        """The snippet with each match between ``before`` and ``after``."""
        out: list[str] = []
        at = 0
        for start, end in self.highlights:
            out += [self.snippet[at:start], before, self.snippet[start:end], after]
            at = end
        out.append(self.snippet[at:])
        return "".join(out)

    def to_dict(self) -> dict[str, Any]:
        """The hit as JSON (``highlights`` as lists of two offsets)."""
        data = _Record.to_dict(self)
        data["highlights"] = [list(span) for span in self.highlights]
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchIndexStatus:
    """How far the full-text index has caught up (:meth:`StateStore.search_status`).

    Attributes:
        engine: ``fts5`` (SQLite), ``tsvector`` (PostgreSQL) or ``scan`` (SQLite
            without FTS5: every search reads every message).
        indexed_through: The newest message id the index holds (0: none).
        newest_message: The newest message id in the database.
        pending: Messages newer than ``indexed_through`` (indexed at the next search).
    """

    engine: str
    indexed_through: int
    newest_message: int
    pending: int
