"""The workflow trace tables in the SQLite file: the dialect and its connection primitives.

Writes run in the backend's ``BEGIN IMMEDIATE`` transaction (a savepoint inside a
caller's ``transaction()``); a single-statement read runs on the thread's connection
directly, since one statement is already a consistent snapshot and the replay lookup
is the hot path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..common.traces import TraceDialect, TraceStatements, TraceStorage, WriteStep
from .connection import ConnectionManager

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

    def _trace_write(self, what: str, steps: Sequence[WriteStep]) -> list[int]:
        with self._conns.write(what) as conn:
            return [conn.executemany(sql, batch).rowcount for sql, batch in steps]
