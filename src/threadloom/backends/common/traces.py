"""Workflow-trace storage, written once for both SQL dialects.

:class:`TraceStatements` builds every statement of the trace tables from the
contract's column lists (:data:`~threadloom.contract.TRACE_COLUMNS`) and a
:class:`TraceDialect`; :class:`TraceStorage` implements
:class:`~threadloom.contract.TraceOperations` with them over three connection
primitives that each backend supplies (one-row read, all-rows read, a write
transaction). A backend's trace module is then its dialect and those primitives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ...contract import TRACE_CHILD_TABLES, TRACE_COLUMNS, TraceRow, TraceTable

__all__ = ["TraceDialect", "TraceStatements", "TraceStorage", "WriteStep"]

#: One statement of a write and its parameter sets (run once per set).
WriteStep = tuple[str, Sequence[Sequence[Any]]]


@dataclass(frozen=True, slots=True)
class TraceDialect:
    """What differs between the SQL dialects on the trace tables.

    Attributes:
        param: The placeholder of a parameter (``?``, ``%s``).
        insertion_order: The column holding insertion order, which breaks timestamp
            ties (SQLite's ``rowid``, PostgreSQL's ``seq``).
        json_in: Cast after the placeholder of a JSON text parameter.
        json_out: Cast after a JSON column read back as its stored text.
        replay_hint: Put after the table name in the replay lookup (an index hint).
        keys_as_array: A batch of keys is passed as one array (``= ANY(...)``) rather
            than the statement being run once per key.
        escape: The stored form of a text value outside JSON columns, if not the text
            itself (PostgreSQL cannot store NUL).
        unescape_row: Undoes ``escape`` on a row read back, leaving alone the JSON
            columns at the given positions.
    """

    param: str
    insertion_order: str
    json_in: str = ""
    json_out: str = ""
    replay_hint: str = ""
    keys_as_array: bool = False
    escape: Callable[[str], str] | None = None
    unescape_row: Callable[[Sequence[Any], tuple[int, ...]], TraceRow] | None = None


def _json_at(table: TraceTable) -> tuple[int, ...]:
    return tuple(i for i, name in enumerate(TRACE_COLUMNS[table]) if name.endswith("_json"))


class TraceStatements:
    """Every statement on the trace tables in one dialect, built once, and its codec.

    Args:
        dialect: The dialect to write them in.
    """

    def __init__(self, dialect: TraceDialect) -> None:
        d = self.dialect = dialect
        order = d.insertion_order
        self.json_at = {t: _json_at(t) for t in TraceTable}

        def select(table: TraceTable) -> str:
            names = (c + d.json_out if c.endswith("_json") else c for c in TRACE_COLUMNS[table])
            return f"SELECT {', '.join(names)} FROM {table.value}"

        def placeholders(table: TraceTable) -> list[str]:
            json_param = d.param + d.json_in
            return [json_param if c.endswith("_json") else d.param for c in TRACE_COLUMNS[table]]

        self.insert = {
            t: f"INSERT INTO {t.value} ({', '.join(cols)}) VALUES ({', '.join(placeholders(t))})"
            for t, cols in TRACE_COLUMNS.items()
        }
        self.update = {
            t: f"UPDATE {t.value} SET "
            + ", ".join(f"{c} = {p}" for c, p in zip(cols[1:], placeholders(t)[1:], strict=True))
            + f" WHERE id = {d.param}"
            for t, cols in TRACE_COLUMNS.items()
        }
        self.get = {t: f"{select(t)} WHERE id = {d.param}" for t in TraceTable}
        self.of_run = {
            t: f"{select(t)} WHERE workflow_run_id = {d.param} ORDER BY "
            + ("created_at" if t is TraceTable.CANDIDATES else "started_at")
            + f", {order}"
            for t in TRACE_CHILD_TABLES
        }
        # Keyed by (filtered by workflow_id, filtered by status).
        newest_first = f" ORDER BY started_at DESC, {order} DESC LIMIT {d.param} OFFSET {d.param}"
        self.list_runs: dict[tuple[bool, bool], str] = {}
        for by_workflow in (False, True):
            for by_status in (False, True):
                clauses = [f"workflow_id = {d.param}"] if by_workflow else []
                clauses += [f"status = {d.param}"] if by_status else []
                where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
                self.list_runs[by_workflow, by_status] = (
                    select(TraceTable.RUNS) + where + newest_first
                )
        # idx_leaf_runs_replay_lookup leads to the few matching rows, which are then
        # sorted: a handful of page reads however many leaves are stored.
        self.find_replay = (
            f"{select(TraceTable.LEAVES)}{d.replay_hint} WHERE workflow_run_id = {d.param} "
            f"AND leaf_id = {d.param} AND input_hash = {d.param} AND completed_at IS NOT NULL "
            f"ORDER BY completed_at DESC, {order} DESC LIMIT 1"
        )
        match = f"= ANY({d.param})" if d.keys_as_array else f"= {d.param}"
        self.delete_runs: list[str] = [
            *(f"DELETE FROM {t.value} WHERE workflow_run_id {match}" for t in TRACE_CHILD_TABLES),
            f"DELETE FROM workflow_runs WHERE id {match}",  # last: its count is the answer
        ]
        self.finished = (
            "SELECT id FROM workflow_runs WHERE completed_at IS NOT NULL "
            f"AND completed_at < {d.param} ORDER BY completed_at, {order}"
        )
        self.finished_keeping = f"""
SELECT id FROM (
    SELECT id, completed_at, {order} AS insertion_order, ROW_NUMBER() OVER (
        PARTITION BY workflow_id ORDER BY completed_at DESC, started_at DESC, {order} DESC
    ) AS recency
    FROM workflow_runs WHERE completed_at IS NOT NULL
) ranked WHERE completed_at < {d.param} AND recency > {d.param}
ORDER BY completed_at, insertion_order
"""

    # -- codec ---------------------------------------------------------------------

    def keys(self, *texts: str) -> tuple[str, ...]:
        """Text parameters (ids, filters) in their stored form."""
        escape = self.dialect.escape
        return texts if escape is None else tuple(map(escape, texts))

    def params(self, table: TraceTable, row: TraceRow) -> TraceRow:
        """A row's values as parameters, in their stored form."""
        escape = self.dialect.escape
        if escape is None:
            return row
        json_at = self.json_at[table]
        return tuple(
            escape(value)
            if type(value) is str and i not in json_at
            else int(value)  # the original's INTEGER flag
            if isinstance(value, bool)
            else value
            for i, value in enumerate(row)
        )

    def row(self, table: TraceTable, stored: Sequence[Any]) -> TraceRow:
        """A row read back, as the contract's tuple of original values."""
        unescape = self.dialect.unescape_row
        if unescape is None:
            return tuple(stored)
        return unescape(stored, self.json_at[table])

    def key_batch(self, keys: Sequence[str]) -> list[tuple[Any, ...]]:
        """Parameter sets matching ``keys`` for the ``delete_runs`` statements."""
        if self.dialect.keys_as_array:
            return [(list(keys),)]
        return [(key,) for key in keys]


class TraceStorage:
    """:class:`~threadloom.contract.TraceOperations` over a backend's connection primitives.

    A backend mixes this in, sets :attr:`_trace_sql` to its dialect's statements and
    implements :meth:`_trace_write`; reads use the backend's ``_one`` and ``_all``.
    """

    _trace_sql: ClassVar[TraceStatements]

    # -- what the backend supplies -----------------------------------------------------

    def _one(self, what: str, sql: str, params: Any = ()) -> Sequence[Any] | None:
        """Run one read statement; its first row, or ``None`` (the backend's own).

        Raises:
            ThreadloomError: A driver error, translated (``what`` says what failed).
        """
        raise NotImplementedError

    def _all(self, what: str, sql: str, params: Any = ()) -> list[Any]:
        """Run one read statement; every row (the backend's own).

        Raises:
            ThreadloomError: A driver error, translated.
        """
        raise NotImplementedError

    def _trace_write(self, what: str, steps: Sequence[WriteStep]) -> list[int]:
        """Run the steps in one write transaction (a savepoint inside an open one).

        Returns:
            Each step's count of rows changed, summed over its parameter sets.

        Raises:
            Conflict: A duplicate id or a dangling reference.
            StoreBusy: The write lock could not be had in time.
        """
        raise NotImplementedError

    # -- TraceOperations -----------------------------------------------------------------

    def insert_trace_rows(self, table: TraceTable, rows: Sequence[TraceRow]) -> None:
        """Insert rows in one transaction (all or none).

        Raises:
            Conflict: An id already exists, or a reference is dangling.
            StoreBusy: The write lock could not be had in time.
        """
        sql = self._trace_sql
        batch = [sql.params(table, row) for row in rows]
        self._trace_write(f"failed to record {table.value}", [(sql.insert[table], batch)])

    def update_trace_row(self, table: TraceTable, row: TraceRow) -> bool:
        """Overwrite the row whose id is ``row[0]``; whether it existed.

        Raises:
            StoreBusy: The write lock could not be had in time.
        """
        sql = self._trace_sql
        params = sql.params(table, row)
        counts = self._trace_write(
            f"failed to update {table.value}", [(sql.update[table], [(*params[1:], params[0])])]
        )
        return counts[0] > 0

    def get_trace_row(self, table: TraceTable, row_id: str) -> TraceRow | None:
        """One row by id, or ``None``."""
        sql = self._trace_sql
        row = self._one(f"failed to read {table.value}", sql.get[table], sql.keys(row_id))
        return None if row is None else sql.row(table, row)

    def trace_rows_of_run(self, table: TraceTable, run_id: str) -> list[TraceRow]:
        """A run's rows of a child table, oldest first (insertion order breaks ties)."""
        sql = self._trace_sql
        rows = self._all(f"failed to read {table.value}", sql.of_run[table], sql.keys(run_id))
        return [sql.row(table, row) for row in rows]

    def list_workflow_runs(
        self, *, workflow_id: str | None, status: str | None, limit: int, offset: int
    ) -> list[TraceRow]:
        """Runs newest first (ties: latest recorded first), optionally filtered."""
        sql = self._trace_sql
        filters = [value for value in (workflow_id, status) if value is not None]
        rows = self._all(
            "failed to list workflow runs",
            sql.list_runs[workflow_id is not None, status is not None],
            (*sql.keys(*filters), limit, offset),
        )
        return [sql.row(TraceTable.RUNS, row) for row in rows]

    def find_replay_leaf(self, run_id: str, leaf_id: str, input_hash: str) -> TraceRow | None:
        """The latest completed leaf run matching the replay key, or ``None``."""
        sql = self._trace_sql
        row = self._one(
            "failed to look up a replay", sql.find_replay, sql.keys(run_id, leaf_id, input_hash)
        )
        return None if row is None else sql.row(TraceTable.LEAVES, row)

    def delete_workflow_runs(self, run_ids: Sequence[str]) -> int:
        """Delete runs and every row under them in one transaction; how many existed.

        Raises:
            StoreBusy: The write lock could not be had in time.
        """
        if not run_ids:
            return 0
        sql = self._trace_sql
        batch = sql.key_batch(sql.keys(*run_ids))
        counts = self._trace_write(
            "failed to delete workflow runs", [(stmt, batch) for stmt in sql.delete_runs]
        )
        return max(counts[-1], 0)

    def finished_workflow_run_ids(self, before: int, keep_last: int | None) -> list[str]:
        """Runs completed before ``before``, sparing each workflow's ``keep_last`` latest."""
        sql = self._trace_sql
        what = "failed to select runs for retention"
        if keep_last is None:
            rows = self._all(what, sql.finished, (before,))
        else:
            rows = self._all(what, sql.finished_keeping, (before, keep_last))
        return [sql.row(TraceTable.RUNS, row)[0] for row in rows]
