"""Import and bulk copy on PostgreSQL: the shared queries with PostgreSQL's dialect.

Explicit message ids do not advance the ``messages.id`` identity sequence, so before
any are written the sequence is moved past them: later appends (here or in another
session) never draw an id an import or copy wrote.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from ...contract.transfer import CopyTable
from ...records import SessionIndexEntry
from ..common.transfer import TransferDialect, TransferQueries
from .connection import PgConnections
from .nul import escape, escape_opt, unescape_row
from .session_index import ascii_casefold

__all__ = ["PgTransfer"]

#: Tables without a ``seq`` column: their key is their insertion order (message ids
#: grow) or the only order they are read in.
_WITHOUT_SEQ = frozenset(
    {
        "messages",
        "thread_dynamic_tools",
        "thread_goals",
        "threadloom_graph_checkpoints",
        "threadloom_graph_writes",
        "threadloom_kv",
    }
)

_SEQUENCE = "pg_get_serial_sequence('messages', 'id')"


def _insertion_order(table: CopyTable) -> str:
    return ", ".join(table.key) if table.name in _WITHOUT_SEQ else "seq"


_DIALECT = TransferDialect(
    mark="%s",
    json_cast="::json",
    json_text="::text",
    insert_or_skip=("INSERT INTO", " ON CONFLICT DO NOTHING"),
    order_by=_insertion_order,
    escape=escape,
    unescape_row=unescape_row,
)


class PgTransfer(TransferQueries[psycopg.Connection[Any]]):
    """:class:`~threadloom.contract.TransferOperations` on a PostgreSQL schema."""

    _transfer_dialect = _DIALECT
    _conns: PgConnections

    def _run_many(
        self, conn: psycopg.Connection[Any], sql: str, params: Sequence[Sequence[Any]]
    ) -> int:
        with conn.cursor() as cur:
            cur.executemany(sql, params)
            return max(cur.rowcount, 0)

    def _stream(
        self, conn: psycopg.Connection[Any], table: str, sql: str, size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        # A server-side cursor: a table larger than memory streams.
        with conn.cursor(name=f"threadloom_copy_{table}") as cur:
            cur.execute(sql)
            while rows := cur.fetchmany(size):
                yield rows

    def _reserve(self, conn: psycopg.Connection[Any], count: int) -> list[int]:
        rows = conn.execute(
            f"SELECT nextval({_SEQUENCE}) FROM generate_series(1, %s)", (count,)
        ).fetchall()
        return [int(row[0]) for row in rows]

    def _ids_written(self, conn: psycopg.Connection[Any], top: int) -> None:
        # Forward only: a sequence past ``top`` already (deleted messages) stays put.
        conn.execute(
            f"SELECT setval(s, %(top)s) FROM (SELECT {_SEQUENCE}::regclass AS s) q "
            "WHERE %(top)s > COALESCE(pg_sequence_last_value(s), 0)",
            {"top": top},
        )

    def _lock_thread_id(self, conn: psycopg.Connection[Any], thread_id: str) -> None:
        # Two sessions importing the same thread id: the second waits, then finds it.
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            ("threadloom:" + escape(thread_id),),
        )

    def append_index_entries(self, entries: Sequence[SessionIndexEntry]) -> None:
        if not entries:
            return
        with self._conns.write("failed to copy the session index") as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO session_index (thread_id, thread_name, updated_at, rollout_path, "
                "name_key) VALUES (%s, %s, %s, %s, %s)",
                [
                    (
                        escape(e.thread_id),
                        escape_opt(e.thread_name),
                        e.updated_at,
                        escape_opt(e.rollout_path),
                        None if e.thread_name is None else escape(ascii_casefold(e.thread_name)),
                    )
                    for e in entries
                ],
            )
