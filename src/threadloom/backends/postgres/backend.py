"""The server backend: the store's tables in PostgreSQL, the session index in a table.

Semantics are the SQLite backend's (the contract suite runs on both). What differs is
how they are had:

- Appends to one thread serialize on the thread row (``FOR NO KEY UPDATE``: it
  excludes other appends and forks but not the foreign-key checks of checkpoint and
  tool writes, which take ``KEY SHARE``), so two writers never both read the same leaf
  and branch by accident; different threads never wait on each other. An append is
  one statement (lock, insert, move the leaf), so it is one round trip and atomic
  even on an autocommit connection.
- Ties on the second-resolution timestamps break by ``seq`` (insertion order), the
  role SQLite's rowid plays; re-saving a checkpoint or a job renews it, as ``REPLACE``
  renews the rowid.
- Text is stored through :mod:`.nul` so NUL characters round-trip.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractContextManager
from typing import Any

import psycopg

from ...contract import MigrationStep, SchemaInfo
from ...contract.lifecycle import SETTINGS_TABLE
from ...errors import InvalidRecord, NotFound, SchemaError
from ..common.lifecycle import LifecycleQueries
from ..common.queries import DELETED_TABLE, CoreDialect, CoreQueries, CoreStatements
from ..common.transactions import read_only_store, schema_info_from, steps_from
from .connection import PgConnections
from .maintenance import PgMaintenance
from .nul import escape, unescape_row
from .schema import apply_migrations, plan_migrations
from .session_index import PgSessionIndex
from .traces import PgTraces
from .transfer import PgTransfer

__all__ = ["PG_CORE", "PostgresBackend"]

# One statement: lock the thread row, insert under its leaf, move the leaf. In READ
# COMMITTED a writer that waited for the lock re-reads the row, so it sees the leaf
# the previous writer set.
_APPEND = """
WITH t AS (
    SELECT id, current_leaf_id FROM threads WHERE id = %(thread)s FOR NO KEY UPDATE
), ins AS (
    INSERT INTO messages (thread_id, role, content, item_json, created_at, parent_entry_id)
    SELECT t.id, %(role)s, %(content)s, %(item)s::json, %(now)s, t.current_leaf_id FROM t
    RETURNING id
), upd AS (
    UPDATE threads SET current_leaf_id = ins.id FROM ins WHERE threads.id = %(thread)s
)
SELECT id FROM ins
"""

PG_CORE = CoreDialect(
    "%s",
    "%({})s",
    "seq",
    # LIMIT NULL is LIMIT ALL.
    no_limit=None,
    greatest="GREATEST",
    # Appends and forks serialize on the thread row; a replaced checkpoint or job gets
    # a new seq, as REPLACE gives it a new rowid on SQLite.
    lock_thread=" FOR NO KEY UPDATE",
    renew_order="seq = nextval('threadloom_insert_seq')",
    # JSON columns are json: written with a cast, read back as their stored text and
    # decoded by the shared mappers.
    json_casts=("::json", "::text"),
    # Text cannot hold NUL: it is stored through .nul.
    escape=escape,
    unescape_row=unescape_row,
)


class PostgresBackend(
    CoreQueries[psycopg.Connection[Any]], PgTraces, PgTransfer, PgMaintenance, LifecycleQueries
):
    """The store's tables in a PostgreSQL schema (the connection's ``search_path``).

    Open it with :meth:`open` (``StateStore.open`` does).
    """

    _conns: PgConnections
    _core = CoreStatements(PG_CORE)

    def __init__(self, conns: PgConnections, *, migrate: bool = True) -> None:
        self._conns = conns
        self.location = conns.location
        self.read_only = conns.read_only
        self.single_writer = False
        self.max_concurrency = conns.max_concurrency
        self.session_index = PgSessionIndex(conns)
        try:
            if migrate and not self.read_only:
                apply_migrations(conns)
            else:
                plan = plan_migrations(conns)
                if self.read_only and plan.schema_version == 0:
                    # Reads of a schema without its tables would fail one by one (a
                    # later pending step is reported by schema_info() instead).
                    steps = ", ".join(step.name for step in plan.pending)
                    raise SchemaError(
                        f"the PostgreSQL schema at {self.location} needs schema steps "
                        f"({steps}) before it can be read: run `threadloom migrate`",
                        found=plan.schema_version,
                    )
        except BaseException:
            conns.close()
            raise

    @classmethod
    def open(
        cls,
        target: Any,
        *,
        durability: object = "normal",
        busy_timeout: float = 5.0,
        migrate: bool = True,
        pool_size: int = 10,
        pool_min_size: int = 1,
        pool_timeout: float = 30.0,
        connect_timeout: float = 5.0,
        prepare_threshold: int | None = 5,
        read_only: bool = False,
    ) -> PostgresBackend:
        """Open the backend on a DSN, a ``psycopg.Connection`` or a ``ConnectionPool``.

        Args:
            target: Where the data lives. A DSN opens a pool threadloom owns and closes;
                a connection or pool stays the caller's (``close()`` leaves it open).
            durability: ``"full"`` forces ``synchronous_commit=on`` on connections
                threadloom opens; ``"normal"`` keeps the server's setting.
            busy_timeout: Seconds to wait for a row lock (``lock_timeout``) before
                :class:`~threadloom.errors.StoreBusy`, on connections threadloom opens.
            migrate: Apply pending schema steps.
            pool_size: Most connections of an owned pool.
            pool_min_size: Connections an owned pool keeps open.
            pool_timeout: Seconds to wait for a free pooled connection.
            connect_timeout: Seconds to wait for the server.
            prepare_threshold: psycopg's ``prepare_threshold`` for connections threadloom
                opens; ``None`` turns prepared statements off (PgBouncer in
                transaction mode).
            read_only: Apply no schema step (a schema without our tables is refused) and
                run everything in ``READ ONLY`` transactions.

        Raises:
            ThreadloomError: ``target`` is not usable, or the server cannot be reached.
            SchemaError: The schema is newer than this threadloom.
            StoreBusy: Another process held the migration lock too long.
        """
        for name, value in (
            ("pool_size", pool_size),
            ("pool_min_size", pool_min_size),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidRecord(f"{name} must be a non-negative int, got {value!r}")
        if pool_size < 1:
            raise InvalidRecord(f"pool_size must be at least 1, got {pool_size}")
        conns = PgConnections(
            target,
            pool_size=pool_size,
            pool_min_size=pool_min_size,
            pool_timeout=pool_timeout,
            connect_timeout=connect_timeout,
            prepare_threshold=prepare_threshold,
            lock_timeout=busy_timeout,
            synchronous_commit=str(durability) == "full",
            read_only=read_only,
        )
        return cls(conns, migrate=migrate)

    # -- lifecycle ---------------------------------------------------------------

    @property
    def connections(self) -> PgConnections:
        """The connection source (for the workflow trace store and maintenance)."""
        return self._conns

    def close(self) -> None:
        """Close what threadloom opened; a caller's connection or pool stays open."""
        self._conns.close()
        self.session_index.close()

    def schema_info(self) -> SchemaInfo:
        """Schema versions and steps, read without writing."""
        return schema_info_from(plan_migrations(self._conns))

    def migrate(self) -> list[MigrationStep]:
        """Apply pending steps; those applied by this call.

        Raises:
            ReadOnlyStore: The store was opened read-only.
        """
        if self.read_only:
            raise read_only_store("cannot migrate", self.location)
        return steps_from(apply_migrations(self._conns))

    def _all(self, what: str, sql: str, params: Any = ()) -> list[Any]:
        with self._conns.call(what) as conn:
            return conn.execute(sql, params).fetchall()

    def _one(self, what: str, sql: str, params: Any = ()) -> tuple[Any, ...] | None:
        with self._conns.call(what) as conn:
            return conn.execute(sql, params).fetchone()

    def _writing(self, what: str) -> AbstractContextManager[psycopg.Connection[Any]]:
        # One statement is atomic on its own: no transaction around it.
        return self._conns.call(what, writes=True)

    # -- what PostgreSQL does its own way --------------------------------------------

    _octets = "octet_length({})"
    #: As _has_deletions_table: a yes is asked once.
    _has_settings_table = False

    def set_secure_delete(self, on: bool) -> bool:
        return False  # no such setting: dead rows stay until VACUUM, then in free space

    def _has_lifecycle_tables(self) -> bool:
        if not self._has_settings_table:
            with self._conns.call("failed to read the schema") as conn:
                row = conn.execute(f"SELECT to_regclass('{SETTINGS_TABLE}') IS NOT NULL").fetchone()
            self._has_settings_table = bool(row and row[0])
        return self._has_settings_table

    #: Whether the schema has the deletions table (steps only add tables, so a yes
    #: stays true and is asked once; a no is asked again, as migrate() may add it).
    _has_deletions_table = False

    def _records_deletions(self, conn: psycopg.Connection[Any]) -> bool:
        if not self._has_deletions_table:
            row = conn.execute(f"SELECT to_regclass('{DELETED_TABLE}') IS NOT NULL").fetchone()
            self._has_deletions_table = bool(row and row[0])
        return self._has_deletions_table

    def delete_thread(self, thread_id: str) -> bool:
        # Foreign keys cascade to messages, checkpoints, tools and the goal; they are
        # enforced here from the start, so no orphans of earlier deletes can exist.
        # The deletion is recorded in the same statement, as on SQLite, so repair may
        # drop the thread's session-index rows (a schema opened with migrate=False may
        # predate the table: then the delete goes unrecorded, and the rows stay).
        with self._conns.call(f"failed to delete thread {thread_id}", writes=True) as conn:
            if not self._records_deletions(conn):
                return (
                    conn.execute("DELETE FROM threads WHERE id = %s", (escape(thread_id),)).rowcount
                    > 0
                )
            return (
                conn.execute(
                    f"WITH gone AS (DELETE FROM threads WHERE id = %s RETURNING id) "
                    f"INSERT INTO {DELETED_TABLE} (thread_id, deleted_at) "
                    "SELECT id, extract(epoch FROM now())::bigint FROM gone "
                    "ON CONFLICT (thread_id) DO UPDATE SET deleted_at = excluded.deleted_at",
                    (escape(thread_id),),
                ).rowcount
                > 0
            )

    def deleted_threads(self, thread_ids: Collection[str]) -> set[str]:
        wanted = sorted({escape(t) for t in thread_ids})
        if not wanted:
            return set()
        with self._conns.call("failed to read the deleted threads") as conn:
            if not self._records_deletions(conn):
                return set()
            rows = conn.execute(
                f"SELECT d.thread_id FROM {DELETED_TABLE} d WHERE d.thread_id = ANY(%s) "
                "AND NOT EXISTS (SELECT 1 FROM threads t WHERE t.id = d.thread_id)",
                (wanted,),
            ).fetchall()
        return {unescape_row(r)[0] for r in rows}

    def append_message(
        self, thread_id: str, role: str, content: str, item_json: str | None, now: int
    ) -> int:
        row = self._write_one(
            f"failed to append message to thread {thread_id}",
            _APPEND,
            {
                "thread": escape(thread_id),
                "role": escape(role),
                "content": escape(content),
                "item": item_json,
                "now": now,
            },
        )
        if row is None:
            raise NotFound(f"thread {thread_id} not found")
        return int(row[0])
