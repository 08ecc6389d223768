"""The trace tables in the SQLite file, through :class:`SqliteBackend`'s connections.

Writes run in the backend's ``BEGIN IMMEDIATE`` transaction (a savepoint inside a
caller's ``transaction()``); a single-statement read runs on the thread's connection
directly, since one statement is already a consistent snapshot and the replay
lookup is the hot path.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..backends.sqlite import SqliteBackend
from ..backends.sqlite.connection import translate_errors
from .rows import CHILD_TABLES, COLUMNS, Row, Table

__all__ = ["SqliteWorkflowTraces"]


def _select(table: Table) -> str:
    return f"SELECT {', '.join(COLUMNS[table])} FROM {table.value}"


_INSERT = {
    t: f"INSERT INTO {t.value} ({', '.join(c)}) VALUES ({', '.join('?' * len(c))})"
    for t, c in COLUMNS.items()
}
_UPDATE = {
    t: f"UPDATE {t.value} SET {', '.join(f'{name} = ?' for name in c[1:])} WHERE id = ?"
    for t, c in COLUMNS.items()
}
_GET = {t: f"{_select(t)} WHERE id = ?" for t in COLUMNS}
_OF_RUN = {
    t: f"{_select(t)} WHERE workflow_run_id = ? ORDER BY "
    + ("created_at" if t is Table.CANDIDATES else "started_at")
    + ", rowid"
    for t in CHILD_TABLES
}
_DELETE_OF_RUN = {t: f"DELETE FROM {t.value} WHERE workflow_run_id = ?" for t in CHILD_TABLES}
# The planner walks idx_leaf_runs_replay_lookup to the few matching rows, then sorts
# those: the lookup stays a handful of page reads however many leaves are stored.
_FIND_REPLAY = (
    f"{_select(Table.LEAVES)} INDEXED BY idx_leaf_runs_replay_lookup "
    "WHERE workflow_run_id = ? AND leaf_id = ? AND input_hash = ? "
    "AND completed_at IS NOT NULL ORDER BY completed_at DESC, rowid DESC LIMIT 1"
)
_FINISHED = (
    "SELECT id FROM workflow_runs WHERE completed_at IS NOT NULL AND completed_at < ? "
    "ORDER BY completed_at, rowid"
)
_FINISHED_KEEPING = """
SELECT id FROM (
    SELECT id, completed_at, rowid AS rid, ROW_NUMBER() OVER (
        PARTITION BY workflow_id ORDER BY completed_at DESC, started_at DESC, rowid DESC
    ) AS recency
    FROM workflow_runs WHERE completed_at IS NOT NULL
) WHERE completed_at < ? AND recency > ? ORDER BY completed_at, rid
"""


class SqliteWorkflowTraces:
    """:class:`~threadloom.workflows.backend.WorkflowTraceBackend` on SQLite.

    Args:
        backend: The store's SQLite backend (its connections and transactions).
    """

    def __init__(self, backend: SqliteBackend) -> None:
        self._backend = backend
        self._where = backend.location

    def insert_rows(self, table: Table, rows: Sequence[Row]) -> None:
        """Insert rows in one transaction (all or none).

        Raises:
            Conflict: An id already exists, or a reference is dangling.
            StoreBusy: The write lock could not be had within the busy timeout.
        """
        with self._backend.write(f"failed to record {table.value}") as conn:
            conn.executemany(_INSERT[table], rows)

    def update_row(self, table: Table, row: Row) -> bool:
        """Overwrite the row whose id is ``row[0]``; whether it existed."""
        with self._backend.write(f"failed to update {table.value}") as conn:
            cursor = conn.execute(_UPDATE[table], (*row[1:], row[0]))
            return cursor.rowcount > 0

    def get_row(self, table: Table, row_id: str) -> Row | None:
        """One row by id, or ``None``."""
        with translate_errors(f"failed to read {table.value}", self._where):
            row: Row | None = self._backend.connection().execute(_GET[table], (row_id,)).fetchone()
            return row

    def rows_of_run(self, table: Table, run_id: str) -> list[Row]:
        """A run's rows of a child table, oldest first."""
        with translate_errors(f"failed to read {table.value}", self._where):
            return self._backend.connection().execute(_OF_RUN[table], (run_id,)).fetchall()

    def list_runs(
        self, *, workflow_id: str | None, status: str | None, limit: int, offset: int
    ) -> list[Row]:
        """Runs newest first, optionally filtered by workflow and/or status."""
        clauses: list[str] = []
        params: list[object] = []
        if workflow_id is not None:
            clauses.append("workflow_id = ?")
            params.append(workflow_id)
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"{_select(Table.RUNS)}{where} ORDER BY started_at DESC, rowid DESC LIMIT ? OFFSET ?"
        with translate_errors("failed to list workflow runs", self._where):
            return self._backend.connection().execute(sql, (*params, limit, offset)).fetchall()

    def find_replay(self, run_id: str, leaf_id: str, input_hash: str) -> Row | None:
        """The latest completed leaf run matching the replay key, or ``None``."""
        with translate_errors("failed to look up a replay", self._where):
            row: Row | None = (
                self._backend.connection()
                .execute(_FIND_REPLAY, (run_id, leaf_id, input_hash))
                .fetchone()
            )
            return row

    def delete_runs(self, run_ids: Sequence[str]) -> int:
        """Delete runs and everything under them in one transaction; how many existed.

        The children are deleted explicitly rather than left to ``ON DELETE CASCADE``:
        the original never enabled ``foreign_keys``, so a connection of another
        program may have it off.
        """
        keys = [(run_id,) for run_id in run_ids]
        with self._backend.write("failed to delete workflow runs") as conn:
            for table in CHILD_TABLES:
                conn.executemany(_DELETE_OF_RUN[table], keys)
            cursor = conn.executemany("DELETE FROM workflow_runs WHERE id = ?", keys)
            return max(cursor.rowcount, 0)

    def finished_run_ids(self, before: int, keep_last: int | None) -> list[str]:
        """Runs completed before ``before``, sparing each workflow's ``keep_last`` latest."""
        with translate_errors("failed to select runs for retention", self._where):
            conn = self._backend.connection()
            if keep_last is None:
                rows = conn.execute(_FINISHED, (before,)).fetchall()
            else:
                rows = conn.execute(_FINISHED_KEEPING, (before, keep_last)).fetchall()
        return [row[0] for row in rows]
