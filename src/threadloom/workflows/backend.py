"""The contract a storage engine fulfils for :class:`~threadloom.workflows.WorkflowStore`.

The facade validates arguments, encodes JSON, reads the clock and checks that the
runs and branches a row names exist; a trace backend only moves rows (tuples in
:data:`~threadloom.workflows.rows.COLUMNS` order) in and out of the five tables.
Grouping several calls into one atomic write is done with the store backend's
``transaction()``, which every call here must join (SQLite: savepoints).

A non-SQLite store backend hands out its implementation from a
``workflow_trace_backend()`` method.

Conventions:

- Lists are oldest first (``started_at``, then insertion order) except
  :meth:`WorkflowTraceBackend.list_runs`, which is newest first (insertion order
  breaks ties, newest first).
- ``table`` arguments are :class:`~threadloom.workflows.rows.Table` members only, so
  they may be put into SQL text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .rows import Row, Table

__all__ = ["WorkflowTraceBackend"]


class WorkflowTraceBackend(Protocol):
    """Row storage for the workflow trace tables."""

    def insert_rows(self, table: Table, rows: Sequence[Row]) -> None:
        """Insert rows (all or none).

        Raises:
            Conflict: A row's ``id`` already exists, or a reference is dangling.
        """

    def update_row(self, table: Table, row: Row) -> bool:
        """Overwrite the row with ``row[0]`` as id; whether it existed."""

    def get_row(self, table: Table, row_id: str) -> Row | None:
        """One row by id."""

    def rows_of_run(self, table: Table, run_id: str) -> list[Row]:
        """Every row of a child table for one run, oldest first."""

    def list_runs(
        self, *, workflow_id: str | None, status: str | None, limit: int, offset: int
    ) -> list[Row]:
        """Runs, newest ``started_at`` first, optionally of one workflow and/or status."""

    def find_replay(self, run_id: str, leaf_id: str, input_hash: str) -> Row | None:
        """The latest completed leaf run of ``run_id`` with this leaf id and input hash."""

    def delete_runs(self, run_ids: Sequence[str]) -> int:
        """Delete runs with every row under them; how many runs existed."""

    def finished_run_ids(self, before: int, keep_last: int | None) -> list[str]:
        """Ids of runs with ``completed_at < before``, sparing each workflow's latest.

        Args:
            before: Unix time; runs completed at or after it are kept.
            keep_last: Keep this many most recently completed runs of each workflow
                (whatever their age); ``None`` keeps none.
        """
