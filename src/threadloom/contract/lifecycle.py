"""The backend contract for the data lifecycle: idempotent writes, retention, settings.

Idempotency keys and settings live in threadloom's own tables
(``threadloom_idempotency_keys``, ``threadloom_settings``: schema step
``threadloom-v3``); the original's tables are unchanged. A key belongs to a thread and
is deleted with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..records import ThreadMetadata

__all__ = [
    "IDEMPOTENCY_TABLE",
    "SETTINGS_TABLE",
    "CheckpointRef",
    "IdempotentWrite",
    "LifecycleOperations",
    "SealedColumn",
    "SealedValue",
]

IDEMPOTENCY_TABLE = "threadloom_idempotency_keys"
SETTINGS_TABLE = "threadloom_settings"


@dataclass(frozen=True, slots=True)
class IdempotentWrite:
    """The key of a write that must happen once.

    Attributes:
        key: The caller's idempotency key.
        fingerprint: A digest of what the write stores: the same key with another
            fingerprint is a :class:`~threadloom.errors.Conflict`.
        valid_after: Unix time; a key recorded before it has expired and is reused.
    """

    key: str
    fingerprint: str
    valid_after: int


@dataclass(frozen=True, slots=True)
class CheckpointRef:
    """A checkpoint past a retention policy's "keep the latest K"."""

    thread_id: str
    checkpoint_id: str
    created_at: int


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """A column encryption covers: ``table.column``, its row key columns, and whether
    it is a JSON column (stored as JSON text; sealed values are JSON strings)."""

    table: str
    column: str
    key: tuple[str, ...]
    json: bool


@dataclass(frozen=True, slots=True)
class SealedValue:
    """One stored value of a :class:`SealedColumn`, with its row key (as stored)."""

    key: tuple[object, ...]
    value: str | None


class LifecycleOperations(Protocol):
    """Idempotent writes, retention selections, stored settings and value rewrites."""

    # -- idempotent writes -------------------------------------------------------
    def append_message_once(
        self,
        thread_id: str,
        once: IdempotentWrite,
        role: str,
        content: str,
        item_json: str | None,
        now: int,
    ) -> int:
        """:meth:`append_message` unless ``once.key`` was used on the thread: then the
        first call's message id, writing nothing.

        Raises:
            NotFound: The thread does not exist.
            Conflict: The key was used with another fingerprint (or operation).
        """

    def fork_at_message_once(
        self,
        message_id: int,
        once: IdempotentWrite,
        role: str,
        content: str,
        item_json: str | None,
        now: int,
    ) -> int:
        """:meth:`fork_at_message` once per key of the message's thread."""

    def save_checkpoint_once(
        self,
        thread_id: str,
        once: IdempotentWrite,
        checkpoint_id: str,
        state_json: str,
        now: int,
    ) -> None:
        """:meth:`save_checkpoint` once per key of the thread."""

    def purge_idempotency_keys(self, before: int, limit: int) -> int:
        """Delete at most ``limit`` keys recorded before ``before`` or of a missing
        thread (left behind by a deletion without foreign keys); how many."""

    def count_idempotency_keys(self, before: int) -> int:
        """How many keys :meth:`purge_idempotency_keys` would delete."""

    # -- retention ---------------------------------------------------------------
    def checkpoints_beyond(self, keep: int) -> list[CheckpointRef]:
        """Every checkpoint that is not among the latest ``keep`` of its thread."""

    def delete_checkpoints_unchanged(self, refs: Sequence[CheckpointRef]) -> int:
        """Delete these checkpoints unless re-saved since (``created_at`` moved); how many."""

    def idle_threads(self, before: int, *, archived_only: bool) -> list[ThreadMetadata]:
        """Threads neither updated (``updated_at``) nor appended to (a message's
        ``created_at``) since ``before``, newest first."""

    def delete_thread_if_idle(
        self, thread_id: str, *, updated_at: int, since: int, archived_only: bool
    ) -> bool:
        """Delete the thread (as :meth:`delete_thread`) unless, checked with its row
        locked, its ``updated_at`` passed ``updated_at``, it has a message created at or
        after ``since``, or (``archived_only``) it is no longer archived; whether it
        was deleted."""

    def thread_stored_bytes(self) -> dict[str, int]:
        """Stored bytes per thread: message content and items plus checkpoint states."""

    def set_secure_delete(self, on: bool) -> bool:
        """Overwrite (``True``) or leave (``False``) deleted content on every connection
        from now (SQLite ``PRAGMA secure_delete``); whether the engine has the choice
        (PostgreSQL: ``False``, its dead rows stay until ``VACUUM``, then in free space)."""

    # -- settings ----------------------------------------------------------------
    def get_setting(self, name: str) -> str | None:
        """A stored setting, or ``None`` (also when the settings table is missing)."""

    def set_setting(self, name: str, value: str | None, now: int) -> None:
        """Store (``None``: delete) a setting."""

    def swap_setting(self, name: str, expected: str | None, value: str, now: int) -> bool:
        """Store ``value`` only if the setting is still ``expected``; whether it was."""

    # -- rewriting stored values (encryption, key rotation) -----------------------
    def scan_column(
        self, column: SealedColumn, after: tuple[object, ...] | None, limit: int
    ) -> list[SealedValue]:
        """Up to ``limit`` values of the column, by row key, after ``after``."""

    def rewrite_column(
        self, column: SealedColumn, changes: Sequence[tuple[SealedValue, str | None]]
    ) -> int:
        """Replace each value that is still as read (compare and set), in one
        transaction; how many were replaced."""
