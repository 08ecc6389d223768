"""The backend contract's workflow-trace part: rows in and out of the five trace tables.

The workflow facade (:class:`~threadloom.workflows.WorkflowStore`) validates
arguments, encodes JSON, reads the clock and checks that the runs and branches a row
names exist; a backend only moves rows in and out. A row is a tuple of column values
in :data:`TRACE_COLUMNS` order (the original's column order), JSON as text, statuses as
strings, exactly as the original's SQLite file holds them.

Conventions every backend follows:

- Writes join the caller's ``transaction()`` (a savepoint inside one), so the facade
  can group several calls into one atomic write.
- Lists are oldest first (``started_at``, or ``created_at`` for candidates, then
  insertion order), except :meth:`TraceOperations.list_workflow_runs`, which is newest
  first (insertion order breaks ties, newest first).
- Driver errors come out typed (``StoreBusy``, ``Conflict``, ``CorruptData``...).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["TRACE_CHILD_TABLES", "TRACE_COLUMNS", "TraceOperations", "TraceRow", "TraceTable"]

#: One row of a trace table, columns in ``TRACE_COLUMNS[table]`` order.
TraceRow = tuple[Any, ...]


class TraceTable(enum.StrEnum):
    """The original's five trace tables (schema v2)."""

    RUNS = "workflow_runs"
    BRANCHES = "branch_runs"
    LEAVES = "leaf_runs"
    CONTROL_NODES = "control_node_runs"
    CANDIDATES = "teacher_candidates"


#: Columns of each table, in the original's order; ``id`` first, ``workflow_run_id``
#: second for every child table. Rows crossing the contract follow this order.
TRACE_COLUMNS: dict[TraceTable, tuple[str, ...]] = {
    TraceTable.RUNS: (
        "id",
        "workflow_id",
        "goal",
        "status",
        "input_hash",
        "started_at",
        "completed_at",
        "metadata_json",
    ),
    TraceTable.BRANCHES: (
        "id",
        "workflow_run_id",
        "branch_id",
        "node_id",
        "status",
        "started_at",
        "completed_at",
        "result_json",
    ),
    TraceTable.LEAVES: (
        "id",
        "workflow_run_id",
        "branch_run_id",
        "leaf_id",
        "task_id",
        "input_hash",
        "status",
        "output_json",
        "artifacts_json",
        "started_at",
        "completed_at",
    ),
    TraceTable.CONTROL_NODES: (
        "id",
        "workflow_run_id",
        "node_id",
        "kind",
        "status",
        "selected_children_json",
        "result_json",
        "started_at",
        "completed_at",
    ),
    TraceTable.CANDIDATES: (
        "id",
        "workflow_run_id",
        "control_node_run_id",
        "candidate_id",
        "branch_run_id",
        "score",
        "passed",
        "rationale_json",
        "created_at",
    ),
}

#: Child tables, in the order a run's rows must be deleted (dependents first).
TRACE_CHILD_TABLES: tuple[TraceTable, ...] = (
    TraceTable.CANDIDATES,
    TraceTable.LEAVES,
    TraceTable.CONTROL_NODES,
    TraceTable.BRANCHES,
)


class TraceOperations(Protocol):
    """Row storage for the workflow trace tables."""

    def insert_trace_rows(self, table: TraceTable, rows: Sequence[TraceRow]) -> None:
        """Insert rows (all or none).

        Raises:
            Conflict: A row's ``id`` already exists, or a reference is dangling.
            StoreBusy: The write lock could not be had in time.
        """

    def update_trace_row(self, table: TraceTable, row: TraceRow) -> bool:
        """Overwrite the row with ``row[0]`` as id; whether it existed."""

    def get_trace_row(self, table: TraceTable, row_id: str) -> TraceRow | None:
        """One row by id."""

    def trace_rows_of_run(self, table: TraceTable, run_id: str) -> list[TraceRow]:
        """Every row of a child table for one run, oldest first."""

    def list_workflow_runs(
        self, *, workflow_id: str | None, status: str | None, limit: int, offset: int
    ) -> list[TraceRow]:
        """Runs, newest ``started_at`` first, optionally of one workflow and/or status."""

    def find_replay_leaf(self, run_id: str, leaf_id: str, input_hash: str) -> TraceRow | None:
        """The latest completed leaf run of ``run_id`` with this leaf id and input hash.

        The replay lookup: the hot path of a replayed run, one indexed query.
        """

    def delete_workflow_runs(self, run_ids: Sequence[str]) -> int:
        """Delete runs with every row under them (all or none); how many runs existed.

        Children are deleted explicitly, not left to ``ON DELETE CASCADE``: another
        program's connection to the original's file may have foreign keys off.
        """

    def finished_workflow_run_ids(self, before: int, keep_last: int | None) -> list[str]:
        """Ids of runs with ``completed_at < before``, sparing each workflow's latest.

        Args:
            before: Unix time; runs completed at or after it are kept.
            keep_last: Keep this many most recently completed runs of each workflow
                (whatever their age); ``None`` keeps none.

        Returns:
            The ids, oldest completion first.
        """
