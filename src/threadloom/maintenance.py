"""Health checks, repairs, pruning and statistics of a store (the CLI's engine room).

Everything here is UI-free so scripts and other commands can reuse it, and written
only against the backend contract (:class:`~threadloom.contract.MaintenanceOperations`):
each backend runs its own checks (SQLite: ``integrity_check``, foreign keys, the WAL
and free pages; PostgreSQL: index validity, sizes from the catalog, dead tuples), and
the reports have the same keys on both, ``None`` or empty where an engine has no
such value.

The orphans are the original's legacy: the seed version never enabled foreign keys, so
``delete_thread`` left a deleted thread's messages, checkpoints, tools and goal behind.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from .contract import CHILD_TABLES, StorageInfo, TableStats, ThreadCounts
from .errors import InvalidRecord
from .records import ThreadMetadata
from .session_index import IndexHealth
from .store import StateStore

__all__ = [
    "CHILD_TABLES",
    "MAX_AGE_DAYS",
    "DoctorReport",
    "RepairReport",
    "StatsReport",
    "TableStats",
    "ThreadCounts",
    "diagnose",
    "prune_threads",
    "repair",
    "select_threads_to_prune",
    "stats",
    "thread_counts",
    "vacuum",
]


# -- per-thread counts ---------------------------------------------------------------


def thread_counts(store: StateStore, thread_ids: Iterable[str]) -> dict[str, ThreadCounts]:
    """Message and branch counts for several threads, counted by the backend."""
    return store.backend.thread_counts(thread_ids)


# -- doctor ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DoctorReport:
    """What :func:`diagnose` found. ``problems()`` lists what :func:`repair` would fix.

    Attributes:
        location: The database.
        sqlite: Whether the database is SQLite (kept for scripts; see ``backend``).
        schema_version: ``PRAGMA user_version`` (the original's meaning).
        pending_steps: Schema steps not yet applied.
        integrity: The engine's page check (SQLite ``integrity_check``: ``["ok"]``
            when healthy); empty where threadloom runs none (PostgreSQL).
        foreign_key_violations: Rows ``foreign_key_check`` reports, per table (empty
            on PostgreSQL, whose server enforces them).
        orphans: Rows of a missing thread, per table.
        orphan_threads: The missing thread ids those rows name.
        bad_leaves: Threads whose ``current_leaf_id`` is not one of their messages.
        stale_archived_status: Unarchived threads still marked ``archived`` (seed bug).
        index: Session-index health.
        index_deleted_threads: Threads this database deleted that the index still
            names; :func:`repair` drops their entries. Not a problem: a plain delete
            leaves them.
        index_other_threads: Threads the index names that this database neither holds
            nor deleted itself: another database in the folder shares the file, the
            original deleted them (it never records that), or a name was appended
            without a thread. Their entries are never dropped.
        wal_bytes: Size of the ``-wal`` file (``None`` on PostgreSQL).
        db_bytes: Size of the database file (PostgreSQL: the schema's tables and
            indexes).
        error: Why the database could not be checked at all (it could not be opened:
            missing, empty, not a database, unreachable); the other fields are then
            empty.
        backend: ``"sqlite"`` or ``"postgresql"`` (``None`` when it could not be
            opened).
        invalid_indexes: Indexes the engine marked invalid (PostgreSQL).
        free_bytes: Free pages ``VACUUM`` would return (SQLite).
        dead_tuples: Dead rows per table awaiting ``VACUUM`` (PostgreSQL).
    """

    location: str
    sqlite: bool
    schema_version: int
    pending_steps: list[str]
    integrity: list[str] = field(default_factory=list)
    foreign_key_violations: dict[str, int] = field(default_factory=dict)
    orphans: dict[str, int] = field(default_factory=dict)
    orphan_threads: list[str] = field(default_factory=list)
    bad_leaves: dict[str, Any] = field(default_factory=dict)
    stale_archived_status: list[str] = field(default_factory=list)
    index: IndexHealth | None = None
    index_deleted_threads: list[str] = field(default_factory=list)
    index_other_threads: list[str] = field(default_factory=list)
    wal_bytes: int | None = 0
    db_bytes: int = 0
    error: str | None = None
    backend: str | None = None
    invalid_indexes: list[str] = field(default_factory=list)
    free_bytes: int | None = None
    dead_tuples: dict[str, int] | None = None

    @classmethod
    def unreadable(cls, location: str, reason: str, backend: str | None = None) -> DoctorReport:
        """The report on a database that could not be opened, saying why."""
        return cls(
            location=location,
            sqlite=backend == "sqlite",
            schema_version=0,
            pending_steps=[],
            error=reason,
            backend=backend,
        )

    @property
    def damaged(self) -> bool:
        """Whether the database failed its integrity check (``repair`` cannot fix that)."""
        return bool(self.integrity and self.integrity != ["ok"])

    @property
    def fatal(self) -> bool:
        """Whether the database could not be opened or is damaged."""
        return self.error is not None or self.damaged

    @property
    def index_superseded_lines(self) -> int:
        """Index lines that compaction would drop (older entries of the same thread)."""
        if self.index is None:
            return 0
        return max(0, self.index.lines - self.index.skipped_lines - self.index.threads)

    def problems(self) -> list[str]:
        """One line per problem found (empty when healthy)."""
        out: list[str] = []
        if self.error is not None:
            out.append(f"cannot be checked: {self.error}")
        if self.pending_steps:
            out.append(f"pending schema steps: {', '.join(self.pending_steps)}")
        if self.damaged:
            found = "; ".join(line.replace("\n", " ") for line in self.integrity[:5])
            more = len(self.integrity) - 5
            out.append(
                f"integrity check failed: {found}" + (f" (and {more} more)" if more > 0 else "")
            )
        for table, count in self.orphans.items():
            if count:
                out.append(f"{count} orphan row(s) in {table} (of deleted threads)")
        for thread_id, leaf in self.bad_leaves.items():
            out.append(f"thread {thread_id}: current_leaf_id {leaf!r} is not one of its messages")
        for thread_id in self.stale_archived_status:
            out.append(f"thread {thread_id}: status 'archived' but not archived")
        for name in self.invalid_indexes:
            out.append(f"index {name} is invalid (a failed build): queries do not use it")
        if self.index is not None:
            if self.index.skipped_lines:
                out.append(f"session index: {self.index.skipped_lines} corrupt or torn line(s)")
            if self.index.torn_tail:
                out.append("session index: the last line is unfinished")
        # Entries of deleted or unknown threads are no problem: the original keeps its
        # deleted threads' names, and other databases in the folder share the file.
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (``--json``); the same keys on every backend."""
        index = None
        if self.index is not None:
            index = {
                "location": self.index.location,
                "lines": self.index.lines,
                "threads": self.index.threads,
                "skipped_lines": self.index.skipped_lines,
                "torn_tail": self.index.torn_tail,
                "size_bytes": self.index.size_bytes,
                "superseded_lines": self.index_superseded_lines,
                "deleted_threads": self.index_deleted_threads,
                "other_threads": self.index_other_threads,
            }
        return {
            "location": self.location,
            "backend": self.backend,
            "sqlite": self.sqlite,
            "schema_version": self.schema_version,
            "pending_steps": self.pending_steps,
            "integrity": self.integrity,
            "foreign_key_violations": self.foreign_key_violations,
            "orphans": self.orphans,
            "orphan_threads": self.orphan_threads,
            "bad_leaves": self.bad_leaves,
            "stale_archived_status": self.stale_archived_status,
            "invalid_indexes": self.invalid_indexes,
            "session_index": index,
            "wal_bytes": self.wal_bytes,
            "db_bytes": self.db_bytes,
            "free_bytes": self.free_bytes,
            "dead_tuples": self.dead_tuples,
            "error": self.error,
            "damaged": self.damaged,
            "problems": self.problems(),
        }


def _storage_fields(storage: StorageInfo) -> dict[str, Any]:
    return {
        "sqlite": storage.engine == "sqlite",
        "backend": storage.engine,
        "wal_bytes": storage.wal_bytes,
        "db_bytes": storage.database_bytes,
        "free_bytes": storage.free_bytes,
        "dead_tuples": storage.dead_tuples,
    }


def diagnose(store: StateStore) -> DoctorReport:
    """Run every health check; read-only (open the store ``read_only=True``).

    A damaged file (the integrity check fails) is reported with the engine's
    messages, and the checks that would read through the damaged pages are skipped.

    Raises:
        ThreadloomError: The database cannot be read.
    """
    backend = store.backend
    info = store.schema_info()
    report = DoctorReport(
        location=backend.location,
        schema_version=info.schema_version,
        pending_steps=[step.name for step in info.pending],
        integrity=backend.integrity_check(),
        index=store.session_index_health(),
        **_storage_fields(backend.storage_info()),
    )
    if report.damaged:
        # The other checks read through the damaged pages: they would fail or mislead.
        return report
    indexed = {entry.thread_id for entry in store.session_index_entries()}
    with store.snapshot():
        orphans = backend.find_orphans()
        report = replace(
            report,
            foreign_key_violations=backend.foreign_key_violations(),
            orphans=orphans.rows,
            orphan_threads=list(orphans.thread_ids),
            bad_leaves=backend.find_bad_leaves(),
            stale_archived_status=backend.find_stale_archived(),
            invalid_indexes=backend.invalid_indexes(),
        )
        existing = backend.existing_threads(indexed)
    deleted = backend.deleted_threads(indexed - existing)
    return replace(
        report,
        index_deleted_threads=sorted(deleted),
        index_other_threads=sorted(indexed - existing - deleted),
    )


# -- repair ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What :func:`repair` changed (``wal_bytes_*`` are ``None`` on PostgreSQL)."""

    migrated: list[str] = field(default_factory=list)
    orphans_deleted: dict[str, int] = field(default_factory=dict)
    leaves_reset: dict[str, int | None] = field(default_factory=dict)
    statuses_reset: list[str] = field(default_factory=list)
    index_lines_before: int = 0
    index_lines_after: int = 0
    index_threads_dropped: list[str] = field(default_factory=list)
    wal_bytes_before: int | None = 0
    wal_bytes_after: int | None = 0
    indexes_rebuilt: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "migrated": self.migrated,
            "orphans_deleted": self.orphans_deleted,
            "leaves_reset": self.leaves_reset,
            "statuses_reset": self.statuses_reset,
            "indexes_rebuilt": self.indexes_rebuilt,
            "index_lines_before": self.index_lines_before,
            "index_lines_after": self.index_lines_after,
            "index_threads_dropped": self.index_threads_dropped,
            "wal_bytes_before": self.wal_bytes_before,
            "wal_bytes_after": self.wal_bytes_after,
        }


def repair(store: StateStore, report: DoctorReport) -> RepairReport:
    """Fix what :func:`diagnose` found, database first (one transaction), then the index.

    Orphans are deleted; a current leaf that is not one of the thread's messages is
    reset to the thread's newest branch tip (or none); ``status = 'archived'`` on an
    unarchived thread becomes ``idle``; invalid indexes are rebuilt; the session index
    is compacted, dropping the entries of the threads this database deleted (and no
    other database in the folder holds) and no other; the WAL is checkpointed and
    truncated (SQLite).

    Raises:
        StoreBusy: Another writer held the database past the busy timeout.
        Conflict: An invalid index cannot be rebuilt over the rows as they are.
    """
    backend = store.backend
    migrated = [step.name for step in store.migrate()]
    with store.transaction():
        deleted = backend.delete_orphans()
        leaves = backend.reset_bad_leaves(list(report.bad_leaves))
        statuses = backend.reset_stale_archived(report.stale_archived_status)
    rebuilt = backend.rebuild_indexes(report.invalid_indexes)
    # Decided again under the index's lock, not taken from the report: a thread
    # re-created since keeps its entries.
    result = store.compact_session_index(drop_deleted=True)
    wal_after = backend.checkpoint_wal()
    return RepairReport(
        migrated=migrated,
        orphans_deleted=deleted,
        leaves_reset=leaves,
        statuses_reset=statuses,
        index_lines_before=result.lines_before,
        index_lines_after=result.lines_after,
        index_threads_dropped=list(result.dropped_threads),
        wal_bytes_before=report.wal_bytes,
        wal_bytes_after=wal_after,
        indexes_rebuilt=rebuilt,
    )


# -- prune -------------------------------------------------------------------------

#: The largest age prune takes (~2,700 years): beyond it no 64-bit timestamp is older
#: than the cutoff, and ``days * 86400`` stays an exact integer.
MAX_AGE_DAYS = 1_000_000


def select_threads_to_prune(
    store: StateStore,
    *,
    older_than_days: float | None = None,
    archived: bool = False,
    statuses: Iterable[str] = (),
    now: int | None = None,
) -> list[ThreadMetadata]:
    """Threads matching every given criterion (none given selects nothing).

    Args:
        store: The store.
        older_than_days: Last updated more than this many days ago.
        archived: Archived threads only.
        statuses: Threads with one of these statuses.
        now: The current time (tests pin it).

    Raises:
        InvalidRecord: ``older_than_days`` is negative, not finite, or so large that no
            timestamp can be older.
    """
    if older_than_days is not None and (
        isinstance(older_than_days, bool)
        or not isinstance(older_than_days, int | float)
        or not math.isfinite(older_than_days)
        or not 0 <= older_than_days <= MAX_AGE_DAYS
    ):
        raise InvalidRecord(
            f"older_than_days must be a finite number of days from 0 to {MAX_AGE_DAYS:,}, "
            f"got {older_than_days!r}"
        )
    wanted = set(statuses)
    if older_than_days is None and not archived and not wanted:
        return []
    cutoff = None
    if older_than_days is not None:
        cutoff = (int(time.time()) if now is None else now) - int(older_than_days * 86400)
    return store.backend.select_threads(
        updated_before=cutoff, archived_only=archived, statuses=wanted
    )


def prune_threads(
    store: StateStore,
    thread_ids: Iterable[str],
    progress: Callable[[str], None] | None = None,
) -> int:
    """Delete threads one transaction each (an interrupt leaves whole threads only).

    Returns:
        How many threads were deleted.
    """
    count = 0
    for thread_id in thread_ids:
        if store.delete_thread(thread_id):
            count += 1
        if progress is not None:
            progress(thread_id)
    return count


def vacuum(store: StateStore) -> tuple[int, int]:
    """Compact the database (SQLite: WAL checkpoint and ``VACUUM``; PostgreSQL:
    ``VACUUM (ANALYZE)``); its size before and after.

    Raises:
        StoreBusy: Another connection held a conflicting lock past the busy timeout.
        ReadOnlyStore: The store was opened read-only.
    """
    done = store.backend.compact()
    return done.bytes_before, done.bytes_after


# -- stats -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatsReport:
    """Counts and sizes of a store (the same keys on every backend).

    Attributes:
        location: The database.
        tables: Rows and sizes per table.
        largest_threads: ``id``, ``name``, ``messages`` and text ``bytes`` of the
            largest threads.
        files: ``database`` (PostgreSQL: the schema's tables and indexes), ``wal``
            (``None`` on PostgreSQL) and ``session_index`` bytes.
        storage: The engine, its free pages (SQLite) or dead tuples (PostgreSQL).
    """

    location: str
    tables: list[TableStats]
    largest_threads: list[dict[str, Any]]
    files: dict[str, int | None]
    storage: StorageInfo | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        storage = self.storage
        return {
            "location": self.location,
            "backend": None if storage is None else storage.engine,
            "tables": [
                {"name": t.name, "rows": t.rows, "bytes": t.bytes, "index_bytes": t.index_bytes}
                for t in self.tables
            ],
            "largest_threads": self.largest_threads,
            "files": self.files,
            "free_bytes": None if storage is None else storage.free_bytes,
            "dead_tuples": None if storage is None else storage.dead_tuples,
        }


def stats(store: StateStore, top: int = 5) -> StatsReport:
    """Row counts and sizes per table, the largest threads, file sizes."""
    backend = store.backend
    with store.snapshot():
        tables = backend.table_stats()
        largest = [
            {"id": t.id, "name": t.name, "messages": t.messages, "bytes": t.bytes}
            for t in backend.largest_threads(top)
        ]
    storage = backend.storage_info()
    files: dict[str, int | None] = {
        "database": storage.database_bytes,
        "wal": storage.wal_bytes,
        "session_index": store.session_index_health().size_bytes,
    }
    return StatsReport(backend.location, tables, largest, files, storage)
