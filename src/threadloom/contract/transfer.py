"""The transfer part of the backend contract: whole-thread import and bulk copy.

:mod:`threadloom.transfer` (export, import, copy) is written only against these
operations. Import writes a thread with the ids and timestamps it is given (any number
of root messages); copy moves the rows of every table verbatim, in batches, in the
source's insertion order, skipping rows the destination already holds.

Rows are tuples of logical values in :attr:`CopyTable.columns` order: text as the
caller wrote it (a backend undoes its own storage escapes), JSON columns as their
stored JSON text, so the same data reads back as the same tuples on every backend.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..records import SessionIndexEntry, ThreadGoalRecord, ThreadMetadata

if TYPE_CHECKING:  # core imports this module for Backend's bases
    from .core import ToolRow

__all__ = [
    "CheckpointRow",
    "CopyTable",
    "MessageRow",
    "Row",
    "RowCount",
    "ThreadImport",
    "TransferOperations",
]

#: One row of a copied table, values in :attr:`CopyTable.columns` order.
Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class CopyTable:
    """One table a copy moves: its logical columns and what its rows need.

    Attributes:
        name: The table.
        columns: Its columns, without a backend's own bookkeeping (``seq``, rowid).
        parents: ``(column, parent table)`` for each NOT NULL reference: a row whose
            parent row is missing is an orphan, neither counted nor copied.
        key: The primary key's columns.
    """

    name: str
    columns: tuple[str, ...]
    parents: tuple[tuple[str, str], ...] = ()
    key: tuple[str, ...] = ("id",)

    @property
    def json_at(self) -> tuple[int, ...]:
        """Indexes of the columns holding JSON text."""
        return tuple(
            i for i, c in enumerate(self.columns) if c.endswith("_json") or c == "input_schema"
        )


@dataclass(frozen=True, slots=True)
class RowCount:
    """Rows of a table.

    Attributes:
        rows: Rows a copy moves.
        orphans: Rows whose parent row is missing (a SQLite file written with foreign
            keys off): left behind.
    """

    rows: int
    orphans: int


@dataclass(frozen=True, slots=True)
class MessageRow:
    """A message to import, with its own id, parent and timestamp.

    ``item_json`` is canonical JSON text (or ``None``).
    """

    id: int
    role: str
    content: str
    item_json: str | None
    created_at: int
    parent_entry_id: int | None


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    """A checkpoint to import; ``state_json`` is canonical JSON text."""

    checkpoint_id: str
    state_json: str
    created_at: int


@dataclass(frozen=True, slots=True)
class ThreadImport:
    """A whole thread to write at once, ids and timestamps as given.

    Attributes:
        thread: The thread row; its ``current_leaf_id`` (a message id of ``messages``,
            or ``None``) becomes the thread's leaf.
        messages: Every message, parents before children (any number of roots).
        checkpoints: In save order: the last one saved in a second is the latest.
        tools: The dynamic tools.
        goal: The goal (its ``thread_id`` is the thread's), or ``None``.
    """

    thread: ThreadMetadata
    messages: tuple[MessageRow, ...] = ()
    checkpoints: tuple[CheckpointRow, ...] = ()
    tools: tuple[ToolRow, ...] = ()
    goal: ThreadGoalRecord | None = None


class TransferOperations(Protocol):
    """Import with explicit ids, and table-by-table bulk copy."""

    # -- import ------------------------------------------------------------------
    def taken_message_ids(self, ids: Collection[int]) -> set[int]:
        """Which of ``ids`` a message of any thread already has."""

    def reserve_message_ids(self, count: int) -> list[int]:
        """``count`` fresh message ids, ascending, that no append will hand out.

        Inside a ``transaction()`` that then imports them (SQLite allocates them
        from its ``AUTOINCREMENT`` counter, which the insert moves past them).
        """

    def import_thread(self, data: ThreadImport) -> None:
        """Write a thread with its messages (their ids kept), checkpoints, tools and
        goal in one transaction; the session index is left to the caller.

        Raises:
            Conflict: The thread id or a message id is taken (nothing is written).
            NotFound: ``current_leaf_id`` is not one of ``messages``.
        """

    # -- bulk copy ---------------------------------------------------------------
    def copy_tables(self) -> tuple[CopyTable, ...]:
        """Every data table, parents before the tables referencing them."""

    def count_rows(self, table: CopyTable) -> RowCount:
        """Rows of ``table`` (orphans apart)."""

    def read_rows(self, table: CopyTable, batch_size: int) -> Iterator[list[Row]]:
        """Rows of ``table`` in insertion order (orphans left out), in batches, from
        one consistent read view."""

    def write_rows(self, table: CopyTable, rows: Sequence[Row]) -> int:
        """Insert ``rows`` verbatim in one transaction, skipping any whose key is
        already there; how many were inserted. New messages get ids above the
        written ones.

        Raises:
            ThreadloomError: A row cannot be stored (invalid JSON, a value of the
                wrong type).
        """

    def append_index_entries(self, entries: Sequence[SessionIndexEntry]) -> None:
        """Append session-index entries, in order, as :meth:`SessionIndex.append` does."""
