"""The workflow trace tables in the SQLite file: the dialect and its connection primitives.

Writes run in the backend's ``BEGIN IMMEDIATE`` transaction (a savepoint inside a
caller's ``transaction()``); a single-statement read runs on the thread's connection
directly, since one statement is already a consistent snapshot and the replay lookup
is the hot path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..common.traces import TraceDialect, TraceStatements, TraceStorage, WriteStep
from .connection import ConnectionManager, translate_errors

__all__ = ["SQLITE_TRACES", "SqliteTraces"]

#: Text is stored as it is; ``rowid`` is insertion order. The replay lookup names its
#: index: the planner could otherwise pick the plain ``workflow_run_id`` index and
#: sort a whole run's leaves.
SQLITE_TRACES = TraceDialect("?", "rowid", replay_hint=" INDEXED BY idx_leaf_runs_replay_lookup")


class SqliteTraces(TraceStorage):
    """:class:`~threadloom.contract.TraceOperations` of :class:`SqliteBackend`."""

    _trace_sql = TraceStatements(SQLITE_TRACES)
    _conns: ConnectionManager
    path: Path

    # Reads catch driver errors with a plain try rather than entering translate_errors
    # on every call: the context manager is a visible share of a lookup.

    def _trace_one(self, what: str, sql: str, params: Sequence[Any]) -> Sequence[Any] | None:
        try:
            row: Sequence[Any] | None = self._conns.connection().execute(sql, params).fetchone()
        except Exception:
            with translate_errors(what, self.path):
                raise
            raise  # pragma: no cover - translate_errors always raises
        return row

    def _trace_all(self, what: str, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        try:
            return self._conns.connection().execute(sql, params).fetchall()
        except Exception:
            with translate_errors(what, self.path):
                raise
            raise  # pragma: no cover - translate_errors always raises

    def _trace_write(self, what: str, steps: Sequence[WriteStep]) -> list[int]:
        with self._conns.write(what) as conn:
            return [conn.executemany(sql, batch).rowcount for sql, batch in steps]
