"""PostgreSQL's side of the maintenance contract: index validity, sizes from the
catalog, dead tuples and ``VACUUM (ANALYZE)``.

Everything is scoped to the connection's current schema (the store's tables). The
queries both engines share are in :mod:`threadloom.backends.common.maintenance`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import pq
from psycopg import sql as pg_sql

from ...contract.maintenance import Compaction, StorageInfo
from ...errors import ThreadloomError
from ..common.maintenance import Executor, MaintenanceDialect, SharedMaintenance
from ..common.rows import thread_from_row
from ..common.transactions import read_only_store
from .connection import PgConnections
from .nul import escape, unescape_row

__all__ = ["PgMaintenance"]

# Ordinary and partitioned tables of the store's schema.
_TABLES = (
    "SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
)
_SIZES = (
    "SELECT t.relname, pg_table_size(t.oid), pg_indexes_size(t.oid) "
    f"FROM ({_TABLES}) t ORDER BY t.relname"
)
_TOTAL = f"SELECT COALESCE(SUM(pg_total_relation_size(t.oid)), 0) FROM ({_TABLES}) t"
# indisvalid: usable by queries; indisready: kept up to date by writes; indislive:
# not being dropped. A failed CREATE INDEX CONCURRENTLY or REINDEX leaves one false.
_INVALID = (
    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
    "AND NOT (i.indisvalid AND i.indisready AND i.indislive) ORDER BY c.relname"
)
_DEAD = (
    "SELECT relname, n_dead_tup FROM pg_stat_user_tables "
    "WHERE schemaname = current_schema() ORDER BY relname"
)


def _total(conn: Executor) -> int:
    """Bytes of every table of the schema with its indexes and TOAST."""
    row = conn.execute(_TOTAL).fetchone()
    return 0 if row is None else int(row[0])


def _thread(row: Sequence[Any]) -> Any:
    return thread_from_row(unescape_row(row))


class PgMaintenance(SharedMaintenance):
    """Maintenance operations of :class:`~threadloom.backends.postgres.PostgresBackend`."""

    engine = "postgresql"
    _maintenance_dialect = MaintenanceDialect(
        placeholder="%s",
        insertion_order="seq",
        leaf_not_integer="FALSE",  # current_leaf_id is a bigint column
        byte_length="octet_length({}::text)",
        reindex="REINDEX INDEX",
        encode=escape,
        decode=unescape_row,
        thread=_thread,
    )

    location: str
    read_only: bool
    _conns: PgConnections

    def integrity_check(self) -> list[str]:
        """Empty: the server checks its own pages (see :meth:`invalid_indexes`)."""
        return []

    def foreign_key_violations(self) -> dict[str, int]:
        """Empty: the server enforces the foreign keys (orphans are checked apart)."""
        return {}

    def invalid_indexes(self) -> list[str]:
        """Indexes of the schema that are not valid, ready and live, by name."""
        with self._conns.read("failed to check the indexes") as conn:
            return [str(row[0]) for row in conn.execute(_INVALID).fetchall()]

    def checkpoint_wal(self) -> int | None:
        """``None``: the server's WAL is not the store's to checkpoint."""
        return None

    def compact(self) -> Compaction:
        """``VACUUM (ANALYZE)`` every table of the schema, outside any transaction.

        Raises:
            ReadOnlyStore: The store was opened read-only.
            StoreBusy: Another session held a conflicting lock past ``lock_timeout``.
            ThreadloomError: Called inside a transaction.
        """
        if self.read_only:
            raise read_only_store("cannot vacuum", self.location)
        if self._conns.in_transaction:
            raise ThreadloomError(f"cannot vacuum {self.location} inside a transaction")
        with self._conns.session("failed to vacuum") as conn:
            autocommit = conn.autocommit
            if not autocommit:
                # A caller's connection with autocommit off: VACUUM refuses to run in
                # the transaction block psycopg would open, so switch it for the call.
                if conn.info.transaction_status != pq.TransactionStatus.IDLE:
                    raise ThreadloomError(
                        f"cannot vacuum {self.location}: the connection given to "
                        "threadloom is inside a transaction"
                    )
                conn.autocommit = True
            try:
                before = _total(conn)
                names = [row[1] for row in conn.execute(_TABLES).fetchall()]
                if names:
                    conn.execute(
                        pg_sql.SQL("VACUUM (ANALYZE) {}").format(
                            pg_sql.SQL(", ").join(pg_sql.Identifier(n) for n in names)
                        )
                    )
                after = _total(conn)
            finally:
                if not autocommit:
                    conn.autocommit = False
        return Compaction(before, after)

    def storage_info(self) -> StorageInfo:
        """The schema's bytes from the catalog and its dead tuples."""
        with self._conns.read("failed to read the storage statistics") as conn:
            total = _total(conn)
            dead = {row[0]: int(row[1] or 0) for row in conn.execute(_DEAD).fetchall()}
        return StorageInfo(
            engine=self.engine,
            database_bytes=total,
            wal_bytes=None,
            free_bytes=None,
            dead_tuples=dead,
        )

    def _table_sizes(self, conn: Executor) -> dict[str, tuple[int | None, int | None]]:
        return {str(row[0]): (int(row[1]), int(row[2])) for row in conn.execute(_SIZES).fetchall()}
