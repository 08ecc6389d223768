"""Health checks, repairs, pruning and statistics of a store (the CLI's engine room).

Everything here is UI-free so scripts and other commands can reuse it. The checks
that look below the store API (``integrity_check``, foreign keys, orphans, the WAL)
exist for the embedded SQLite backend only; on other backends :func:`diagnose` reports
what the public API can see and says the rest is not available.

The orphans are the original's legacy: the seed version never enabled foreign keys, so
``delete_thread`` left a deleted thread's messages, checkpoints, tools and goal behind.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backends.sqlite import SqliteBackend
from .backends.sqlite.connection import translate_errors
from .errors import InvalidRecord
from .records import ThreadMetadata
from .session_index import IndexHealth
from .store import StateStore

__all__ = [
    "CHILD_TABLES",
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

#: Tables whose rows belong to a thread (``thread_id``) and were orphaned by the seed.
CHILD_TABLES = ("messages", "checkpoints", "thread_dynamic_tools", "thread_goals")


def _sqlite(store: StateStore) -> SqliteBackend | None:
    backend = store.backend
    return backend if isinstance(backend, SqliteBackend) else None


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# -- per-thread counts ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThreadCounts:
    """Messages and branches (leaf messages) of one thread."""

    messages: int = 0
    branches: int = 0


def thread_counts(store: StateStore, thread_ids: Iterable[str]) -> dict[str, ThreadCounts]:
    """Message and branch counts for several threads (one query each on SQLite)."""
    ids = list(thread_ids)
    out = {thread_id: ThreadCounts() for thread_id in ids}
    backend = _sqlite(store)
    if backend is None:
        for thread_id in ids:
            out[thread_id] = ThreadCounts(
                len(store.list_all_messages(thread_id)), len(store.list_leaf_messages(thread_id))
            )
        return out
    conn = backend.connection()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            "SELECT m.thread_id, COUNT(*), SUM(NOT EXISTS (SELECT 1 FROM messages c "
            f"WHERE c.parent_entry_id = m.id)) FROM messages m WHERE m.thread_id IN ({marks}) "
            "GROUP BY m.thread_id",
            chunk,
        ).fetchall()
        for thread_id, messages, branches in rows:
            out[thread_id] = ThreadCounts(int(messages), int(branches or 0))
    return out


# -- doctor ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DoctorReport:
    """What :func:`diagnose` found. ``problems()`` lists what :func:`repair` would fix.

    Attributes:
        location: The database.
        sqlite: Whether the SQLite-only checks ran.
        schema_version: ``PRAGMA user_version`` (the original's meaning).
        pending_steps: Schema steps not yet applied.
        integrity: ``integrity_check`` messages (``["ok"]`` when healthy).
        foreign_key_violations: Rows ``foreign_key_check`` reports, per table.
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
        wal_bytes: Size of the ``-wal`` file.
        db_bytes: Size of the database file.
        error: Why the database could not be checked at all (it could not be opened:
            missing, empty, not a database, unreachable); the other fields are then
            empty.
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
    wal_bytes: int = 0
    db_bytes: int = 0
    error: str | None = None

    @classmethod
    def unreadable(cls, location: str, reason: str) -> DoctorReport:
        """The report on a database that could not be opened, saying why."""
        return cls(
            location=location, sqlite=False, schema_version=0, pending_steps=[], error=reason
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
        if self.integrity and self.integrity != ["ok"]:
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
        if self.index is not None:
            if self.index.skipped_lines:
                out.append(f"session index: {self.index.skipped_lines} corrupt or torn line(s)")
            if self.index.torn_tail:
                out.append("session index: the last line is unfinished")
        # Entries of deleted or unknown threads are no problem: the original keeps its
        # deleted threads' names, and other databases in the folder share the file.
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (``--json``)."""
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
            "sqlite": self.sqlite,
            "schema_version": self.schema_version,
            "pending_steps": self.pending_steps,
            "integrity": self.integrity,
            "foreign_key_violations": self.foreign_key_violations,
            "orphans": self.orphans,
            "orphan_threads": self.orphan_threads,
            "bad_leaves": self.bad_leaves,
            "stale_archived_status": self.stale_archived_status,
            "session_index": index,
            "wal_bytes": self.wal_bytes,
            "db_bytes": self.db_bytes,
            "error": self.error,
            "damaged": self.damaged,
            "problems": self.problems(),
        }


def _thread_ids(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT id FROM threads")}


def _integrity_check(conn: sqlite3.Connection, path: Path) -> list[str]:
    """``integrity_check``'s messages; when SQLite cannot even finish it, why."""
    try:
        return [str(row[0]) for row in conn.execute("PRAGMA integrity_check")]
    except sqlite3.OperationalError:
        # Locked or unreadable is not damage: say what it is.
        with translate_errors("failed to run integrity_check", path):
            raise
    except sqlite3.DatabaseError as exc:
        # SQLITE_CORRUPT / SQLITE_NOTADB: pages so damaged that the check stops.
        return [f"SQLite stopped the check: {exc}"]


def diagnose(store: StateStore) -> DoctorReport:
    """Run every health check; read-only (open the store ``read_only=True``).

    A damaged file (``integrity_check`` fails) is reported with SQLite's messages, and
    the checks that would read through the damaged pages are skipped.

    Raises:
        ThreadloomError: The database cannot be read.
    """
    info = store.schema_info()
    pending = [step.name for step in info.pending]
    index = store.session_index_health()
    indexed = {entry.thread_id for entry in store.session_index_entries()}
    backend = _sqlite(store)
    if backend is None:
        existing = {t.id for t in store.iter_threads(include_archived=True)}
        deleted = store.backend.deleted_threads(indexed - existing)
        return DoctorReport(
            location=store.backend.location,
            sqlite=False,
            schema_version=info.schema_version,
            pending_steps=pending,
            index=index,
            index_deleted_threads=sorted(deleted),
            index_other_threads=sorted(indexed - existing - deleted),
        )
    conn = backend.connection()
    integrity = _integrity_check(conn, backend.path)
    if integrity != ["ok"]:
        # The other checks read through the damaged pages: they would fail or mislead.
        return DoctorReport(
            location=backend.location,
            sqlite=True,
            schema_version=info.schema_version,
            pending_steps=pending,
            integrity=integrity,
            index=index,
            wal_bytes=_file_size(Path(str(backend.path) + "-wal")),
            db_bytes=_file_size(backend.path),
        )
    with store.snapshot():
        fk: dict[str, int] = {}
        for row in conn.execute("PRAGMA foreign_key_check"):
            fk[row[0]] = fk.get(row[0], 0) + 1
        orphans: dict[str, int] = {}
        orphan_threads: set[str] = set()
        for table in CHILD_TABLES:
            rows = conn.execute(
                f"SELECT thread_id, COUNT(*) FROM {table} "
                "WHERE thread_id NOT IN (SELECT id FROM threads) GROUP BY thread_id"
            ).fetchall()
            orphans[table] = sum(int(r[1]) for r in rows)
            orphan_threads.update(r[0] for r in rows)
        bad_leaves = {
            row[0]: row[1]
            for row in conn.execute(
                "SELECT t.id, t.current_leaf_id FROM threads t WHERE t.current_leaf_id IS NOT NULL "
                "AND (typeof(t.current_leaf_id) != 'integer' OR NOT EXISTS (SELECT 1 FROM "
                "messages m WHERE m.id = t.current_leaf_id AND m.thread_id = t.id))"
            )
        }
        stale = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM threads WHERE status = 'archived' AND archived = 0 ORDER BY id"
            )
        ]
        existing = _thread_ids(conn)
    deleted = backend.deleted_threads(indexed - existing)
    return DoctorReport(
        location=backend.location,
        sqlite=True,
        schema_version=info.schema_version,
        pending_steps=pending,
        integrity=integrity,
        foreign_key_violations=fk,
        orphans=orphans,
        orphan_threads=sorted(orphan_threads),
        bad_leaves=bad_leaves,
        stale_archived_status=stale,
        index=index,
        index_deleted_threads=sorted(deleted),
        index_other_threads=sorted(indexed - existing - deleted),
        wal_bytes=_file_size(Path(str(backend.path) + "-wal")),
        db_bytes=_file_size(backend.path),
    )


# -- repair ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What :func:`repair` changed."""

    migrated: list[str] = field(default_factory=list)
    orphans_deleted: dict[str, int] = field(default_factory=dict)
    leaves_reset: dict[str, int | None] = field(default_factory=dict)
    statuses_reset: list[str] = field(default_factory=list)
    index_lines_before: int = 0
    index_lines_after: int = 0
    index_threads_dropped: list[str] = field(default_factory=list)
    wal_bytes_before: int = 0
    wal_bytes_after: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "migrated": self.migrated,
            "orphans_deleted": self.orphans_deleted,
            "leaves_reset": self.leaves_reset,
            "statuses_reset": self.statuses_reset,
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
    unarchived thread becomes ``idle``; the session index is compacted, dropping the
    entries of the threads this database deleted (and no other database in the folder
    holds) and no other; the WAL is checkpointed and truncated.
    """
    migrated = [step.name for step in store.migrate()]
    backend = _sqlite(store)
    deleted: dict[str, int] = {}
    leaves: dict[str, int | None] = {}
    statuses: list[str] = []
    wal_before = report.wal_bytes
    if backend is not None:
        with backend.write("failed to repair the database") as conn:
            conn.execute(
                "UPDATE threads SET current_leaf_id = NULL WHERE current_leaf_id IS NOT NULL "
                "AND typeof(current_leaf_id) != 'integer'"
            )
            for table in CHILD_TABLES:
                deleted[table] = conn.execute(
                    f"DELETE FROM {table} WHERE thread_id NOT IN (SELECT id FROM threads)"
                ).rowcount
            for thread_id in report.bad_leaves:
                row = conn.execute(
                    "SELECT m.id FROM messages m WHERE m.thread_id = ? AND NOT EXISTS "
                    "(SELECT 1 FROM messages c WHERE c.parent_entry_id = m.id) "
                    "ORDER BY m.created_at DESC, m.id DESC LIMIT 1",
                    (thread_id,),
                ).fetchone()
                leaf = None if row is None else int(row[0])
                conn.execute(
                    "UPDATE threads SET current_leaf_id = ? WHERE id = ?", (leaf, thread_id)
                )
                leaves[thread_id] = leaf
            for thread_id in report.stale_archived_status:
                conn.execute(
                    "UPDATE threads SET status = 'idle' WHERE id = ? AND archived = 0 "
                    "AND status = 'archived'",
                    (thread_id,),
                )
                statuses.append(thread_id)
    # Decided again under the index's lock, not taken from the report: a thread
    # re-created since keeps its entries.
    result = store.compact_session_index(drop_deleted=True)
    wal_after = wal_before
    if backend is not None:
        backend.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        wal_after = _file_size(Path(str(backend.path) + "-wal"))
    return RepairReport(
        migrated=migrated,
        orphans_deleted=deleted,
        leaves_reset=leaves,
        statuses_reset=statuses,
        index_lines_before=result.lines_before,
        index_lines_after=result.lines_after,
        index_threads_dropped=list(result.dropped_threads),
        wal_bytes_before=wal_before,
        wal_bytes_after=wal_after,
    )


# -- prune -------------------------------------------------------------------------

#: The largest age prune takes (~2,700 years): beyond it no 64-bit timestamp is older
#: than the cutoff, and ``days * 86400`` stays an exact integer.
_MAX_AGE_DAYS = 1_000_000


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
        or not 0 <= older_than_days <= _MAX_AGE_DAYS
    ):
        raise InvalidRecord(
            f"older_than_days must be a finite number of days from 0 to {_MAX_AGE_DAYS:,}, "
            f"got {older_than_days!r}"
        )
    wanted = set(statuses)
    if older_than_days is None and not archived and not wanted:
        return []
    cutoff = None
    if older_than_days is not None:
        cutoff = (int(time.time()) if now is None else now) - int(older_than_days * 86400)
    selected = []
    for thread in store.iter_threads(include_archived=True):
        if cutoff is not None and thread.updated_at >= cutoff:
            continue
        if archived and not thread.archived:
            continue
        if wanted and thread.status.value not in wanted:
            continue
        selected.append(thread)
    return selected


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
    """Checkpoint the WAL and ``VACUUM`` (SQLite); file size before and after."""
    backend = _sqlite(store)
    if backend is None:
        return (0, 0)
    before = _file_size(backend.path)
    conn = backend.connection()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return before, _file_size(backend.path)


# -- stats -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TableStats:
    """Rows and bytes (``None`` when the engine cannot tell) of one table."""

    name: str
    rows: int
    bytes: int | None


@dataclass(frozen=True, slots=True)
class StatsReport:
    """Counts and sizes of a store."""

    location: str
    tables: list[TableStats]
    largest_threads: list[dict[str, Any]]
    files: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "location": self.location,
            "tables": [{"name": t.name, "rows": t.rows, "bytes": t.bytes} for t in self.tables],
            "largest_threads": self.largest_threads,
            "files": self.files,
        }


def stats(store: StateStore, top: int = 5) -> StatsReport:
    """Row counts and sizes per table, the largest threads, file sizes."""
    backend = _sqlite(store)
    if backend is None:
        threads = list(store.iter_threads(include_archived=True))
        counts = thread_counts(store, [t.id for t in threads])
        biggest = sorted(counts.items(), key=lambda kv: -kv[1].messages)[:top]
        return StatsReport(
            location=store.backend.location,
            tables=[TableStats("threads", len(threads), None)],
            largest_threads=[
                {"id": tid, "messages": c.messages, "bytes": None} for tid, c in biggest
            ],
            files={},
        )
    conn = backend.connection()
    with store.snapshot():
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        sizes: dict[str, int] = {}
        try:
            # dbstat is compiled into most SQLite builds but not all: sizes are optional.
            for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
                sizes[name] = int(size)
        except sqlite3.OperationalError:
            pass
        tables = [
            TableStats(
                name,
                int(conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]),
                sizes.get(name) if sizes else None,
            )
            for name in names
        ]
        largest = [
            {"id": row[0], "name": row[1], "messages": int(row[2]), "bytes": int(row[3])}
            for row in conn.execute(
                "SELECT m.thread_id, t.title, COUNT(*), SUM(LENGTH(CAST(m.content AS BLOB)) "
                "+ COALESCE(LENGTH(CAST(m.item_json AS BLOB)), 0)) AS size FROM messages m "
                "JOIN threads t ON t.id = m.thread_id GROUP BY m.thread_id "
                "ORDER BY size DESC LIMIT ?",
                (top,),
            )
        ]
    path = backend.path
    index_path = Path(store.session_index_health().location)
    files = {
        "database": _file_size(path),
        "wal": _file_size(Path(str(path) + "-wal")),
        "session_index": _file_size(index_path),
    }
    return StatsReport(backend.location, tables, largest, files)
