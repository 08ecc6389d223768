"""The maintenance part of the backend contract: checks, repairs, pruning, sizes.

``threadloom.maintenance`` (``doctor``, ``repair``, ``prune``, ``stats``, ``vacuum``)
is written only against :class:`MaintenanceOperations`; each backend answers with its
own checks (SQLite: ``integrity_check``, ``foreign_key_check``, the WAL and free
pages; PostgreSQL: index validity, sizes from the catalog, dead tuples). Where an
engine has no such thing the value is ``None`` or empty, never a made-up zero.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from ..records import ThreadMetadata

__all__ = [
    "CHILD_TABLES",
    "Compaction",
    "MaintenanceOperations",
    "Orphans",
    "StorageInfo",
    "TableStats",
    "ThreadCounts",
    "ThreadSize",
]

#: Tables whose rows belong to a thread (``thread_id``) and were orphaned by the seed
#: version of the original, which deleted threads with foreign keys off.
CHILD_TABLES = ("messages", "checkpoints", "thread_dynamic_tools", "thread_goals")


@dataclass(frozen=True, slots=True)
class ThreadCounts:
    """Messages and branches (leaf messages) of one thread."""

    messages: int = 0
    branches: int = 0


@dataclass(frozen=True, slots=True)
class Orphans:
    """Rows of missing threads: how many per child table, and the ids they name."""

    rows: dict[str, int] = field(default_factory=dict)
    thread_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TableStats:
    """Rows and bytes of one table (``None`` where the engine cannot tell).

    Attributes:
        name: The table.
        rows: Its rows (an exact count).
        bytes: The table's own pages (SQLite ``dbstat``; PostgreSQL
            ``pg_table_size``: heap and TOAST).
        index_bytes: Its indexes' pages (SQLite ``dbstat``; PostgreSQL
            ``pg_indexes_size``).
    """

    name: str
    rows: int
    bytes: int | None
    index_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class ThreadSize:
    """One thread's message count and stored text bytes (content plus items)."""

    id: str
    name: str | None
    messages: int
    bytes: int


@dataclass(frozen=True, slots=True)
class StorageInfo:
    """Where the bytes are and what compaction could reclaim.

    Attributes:
        engine: ``"sqlite"`` or ``"postgresql"``.
        database_bytes: The database file (SQLite), or every table and index of the
            schema with ``pg_total_relation_size`` (PostgreSQL).
        wal_bytes: The ``-wal`` file (SQLite); ``None`` on PostgreSQL, whose WAL is
            the whole server's.
        free_bytes: Free pages ``VACUUM`` would return (SQLite's freelist); ``None``
            on PostgreSQL.
        dead_tuples: Dead rows per table awaiting ``VACUUM`` (PostgreSQL's
            ``pg_stat_user_tables``); ``None`` on SQLite.
    """

    engine: str
    database_bytes: int
    wal_bytes: int | None
    free_bytes: int | None
    dead_tuples: dict[str, int] | None


@dataclass(frozen=True, slots=True)
class Compaction:
    """Sizes (as :attr:`StorageInfo.database_bytes`) before and after compaction."""

    bytes_before: int
    bytes_after: int


class MaintenanceOperations(Protocol):
    """Health checks, repair steps, pruning, compaction and statistics.

    Checks are read-only (they work on a store opened ``read_only=True``); repair
    steps write, and a caller groups them in one ``transaction()``.
    """

    #: ``"sqlite"`` or ``"postgresql"``.
    engine: str

    # -- checks ------------------------------------------------------------------
    def integrity_check(self) -> list[str]:
        """The engine's page-level check: ``["ok"]`` when healthy, else its messages.

        Empty when the engine has none that threadloom runs (PostgreSQL checks its
        own pages; see :meth:`invalid_indexes`).

        Raises:
            StoreBusy: The database stayed locked past the busy timeout.
        """

    def foreign_key_violations(self) -> dict[str, int]:
        """Rows whose foreign key names a missing row, per table (empty when none)."""

    def find_orphans(self) -> Orphans:
        """Rows of :data:`CHILD_TABLES` whose thread does not exist."""

    def find_bad_leaves(self) -> dict[str, object]:
        """Threads whose ``current_leaf_id`` is not one of their messages: the value."""

    def existing_threads(self, thread_ids: Collection[str]) -> set[str]:
        """Which of ``thread_ids`` this database holds."""

    def find_stale_archived(self) -> list[str]:
        """Unarchived threads still marked ``status = 'archived'``, by id."""

    def invalid_indexes(self) -> list[str]:
        """Indexes the engine marked invalid (PostgreSQL: a failed ``CREATE INDEX
        CONCURRENTLY`` or ``REINDEX``; never any on SQLite, whose index damage
        :meth:`integrity_check` reports)."""

    # -- repair steps ------------------------------------------------------------
    def delete_orphans(self) -> dict[str, int]:
        """Delete the rows :meth:`find_orphans` finds; how many per table."""

    def reset_bad_leaves(self, thread_ids: Collection[str]) -> dict[str, int | None]:
        """Point each thread whose leaf is still bad at its newest branch tip (or none).

        Returns:
            The new leaf of each thread reset (threads fixed meanwhile are left out).
        """

    def reset_stale_archived(self, thread_ids: Collection[str]) -> list[str]:
        """Set ``status = 'idle'`` where a thread is still unarchived but ``archived``."""

    def rebuild_indexes(self, names: Collection[str]) -> list[str]:
        """``REINDEX`` the named indexes, one at a time; those rebuilt.

        Raises:
            Conflict: An index cannot be rebuilt over the rows as they are (a unique
                index over duplicates).
        """

    def checkpoint_wal(self) -> int | None:
        """Fold the WAL into the database and truncate it; its size after (SQLite).

        ``None`` where the engine keeps no WAL of its own (PostgreSQL).
        """

    def compact(self) -> Compaction:
        """Return free space (SQLite ``VACUUM``; PostgreSQL ``VACUUM (ANALYZE)`` of
        the schema's tables), outside any transaction.

        Raises:
            StoreBusy: Another connection held a conflicting lock past the busy timeout.
            ReadOnlyStore: The store was opened read-only.
            ThreadloomError: Called inside a transaction.
        """

    # -- selection and statistics -----------------------------------------------
    def select_threads(
        self,
        *,
        updated_before: int | None,
        archived_only: bool,
        statuses: Collection[str],
    ) -> list[ThreadMetadata]:
        """Threads matching every given criterion, newest first (``prune``'s choice)."""

    def thread_counts(self, thread_ids: Iterable[str]) -> dict[str, ThreadCounts]:
        """Message and branch counts per thread, counted by the engine (zero if none)."""

    def table_stats(self) -> list[TableStats]:
        """Every table of the database (or schema), by name."""

    def largest_threads(self, top: int) -> list[ThreadSize]:
        """The ``top`` threads with the most stored message text, largest first."""

    def storage_info(self) -> StorageInfo:
        """Sizes, WAL, free pages or dead tuples."""
