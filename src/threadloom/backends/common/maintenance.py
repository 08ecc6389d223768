"""Maintenance queries both backends run: one shape each, a small dialect for the rest.

:class:`SharedMaintenance` implements the parts of
:class:`~threadloom.contract.MaintenanceOperations` whose SQL differs between SQLite
and PostgreSQL only in what :class:`MaintenanceDialect` names (placeholders, how a
byte length is taken, the insertion-order column, how stored text is escaped). The
engine's own checks (integrity, sizes, compaction) stay in each backend's
``maintenance`` module.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ...contract.maintenance import CHILD_TABLES, Orphans, TableStats, ThreadCounts, ThreadSize
from ...records import ThreadMetadata
from .rows import THREAD_COLUMNS, chunks

__all__ = ["Executor", "MaintenanceDialect", "SharedMaintenance", "quote_identifier"]


class Cursor(Protocol):
    """The part of a DB-API cursor the shared queries use."""

    @property
    def rowcount(self) -> int: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


class Executor(Protocol):
    """A connection that runs one statement (``sqlite3`` and ``psycopg`` both do)."""

    def execute(self, sql: str, params: Any = ..., /) -> Cursor: ...


@dataclass(frozen=True, slots=True)
class MaintenanceDialect:
    """What the shared maintenance queries need to know about an engine.

    Attributes:
        placeholder: The parameter marker (``?`` or ``%s``).
        insertion_order: The column that orders rows by insertion (``rowid``, ``seq``).
        leaf_not_integer: A predicate true when ``t.current_leaf_id`` holds something
            other than an integer (SQLite's columns accept any type; ``FALSE`` where
            the column is typed).
        byte_length: A template taking a column and giving its stored size in bytes.
        reindex: The statement that rebuilds one index, before its quoted name.
        encode: A text parameter as the engine stores it.
        decode: A row as read, with the stored texts restored.
        thread: A ``THREAD_COLUMNS`` row as a record.
    """

    placeholder: str
    insertion_order: str
    leaf_not_integer: str
    byte_length: str
    reindex: str
    encode: Callable[[str], str]
    decode: Callable[[Sequence[Any]], tuple[Any, ...]]
    thread: Callable[[Sequence[Any]], ThreadMetadata]

    def marks(self, count: int) -> str:
        """``count`` placeholders, comma-separated."""
        return ", ".join([self.placeholder] * count)


def quote_identifier(name: str) -> str:
    """A table or index name as a quoted SQL identifier (the same on both engines)."""
    return '"' + name.replace('"', '""') + '"'


_ORPHANS = (
    "SELECT c.thread_id, COUNT(*) FROM {table} c "
    "WHERE NOT EXISTS (SELECT 1 FROM threads t WHERE t.id = c.thread_id) GROUP BY c.thread_id"
)
_DELETE_ORPHANS = (
    "DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM threads t WHERE t.id = {table}.thread_id)"
)
_BAD_LEAF = (
    "t.current_leaf_id IS NOT NULL AND ({not_integer} OR NOT EXISTS (SELECT 1 FROM messages m "
    "WHERE m.id = t.current_leaf_id AND m.thread_id = t.id))"
)
# A tip is a message without children; the newest wins, ties to the larger id.
_NEWEST_TIP = (
    "SELECT m.id FROM messages m WHERE m.thread_id = {p} AND NOT EXISTS "
    "(SELECT 1 FROM messages c WHERE c.parent_entry_id = m.id) "
    "ORDER BY m.created_at DESC, m.id DESC LIMIT 1"
)
_IS_LEAF = "CASE WHEN NOT EXISTS (SELECT 1 FROM messages c WHERE c.parent_entry_id = m.id) THEN 1 ELSE 0 END"
_COUNTS = (
    f"SELECT m.thread_id, COUNT(*), SUM({_IS_LEAF}) FROM messages m "
    "WHERE m.thread_id IN ({marks}) GROUP BY m.thread_id"
)
_LARGEST = (
    "SELECT m.thread_id, t.title, COUNT(*), "
    "SUM({content} + COALESCE({item}, 0)) AS size FROM messages m "
    "JOIN threads t ON t.id = m.thread_id GROUP BY m.thread_id, t.title "
    "ORDER BY size DESC, m.thread_id LIMIT {p}"
)
#: Ids per ``IN (...)`` list: below SQLite's oldest default parameter limit (999).


class SharedMaintenance:
    """The dialect-independent maintenance operations of a backend.

    A backend class inherits it after ``TransactionalBackend`` (which supplies
    ``read`` and ``write``) and sets :attr:`_maintenance_dialect`.
    """

    _maintenance_dialect: ClassVar[MaintenanceDialect]

    if TYPE_CHECKING:  # supplied by TransactionalBackend

        def read(self, what: str) -> AbstractContextManager[Executor]:
            raise NotImplementedError

        def write(self, what: str) -> AbstractContextManager[Executor]:
            raise NotImplementedError

    def _table_sizes(self, conn: Executor) -> dict[str, tuple[int | None, int | None]]:
        """Every table with its own and its indexes' bytes (engine-specific)."""
        raise NotImplementedError

    # -- checks ------------------------------------------------------------------

    def find_orphans(self) -> Orphans:
        """Rows of the child tables whose thread does not exist."""
        rows: dict[str, int] = {}
        ids: set[str] = set()
        with self.read("failed to look for orphan rows") as conn:
            for table in CHILD_TABLES:
                found = conn.execute(_ORPHANS.format(table=table)).fetchall()
                rows[table] = sum(int(row[1]) for row in found)
                ids.update(self._maintenance_dialect.decode(row)[0] for row in found)
        return Orphans(rows, tuple(sorted(ids)))

    def find_bad_leaves(self) -> dict[str, object]:
        """Threads whose ``current_leaf_id`` is not one of their messages: the value."""
        where = _BAD_LEAF.format(not_integer=self._maintenance_dialect.leaf_not_integer)
        with self.read("failed to check current leaves") as conn:
            found = conn.execute(
                f"SELECT t.id, t.current_leaf_id FROM threads t WHERE {where} ORDER BY t.id"
            ).fetchall()
        return {row[0]: row[1] for row in map(self._maintenance_dialect.decode, found)}

    def existing_threads(self, thread_ids: Collection[str]) -> set[str]:
        """Which of ``thread_ids`` this database holds."""
        d = self._maintenance_dialect
        found: set[str] = set()
        with self.read("failed to look up threads") as conn:
            for chunk in chunks(sorted(set(thread_ids))):
                rows = conn.execute(
                    f"SELECT id FROM threads WHERE id IN ({d.marks(len(chunk))})",
                    [d.encode(t) for t in chunk],
                ).fetchall()
                found.update(d.decode(row)[0] for row in rows)
        return found

    def find_stale_archived(self) -> list[str]:
        """Unarchived threads still marked ``archived``, by id."""
        with self.read("failed to check thread statuses") as conn:
            found = conn.execute(
                "SELECT id FROM threads WHERE status = 'archived' AND archived = 0 ORDER BY id"
            ).fetchall()
        return [self._maintenance_dialect.decode(row)[0] for row in found]

    # -- repair steps ------------------------------------------------------------

    def delete_orphans(self) -> dict[str, int]:
        """Delete the rows of missing threads; how many per table."""
        with self.write("failed to delete orphan rows") as conn:
            return {
                table: conn.execute(_DELETE_ORPHANS.format(table=table)).rowcount
                for table in CHILD_TABLES
            }

    def reset_bad_leaves(self, thread_ids: Collection[str]) -> dict[str, int | None]:
        """Point each thread whose leaf is still bad at its newest tip (or none)."""
        d = self._maintenance_dialect
        p = d.placeholder
        still_bad = f"SELECT 1 FROM threads t WHERE t.id = {p} AND " + _BAD_LEAF.format(
            not_integer=d.leaf_not_integer
        )
        newest = _NEWEST_TIP.format(p=p)
        update = f"UPDATE threads SET current_leaf_id = {p} WHERE id = {p}"
        out: dict[str, int | None] = {}
        with self.write("failed to reset current leaves") as conn:
            for thread_id in sorted(set(thread_ids)):
                key = d.encode(thread_id)
                if conn.execute(still_bad, (key,)).fetchone() is None:
                    continue
                row = conn.execute(newest, (key,)).fetchone()
                leaf = None if row is None else int(row[0])
                conn.execute(update, (leaf, key))
                out[thread_id] = leaf
        return out

    def reset_stale_archived(self, thread_ids: Collection[str]) -> list[str]:
        """``status = 'idle'`` where a thread is still unarchived but ``archived``."""
        d = self._maintenance_dialect
        update = (
            f"UPDATE threads SET status = 'idle' WHERE id = {d.placeholder} "
            "AND archived = 0 AND status = 'archived'"
        )
        with self.write("failed to reset thread statuses") as conn:
            return [
                thread_id
                for thread_id in sorted(set(thread_ids))
                if conn.execute(update, (d.encode(thread_id),)).rowcount > 0
            ]

    def rebuild_indexes(self, names: Collection[str]) -> list[str]:
        """``REINDEX`` each named index in its own transaction; those rebuilt."""
        done: list[str] = []
        for name in sorted(set(names)):
            with self.write(f"failed to rebuild index {name}") as conn:
                conn.execute(f"{self._maintenance_dialect.reindex} {quote_identifier(name)}")
            done.append(name)
        return done

    # -- selection and statistics -----------------------------------------------

    def select_threads(
        self,
        *,
        updated_before: int | None,
        archived_only: bool,
        statuses: Collection[str],
    ) -> list[ThreadMetadata]:
        """Threads matching every given criterion, newest first; none given: none."""
        d = self._maintenance_dialect
        clauses: list[str] = []
        params: list[object] = []
        if updated_before is not None:
            clauses.append(f"updated_at < {d.placeholder}")
            params.append(updated_before)
        if archived_only:
            clauses.append("archived != 0")
        wanted = sorted(set(statuses))
        if wanted:
            clauses.append(f"status IN ({d.marks(len(wanted))})")
            params.extend(wanted)
        if not clauses:
            return []
        sql = (
            f"SELECT {THREAD_COLUMNS} FROM threads WHERE {' AND '.join(clauses)} "
            f"ORDER BY updated_at DESC, {d.insertion_order} DESC"
        )
        with self.read("failed to select threads") as conn:
            found = conn.execute(sql, params).fetchall()
        return [d.thread(row) for row in found]

    def thread_counts(self, thread_ids: Iterable[str]) -> dict[str, ThreadCounts]:
        """Message and branch counts per thread, counted in SQL (zero if none)."""
        d = self._maintenance_dialect
        ids = list(dict.fromkeys(thread_ids))
        out = {thread_id: ThreadCounts() for thread_id in ids}
        if not ids:
            return out
        with self.read("failed to count messages") as conn:
            for chunk in chunks(ids):
                found = conn.execute(
                    _COUNTS.format(marks=d.marks(len(chunk))), [d.encode(t) for t in chunk]
                ).fetchall()
                for row in found:
                    thread_id, messages, branches = d.decode(row)
                    out[thread_id] = ThreadCounts(int(messages), int(branches or 0))
        return out

    def table_stats(self) -> list[TableStats]:
        """Every table with its exact row count and its sizes, by name."""
        with self.read("failed to read table statistics") as conn:
            sizes = self._table_sizes(conn)
            return [
                TableStats(
                    name,
                    int(
                        conn.execute(f"SELECT COUNT(*) FROM {quote_identifier(name)}").fetchone()[0]
                    ),
                    *sizes[name],
                )
                for name in sorted(sizes)
            ]

    def largest_threads(self, top: int) -> list[ThreadSize]:
        """The ``top`` threads with the most stored message text, largest first."""
        d = self._maintenance_dialect
        sql = _LARGEST.format(
            content=d.byte_length.format("m.content"),
            item=d.byte_length.format("m.item_json"),
            p=d.placeholder,
        )
        with self.read("failed to measure threads") as conn:
            found = conn.execute(sql, (top,)).fetchall()
        return [
            ThreadSize(row[0], row[1], int(row[2]), int(row[3] or 0))
            for row in map(d.decode, found)
        ]
