"""SQLite's side of the maintenance contract: ``integrity_check``, ``foreign_key_check``,
``dbstat`` sizes, the WAL, free pages and ``VACUUM``.

The queries both engines share are in :mod:`threadloom.backends.common.maintenance`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ...contract.maintenance import Compaction, StorageInfo
from ...errors import ThreadloomError
from ..common.maintenance import Executor, MaintenanceDialect, SharedMaintenance
from ..common.rows import thread_from_row
from ..common.transactions import read_only_store
from .connection import ConnectionManager, translate_errors

__all__ = ["SqliteMaintenance"]


def _same(text: str) -> str:
    return text


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class SqliteMaintenance(SharedMaintenance):
    """Maintenance operations of :class:`~threadloom.backends.sqlite.SqliteBackend`."""

    engine = "sqlite"
    _maintenance_dialect = MaintenanceDialect(
        placeholder="?",
        insertion_order="rowid",
        leaf_not_integer="typeof(t.current_leaf_id) != 'integer'",
        byte_length="LENGTH(CAST({} AS BLOB))",
        reindex="REINDEX",
        encode=_same,
        decode=tuple,
        thread=thread_from_row,
    )

    path: Path
    read_only: bool
    _conns: ConnectionManager

    @property
    def _wal_path(self) -> Path:
        return Path(str(self.path) + "-wal")

    def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check``; when SQLite cannot even finish it, why.

        Raises:
            StoreBusy: The database stayed locked past the busy timeout.
        """
        conn = self._conns.connection()
        try:
            return [str(row[0]) for row in conn.execute("PRAGMA integrity_check")]
        except sqlite3.OperationalError:
            # Locked or unreadable is not damage: say what it is.
            with translate_errors("failed to run integrity_check", self.path):
                raise
        except sqlite3.DatabaseError as exc:
            # SQLITE_CORRUPT / SQLITE_NOTADB: pages so damaged that the check stops.
            return [f"SQLite stopped the check: {exc}"]
        raise AssertionError("unreachable")  # pragma: no cover

    def foreign_key_violations(self) -> dict[str, int]:
        """Rows ``PRAGMA foreign_key_check`` reports, per table."""
        found: dict[str, int] = {}
        with self._conns.read("failed to run foreign_key_check") as conn:
            for row in conn.execute("PRAGMA foreign_key_check"):
                found[row[0]] = found.get(row[0], 0) + 1
        return found

    def invalid_indexes(self) -> list[str]:
        """None: SQLite has no invalid-index state (``integrity_check`` finds damage)."""
        return []

    def checkpoint_wal(self) -> int | None:
        """``wal_checkpoint(TRUNCATE)``; the WAL's size after (0 unless a reader held it).

        Raises:
            ReadOnlyStore: The store was opened read-only.
            StoreBusy: The database stayed locked past the busy timeout.
        """
        self._require_writable("cannot checkpoint the WAL")
        with translate_errors("failed to checkpoint the WAL", self.path):
            self._conns.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return _file_size(self._wal_path)

    def compact(self) -> Compaction:
        """Checkpoint the WAL, ``VACUUM``, checkpoint again; the file size before and after
        ``VACUUM``.

        Raises:
            ReadOnlyStore: The store was opened read-only.
            StoreBusy: Another connection held a lock past the busy timeout.
            ThreadloomError: Called inside a transaction.
        """
        self._require_writable("cannot vacuum")
        if self._conns.in_transaction:
            raise ThreadloomError(f"cannot vacuum {self.path} inside a transaction")
        with translate_errors("failed to vacuum", self.path):
            conn = self._conns.connection()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            # Measured once the WAL is folded in: the pages VACUUM starts from.
            before = _file_size(self.path)
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return Compaction(before, _file_size(self.path))

    def storage_info(self) -> StorageInfo:
        """File sizes and the free pages ``VACUUM`` would return."""
        with self._conns.read("failed to read the page counts") as conn:
            free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
            page = int(conn.execute("PRAGMA page_size").fetchone()[0])
        return StorageInfo(
            engine=self.engine,
            database_bytes=_file_size(self.path),
            wal_bytes=_file_size(self._wal_path),
            free_bytes=free * page,
            dead_tuples=None,
        )

    def _table_sizes(self, conn: Executor) -> dict[str, tuple[int | None, int | None]]:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
        ]
        owner = dict(
            conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'").fetchall()
        )
        pages: dict[str, int] | None = {}
        try:
            # dbstat is compiled into most SQLite builds but not all: sizes are optional.
            pages = dict(
                conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
            )
        except sqlite3.OperationalError:
            pages = None
        sizes: dict[str, tuple[int | None, int | None]] = {}
        for name in names:
            if pages is None:
                sizes[name] = (None, None)
                continue
            indexes = [int(size) for index, size in pages.items() if owner.get(index) == name]
            sizes[name] = (int(pages.get(name, 0)), sum(indexes))
        return sizes

    def _require_writable(self, what: str) -> None:
        if self.read_only:
            raise read_only_store(what, self.path)
