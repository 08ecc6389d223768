"""The workflow trace tables in PostgreSQL (``WorkflowStore`` on a PostgreSQL store).

Rows move in and out in the column order of :data:`threadloom.workflows.rows.COLUMNS`,
JSON as text, exactly as on SQLite: ``*_json`` columns are ``json`` (read back as
their stored text), other text goes through :mod:`.nul`, and the ``passed`` flag is
stored as 0/1 like the original's INTEGER. Insertion order (SQLite's rowid) is
``seq``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg.errors as pg_errors

from ...errors import Conflict
from ...workflows.rows import CHILD_TABLES, COLUMNS, Row, Table
from .connection import PgConnections
from .nul import escape, unescape_row

__all__ = ["PgWorkflowTraces"]

_JSON_AT: dict[Table, tuple[int, ...]] = {
    t: tuple(i for i, name in enumerate(cols) if name.endswith("_json"))
    for t, cols in COLUMNS.items()
}


def _select_list(table: Table) -> str:
    return ", ".join(f"{c}::text" if c.endswith("_json") else c for c in COLUMNS[table])


def _select(table: Table) -> str:
    return f"SELECT {_select_list(table)} FROM {table.value}"


def _placeholders(table: Table) -> list[str]:
    return ["%s::json" if c.endswith("_json") else "%s" for c in COLUMNS[table]]


_INSERT = {
    t: f"INSERT INTO {t.value} ({', '.join(c)}) VALUES ({', '.join(_placeholders(t))})"
    for t, c in COLUMNS.items()
}
_UPDATE = {
    t: f"UPDATE {t.value} SET "
    + ", ".join(f"{name} = {ph}" for name, ph in zip(c[1:], _placeholders(t)[1:], strict=True))
    + " WHERE id = %s"
    for t, c in COLUMNS.items()
}
_GET = {t: f"{_select(t)} WHERE id = %s" for t in COLUMNS}
_OF_RUN = {
    t: f"{_select(t)} WHERE workflow_run_id = %s ORDER BY "
    + ("created_at" if t is Table.CANDIDATES else "started_at")
    + ", seq"
    for t in CHILD_TABLES
}
_FIND_REPLAY = (
    f"{_select(Table.LEAVES)} WHERE workflow_run_id = %s AND leaf_id = %s AND input_hash = %s "
    "AND completed_at IS NOT NULL ORDER BY completed_at DESC, seq DESC LIMIT 1"
)
_FINISHED = (
    "SELECT id FROM workflow_runs WHERE completed_at IS NOT NULL AND completed_at < %s "
    "ORDER BY completed_at, seq"
)
_FINISHED_KEEPING = """
SELECT id FROM (
    SELECT id, completed_at, seq, ROW_NUMBER() OVER (
        PARTITION BY workflow_id ORDER BY completed_at DESC, started_at DESC, seq DESC
    ) AS recency
    FROM workflow_runs WHERE completed_at IS NOT NULL
) ranked WHERE completed_at < %s AND recency > %s ORDER BY completed_at, seq
"""


def _params(table: Table, row: Row) -> tuple[Any, ...]:
    json_at = _JSON_AT[table]
    out: list[Any] = []
    for i, value in enumerate(row):
        if type(value) is str and i not in json_at:
            value = escape(value)
        elif isinstance(value, bool):
            value = int(value)  # the original's INTEGER flag
        out.append(value)
    return tuple(out)


def _row(table: Table, row: Sequence[Any]) -> Row:
    return unescape_row(row, _JSON_AT[table])


class PgWorkflowTraces:
    """:class:`~threadloom.workflows.backend.WorkflowTraceBackend` on PostgreSQL.

    Args:
        conns: The store backend's connections (writes join its ``transaction()``).
    """

    def __init__(self, conns: PgConnections) -> None:
        self._conns = conns

    def insert_rows(self, table: Table, rows: Sequence[Row]) -> None:
        """Insert rows in one transaction (all or none).

        Raises:
            Conflict: An id already exists, or a reference is dangling.
            StoreBusy: A lock could not be had within the lock timeout.
        """
        what = f"failed to record {table.value}"
        try:
            with self._conns.write(what) as conn, conn.cursor() as cur:
                cur.executemany(_INSERT[table], [_params(table, row) for row in rows])
        except Exception as exc:
            if isinstance(exc.__cause__, pg_errors.ForeignKeyViolation):
                raise Conflict(f"{what}: {str(exc.__cause__).strip()}") from exc.__cause__
            raise

    def update_row(self, table: Table, row: Row) -> bool:
        """Overwrite the row whose id is ``row[0]``; whether it existed."""
        params = _params(table, row)
        with self._conns.write(f"failed to update {table.value}") as conn:
            return conn.execute(_UPDATE[table], (*params[1:], params[0])).rowcount > 0

    def get_row(self, table: Table, row_id: str) -> Row | None:
        """One row by id, or ``None``."""
        with self._conns.call(f"failed to read {table.value}") as conn:
            row = conn.execute(_GET[table], (escape(row_id),)).fetchone()
        return None if row is None else _row(table, row)

    def rows_of_run(self, table: Table, run_id: str) -> list[Row]:
        """A run's rows of a child table, oldest first."""
        with self._conns.call(f"failed to read {table.value}") as conn:
            rows = conn.execute(_OF_RUN[table], (escape(run_id),)).fetchall()
        return [_row(table, row) for row in rows]

    def list_runs(
        self, *, workflow_id: str | None, status: str | None, limit: int, offset: int
    ) -> list[Row]:
        """Runs newest first, optionally filtered by workflow and/or status."""
        clauses: list[str] = []
        params: list[object] = []
        if workflow_id is not None:
            clauses.append("workflow_id = %s")
            params.append(escape(workflow_id))
        if status is not None:
            clauses.append("status = %s")
            params.append(escape(status))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"{_select(Table.RUNS)}{where} ORDER BY started_at DESC, seq DESC LIMIT %s OFFSET %s"
        with self._conns.call("failed to list workflow runs") as conn:
            rows = conn.execute(sql, (*params, limit, offset)).fetchall()
        return [_row(Table.RUNS, row) for row in rows]

    def find_replay(self, run_id: str, leaf_id: str, input_hash: str) -> Row | None:
        """The latest completed leaf run matching the replay key, or ``None``."""
        with self._conns.call("failed to look up a replay") as conn:
            row = conn.execute(
                _FIND_REPLAY,
                (escape(run_id), escape(leaf_id), escape(input_hash)),
            ).fetchone()
        return None if row is None else _row(Table.LEAVES, row)

    def delete_runs(self, run_ids: Sequence[str]) -> int:
        """Delete runs and everything under them in one transaction; how many existed."""
        keys = [escape(run_id) for run_id in run_ids]
        if not keys:
            return 0
        with self._conns.write("failed to delete workflow runs") as conn:
            # Children first, explicitly, as on SQLite (the foreign keys would cascade).
            for table in CHILD_TABLES:
                conn.execute(
                    f"DELETE FROM {table.value} WHERE workflow_run_id = ANY(%s)",
                    (keys,),
                )
            return conn.execute("DELETE FROM workflow_runs WHERE id = ANY(%s)", (keys,)).rowcount

    def finished_run_ids(self, before: int, keep_last: int | None) -> list[str]:
        """Runs completed before ``before``, sparing each workflow's ``keep_last`` latest."""
        with self._conns.call("failed to select runs for retention") as conn:
            if keep_last is None:
                rows = conn.execute(_FINISHED, (before,)).fetchall()
            else:
                rows = conn.execute(_FINISHED_KEEPING, (before, keep_last)).fetchall()
        return [unescape_row(row)[0] for row in rows]
