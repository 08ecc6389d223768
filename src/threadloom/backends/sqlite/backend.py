"""The embedded backend: the original's SQLite file and its ``session_index.jsonl``."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from ...contract import CHILD_TABLES, MigrationStep, SchemaInfo
from ...contract.lifecycle import SETTINGS_TABLE
from ...errors import CorruptData, NotFound, SchemaError, ThreadloomError
from ...paths import ensure_private_dir, open_private_file, session_index_path_for
from ..common.lifecycle import LifecycleQueries
from ..common.queries import DELETED_TABLE, CoreDialect, CoreQueries, CoreStatements
from ..common.rows import chunks
from ..common.transactions import read_only_store, schema_info_from, steps_from
from .connection import ConnectionManager, Durability, translate_errors
from .jsonl_index import JsonlSessionIndex
from .maintenance import SqliteMaintenance
from .schema import apply_migrations, plan_migrations, prepare_read_only
from .siblings import held_by_siblings
from .traces import SqliteTraces
from .transfer import SqliteTransfer

__all__ = ["SQLITE_CORE", "SqliteBackend"]


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    # A database opened with migrate=False may predate the table.
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


# What translate_errors translates (ThreadloomError passes through untouched).
_DRIVER_ERRORS = (sqlite3.Error, UnicodeDecodeError, UnicodeEncodeError, OverflowError)

#: Text is stored as it is; ``rowid`` is insertion order, and ``REPLACE`` renews it.
SQLITE_CORE = CoreDialect("?", ":{}", "rowid", no_limit=-1, greatest="MAX", first_param_again="?1")

_INSERT_MESSAGE = (
    "INSERT INTO messages(thread_id, role, content, item_json, created_at, "
    "parent_entry_id) VALUES (?, ?, ?, ?, ?, ?)"
)


def _check_version_untouched(path: Path, busy_timeout: float) -> None:
    """Refuse a database newer than we know before anything writes to it.

    Our connections switch the file to WAL as they open, which rewrites bytes of the
    database header; a probe connection without pragmas only reads, so a newer (or
    foreign) file stays byte-for-byte as it was.

    Raises:
        SchemaError: The database is newer than this threadloom.
        CorruptData: The file is not a SQLite database.
    """
    probe = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    try:
        plan_migrations(probe, path)
    finally:
        probe.close()


class SqliteBackend(
    CoreQueries[sqlite3.Connection],
    SqliteTraces,
    SqliteTransfer,
    SqliteMaintenance,
    LifecycleQueries,
):
    """The store's tables in one SQLite file, with ``session_index.jsonl`` beside it.

    Args:
        path: The database file (created with mode 0600 if missing, its directory 0700).
        durability: ``normal`` (WAL, ``synchronous=NORMAL``) or ``full``.
        busy_timeout: Seconds to wait for another writer before :class:`StoreBusy`.
        migrate: Apply pending schema steps on open.
        read_only: Open without writing anything: the file must exist, is opened
            ``mode=ro`` with ``query_only``, keeps its journal mode, and pending schema
            steps are overlaid in memory instead of applied; writes raise
            :class:`~threadloom.errors.ReadOnlyStore`.

    Raises:
        SchemaError: The database is newer than this threadloom; or, read-only, it
            is empty or has no ``threads`` table.
        CorruptData: The file is not a SQLite database (it is left untouched).
        NotFound: Read-only, and the file does not exist.
        OSError: The directory or file cannot be created.
    """

    _conns: ConnectionManager
    _core = CoreStatements(SQLITE_CORE)

    def __init__(
        self,
        path: Path,
        *,
        durability: Durability = Durability.NORMAL,
        busy_timeout: float = 5.0,
        migrate: bool = True,
        read_only: bool = False,
    ) -> None:
        self.path = path
        self.location = str(path)
        self.read_only = read_only
        self.single_writer = True
        # WAL readers run beside the writer, but decoding rows is Python under one GIL:
        # more reading threads than cores buy nothing.
        self.max_concurrency = max(1, min(4, os.cpu_count() or 1))
        if path.is_dir():
            raise ThreadloomError(f"the database path {path} is a directory, not a file")
        if read_only:
            self._open_read_only(path, durability, busy_timeout)
            return
        ensure_private_dir(path.parent)
        if not path.exists():
            # Create the file ourselves so it is private from the start; SQLite gives
            # its -wal and -shm files the database file's mode.
            os.close(open_private_file(path, os.O_RDWR | os.O_CREAT))
        _check_version_untouched(path, busy_timeout)
        self._conns = ConnectionManager(path, durability=durability, busy_timeout=busy_timeout)
        self.session_index = JsonlSessionIndex(
            session_index_path_for(path),
            fsync=durability is Durability.FULL,
            lock_timeout=busy_timeout,
        )
        try:
            conn = self._conns.connection()
            if migrate:
                apply_migrations(conn, path)
            else:
                plan_migrations(conn, path)
        except BaseException:
            self._conns.close()
            raise

    def _open_read_only(self, path: Path, durability: Durability, busy_timeout: float) -> None:
        if not path.exists():
            raise NotFound(f"no database at {path}")
        if path.stat().st_size == 0:
            # SQLite would take an empty file for an empty database and a writer would
            # create the schema in it; a reader says what it is.
            raise SchemaError(f"{path} is an empty file (0 bytes), not a database")
        self._conns = ConnectionManager(
            path,
            durability=durability,
            busy_timeout=busy_timeout,
            read_only=True,
            on_open=lambda conn: prepare_read_only(conn, path),
        )
        self.session_index = JsonlSessionIndex(
            session_index_path_for(path), fsync=False, lock_timeout=busy_timeout
        )
        try:
            self._conns.connection()
        except BaseException:
            self._conns.close()
            raise

    # -- lifecycle ---------------------------------------------------------------

    def close(self) -> None:
        """Close every connection and index descriptor of this process."""
        self._conns.close()
        self.session_index.close()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, for maintenance commands and the workflow store."""
        return self._conns.connection()

    def schema_info(self) -> SchemaInfo:
        """Schema versions and steps, read without writing."""
        return schema_info_from(plan_migrations(self._conns.connection(), self.path))

    def migrate(self) -> list[MigrationStep]:
        """Apply pending steps; those applied by this call.

        Raises:
            ReadOnlyStore: The store was opened read-only.
        """
        if self.read_only:
            raise read_only_store("cannot migrate", self.path)
        return steps_from(apply_migrations(self._conns.connection(), self.path))

    # The two read helpers catch driver errors with a plain try (translating them
    # through translate_errors only when one is raised): entering the context manager
    # on every call is a visible share of a get_thread.

    def _all(self, what: str, sql: str, params: Any = ()) -> list[Any]:
        try:
            return self._conns.connection().execute(sql, params).fetchall()
        except _DRIVER_ERRORS:
            with translate_errors(what, self.path):
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _one(self, what: str, sql: str, params: Any = ()) -> tuple[object, ...] | None:
        try:
            row: tuple[object, ...] | None = (
                self._conns.connection().execute(sql, params).fetchone()
            )
            return row
        except _DRIVER_ERRORS:
            with translate_errors(what, self.path):
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _writing(self, what: str) -> AbstractContextManager[sqlite3.Connection]:
        return self._conns.write(what)

    # -- what SQLite does its own way ----------------------------------------------

    def set_secure_delete(self, on: bool) -> bool:
        self._conns.secure_delete = on
        if not self.read_only:
            with translate_errors("failed to set secure_delete", self.path):
                self._conns.connection().execute(f"PRAGMA secure_delete = {int(on)}")
        return True

    #: Whether the lifecycle tables exist (steps only add tables: a yes is asked once).
    _has_settings_table = False

    def _has_lifecycle_tables(self) -> bool:
        # A database opened with migrate=False may predate them; a read-only one that
        # needs the step has them as TEMP tables (of each connection: not cached).
        if self._has_settings_table:
            return True
        with translate_errors("failed to read the schema", self.path):
            conn = self._conns.connection()
            if _has_table(conn, SETTINGS_TABLE):
                self._has_settings_table = True
                return True
            return (
                conn.execute(
                    "SELECT 1 FROM sqlite_temp_master WHERE type = 'table' AND name = ?",
                    (SETTINGS_TABLE,),
                ).fetchone()
                is not None
            )

    def delete_thread(self, thread_id: str) -> bool:
        with self._conns.write(f"failed to delete thread {thread_id}") as conn:
            changed = 0
            # Explicit deletes (not only ON DELETE CASCADE) also remove rows the original
            # orphaned under this id when it deleted with foreign keys off.
            conn.execute("UPDATE threads SET current_leaf_id = NULL WHERE id = ?", (thread_id,))
            for table in CHILD_TABLES:
                changed += conn.execute(
                    f"DELETE FROM {table} WHERE thread_id = ?", (thread_id,)
                ).rowcount
            gone = conn.execute("DELETE FROM threads WHERE id = ?", (thread_id,)).rowcount
            if gone and _has_table(conn, DELETED_TABLE):
                # The record that lets repair drop this thread's session-index entries
                # (the file is shared with the folder's other databases). Time comes
                # from SQLite: the store's clock readings stay the original's.
                conn.execute(
                    f"INSERT INTO {DELETED_TABLE} (thread_id, deleted_at) "
                    "VALUES (?, CAST(strftime('%s', 'now') AS INTEGER)) "
                    "ON CONFLICT(thread_id) DO UPDATE SET deleted_at = excluded.deleted_at",
                    (thread_id,),
                )
            return changed + gone > 0

    def deleted_threads(self, thread_ids: Collection[str]) -> set[str]:
        wanted = sorted(set(thread_ids))
        found: set[str] = set()
        with translate_errors("failed to read the deleted threads", self.path):
            conn = self._conns.connection()
            if not wanted or not _has_table(conn, DELETED_TABLE):
                return found
            for chunk in chunks(wanted):
                marks = ",".join("?" * len(chunk))
                found.update(
                    row[0]
                    for row in conn.execute(
                        f"SELECT d.thread_id FROM {DELETED_TABLE} d "
                        f"WHERE d.thread_id IN ({marks}) "
                        "AND NOT EXISTS (SELECT 1 FROM threads t WHERE t.id = d.thread_id)",
                        chunk,
                    )
                )
        return found - held_by_siblings(self.path, found)

    @staticmethod
    def _require_thread(conn: sqlite3.Connection, thread_id: str) -> object:
        """The thread's ``current_leaf_id`` (or ``None``); :class:`NotFound` if missing."""
        row = conn.execute(
            "SELECT current_leaf_id FROM threads WHERE id = ?", (thread_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"thread {thread_id} not found")
        return row[0]

    def _insert_returning_id(self, conn: sqlite3.Connection, params: Sequence[Any]) -> int:
        # lastrowid: SQLite's RETURNING steps the statement twice, a measurable cost.
        new_id = conn.execute(_INSERT_MESSAGE, params).lastrowid
        assert new_id is not None
        return new_id

    def append_message(
        self, thread_id: str, role: str, content: str, item_json: str | None, now: int
    ) -> int:
        with self._conns.write(f"failed to append message to thread {thread_id}") as conn:
            leaf = self._require_thread(conn, thread_id)
            if leaf is not None and type(leaf) is not int:
                raise CorruptData(
                    f"thread {thread_id} has a current_leaf_id that is not a message id: "
                    f"{leaf!r} (run `threadloom repair`)",
                    table="threads",
                    row=f"id={thread_id!r}",
                )
            new_id = self._insert_returning_id(
                conn, (thread_id, role, content, item_json, now, leaf)
            )
            conn.execute(self._core.set_leaf, (new_id, thread_id))
            return new_id
