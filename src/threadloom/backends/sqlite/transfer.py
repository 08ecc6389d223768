"""Import and bulk copy on SQLite: the shared queries with SQLite's dialect."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from ...contract.transfer import CopyTable
from ...records import SessionIndexEntry
from ..common.transfer import TransferDialect, TransferQueries
from .jsonl_index import JsonlSessionIndex

__all__ = ["SqliteTransfer"]


def _rowid(table: CopyTable) -> str:
    # The rowid is insertion order (REPLACE renews it, as re-saving renews a row).
    return "rowid"


# Placeholders "?", JSON stored and read as plain text, text stored as written.
_DIALECT = TransferDialect("?", "", "", ("INSERT OR IGNORE INTO", ""), _rowid)


class SqliteTransfer(TransferQueries[sqlite3.Connection]):
    """:class:`~threadloom.contract.TransferOperations` on a SQLite file."""

    _transfer_dialect = _DIALECT
    session_index: JsonlSessionIndex

    def _run_many(self, conn: sqlite3.Connection, sql: str, params: Sequence[Sequence[Any]]) -> int:
        before = conn.total_changes
        conn.executemany(sql, params)
        return conn.total_changes - before

    def _stream(
        self, conn: sqlite3.Connection, table: str, sql: str, size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        cur = conn.execute(sql)
        while rows := cur.fetchmany(size):
            yield rows

    def _reserve(self, conn: sqlite3.Connection, count: int) -> list[int]:
        # What AUTOINCREMENT would hand out next: past the largest id ever used. The
        # insert of these ids (in the same write) moves its counter past them.
        row = conn.execute(
            "SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0), "
            "COALESCE((SELECT max(id) FROM messages), 0))"
        ).fetchone()
        top = int(row[0])
        return list(range(top + 1, top + 1 + count))

    def append_index_entries(self, entries: Sequence[SessionIndexEntry]) -> None:
        index = self.session_index
        for entry in entries:
            index.append(entry)
