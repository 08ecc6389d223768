"""The backend contract: what a storage engine does for :class:`~threadloom.StateStore`.

The store facade validates arguments, encodes JSON, reads the clock and keeps the
session index; a backend runs the statements. Both backends (SQLite, PostgreSQL)
satisfy :class:`Backend`, and one contract test suite checks them.

Conventions every backend follows:

- ``*_json`` arguments are canonical JSON text made by :func:`threadloom._json.encode_json`.
- A write naming a missing thread or message raises :class:`~threadloom.errors.NotFound`
  before anything is written.
- ``limit`` arguments are already validated non-negative integers.
- Lists newest-first break timestamp ties by insertion order, newest first.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from ..records import (
    CheckpointRecord,
    DynamicToolRecord,
    JobStateRecord,
    MessageRecord,
    ThreadGoalRecord,
    ThreadMetadata,
)
from ..session_index import SessionIndex
from .lifecycle import LifecycleOperations
from .maintenance import MaintenanceOperations
from .traces import TraceOperations
from .transfer import TransferOperations

__all__ = ["Backend", "MigrationStep", "SchemaInfo", "ToolRow"]


@dataclass(frozen=True, slots=True)
class ToolRow:
    """A dynamic tool ready to store: its schema already encoded."""

    position: int
    name: str
    description: str | None
    input_schema_json: str


@dataclass(frozen=True, slots=True)
class MigrationStep:
    """A schema step, applied or pending."""

    name: str
    description: str


@dataclass(frozen=True, slots=True)
class SchemaInfo:
    """Schema versions of an open database."""

    schema_version: int
    own_version: int
    applied: tuple[MigrationStep, ...]
    pending: tuple[MigrationStep, ...]


class Backend(
    MaintenanceOperations, TraceOperations, TransferOperations, LifecycleOperations, Protocol
):
    """A storage engine for the store's tables."""

    #: Where the data lives (a file path, or a DSN without its password).
    location: str
    #: Opened with ``read_only=True``: every write raises ``ReadOnlyStore``.
    read_only: bool
    #: The database takes one writer at a time (SQLite): the async store sends this
    #: process's writes through one thread rather than have them wait on each other.
    single_writer: bool
    #: How many calls can run at once, each on its own connection (PostgreSQL: the
    #: pool's size); the async store runs that many threads.
    max_concurrency: int

    @property
    def session_index(self) -> SessionIndex:
        """The session index this backend keeps."""

    # -- lifecycle ---------------------------------------------------------------
    def close(self) -> None:
        """Release connections; later calls raise."""

    def transaction(self) -> AbstractContextManager[None]:
        """Group calls into one atomic write (nesting allowed)."""

    def snapshot(self) -> AbstractContextManager[None]:
        """Group reads into one consistent, read-only view (writes raise ``ReadOnlyError``)."""

    def check_writable(self, what: str) -> None:
        """Refuse a write outside the database (the session index): ``ReadOnlyStore`` in a
        read-only store, ``ReadOnlyError`` inside :meth:`snapshot`."""

    def schema_info(self) -> SchemaInfo:
        """Schema versions and steps (read-only)."""

    def migrate(self) -> list[MigrationStep]:
        """Apply pending steps; return those applied."""

    # -- threads -----------------------------------------------------------------
    def upsert_thread(self, thread: ThreadMetadata) -> None:
        """Insert or update a thread (``current_leaf_id`` is ignored)."""

    def get_thread(self, thread_id: str) -> ThreadMetadata | None:
        """One thread."""

    def list_threads(self, *, include_archived: bool, limit: int) -> list[ThreadMetadata]:
        """Threads by ``updated_at`` descending."""

    def iter_threads(self, *, include_archived: bool) -> Iterator[ThreadMetadata]:
        """Every thread, newest first, without a limit."""

    def mark_archived(self, thread_id: str, now: int) -> bool:
        """Archive; ``False`` if the thread does not exist."""

    def mark_unarchived(self, thread_id: str) -> bool:
        """Unarchive (status ``archived`` becomes ``idle``); ``False`` if missing."""

    def delete_thread(self, thread_id: str) -> bool:
        """Delete a thread and its messages, checkpoints, tools and goal.

        A deleted thread row is recorded in ``threadloom_deleted_threads`` in the same
        transaction (when the table exists), for :meth:`deleted_threads`.
        """

    def deleted_threads(self, thread_ids: Collection[str]) -> set[str]:
        """Which of ``thread_ids`` this database deleted and holds no longer.

        Only these may lose their session-index entries: any other entry may belong
        to another database sharing the index (on SQLite, the ids another database in
        the folder holds are left out too).
        """

    def set_thread_memory_mode(self, thread_id: str, mode: str | None) -> None:
        """Set or clear the memory mode; :class:`NotFound` if the thread is missing."""

    def get_thread_memory_mode(self, thread_id: str) -> str | None:
        """The memory mode, or ``None``."""

    def find_rollout_path_by_id(self, thread_id: str) -> str | None:
        """The thread's rollout path, or ``None``."""

    # -- goals -------------------------------------------------------------------
    def upsert_thread_goal(self, goal: ThreadGoalRecord) -> None:
        """Insert or replace a thread's goal; :class:`NotFound` if the thread is missing."""

    def get_thread_goal(self, thread_id: str) -> ThreadGoalRecord | None:
        """The thread's goal."""

    def delete_thread_goal(self, thread_id: str) -> bool:
        """Delete the goal; whether one existed."""

    def record_thread_goal_usage(
        self, thread_id: str, tokens_delta: int, seconds_delta: int, now: int
    ) -> ThreadGoalRecord | None:
        """Add usage; ``updated_at = max(updated_at, now)``; the goal after, or ``None``."""

    def record_thread_goal_continuation(self, thread_id: str) -> ThreadGoalRecord | None:
        """Increment ``continuation_count``; the goal after, or ``None``."""

    # -- messages ----------------------------------------------------------------
    def append_message(
        self, thread_id: str, role: str, content: str, item_json: str | None, now: int
    ) -> int:
        """Append under the current leaf and move the leaf; the new id."""

    def fork_at_message(
        self, message_id: int, role: str, content: str, item_json: str | None, now: int
    ) -> int:
        """Add a child of ``message_id`` and make it the leaf; the new id."""

    def list_messages(self, thread_id: str, limit: int) -> list[MessageRecord]:
        """The newest ``limit`` messages of the current branch, oldest first."""

    def list_leaf_messages(self, thread_id: str) -> list[MessageRecord]:
        """Messages without children, by id."""

    def list_all_messages(self, thread_id: str) -> list[MessageRecord]:
        """Every message of the thread (all branches), by id."""

    def set_current_leaf_id(self, thread_id: str, message_id: int) -> None:
        """Point the thread at a message of its own; :class:`NotFound`/:class:`Conflict`."""

    def clear_messages(self, thread_id: str) -> int:
        """Delete the thread's messages; how many."""

    # -- dynamic tools -----------------------------------------------------------
    def persist_dynamic_tools(self, thread_id: str, tools: Sequence[ToolRow]) -> None:
        """Replace the thread's tools."""

    def get_dynamic_tools(self, thread_id: str) -> list[DynamicToolRecord]:
        """The thread's tools by position."""

    # -- checkpoints -------------------------------------------------------------
    def save_checkpoint(
        self, thread_id: str, checkpoint_id: str, state_json: str, now: int
    ) -> None:
        """Insert or overwrite a checkpoint (it becomes the latest)."""

    def load_checkpoint(self, thread_id: str, checkpoint_id: str | None) -> CheckpointRecord | None:
        """One checkpoint, or the latest saved."""

    def list_checkpoints(self, thread_id: str, limit: int) -> list[CheckpointRecord]:
        """Checkpoints, latest first."""

    def delete_checkpoint(self, thread_id: str, checkpoint_id: str) -> bool:
        """Delete one checkpoint; whether it existed."""

    # -- jobs --------------------------------------------------------------------
    def upsert_job(self, job: JobStateRecord) -> None:
        """Insert or update a job."""

    def get_job(self, job_id: str) -> JobStateRecord | None:
        """One job."""

    def list_jobs(self, limit: int) -> list[JobStateRecord]:
        """Jobs by ``updated_at`` descending."""

    def delete_job(self, job_id: str) -> bool:
        """Delete a job; whether it existed."""
