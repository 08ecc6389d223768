"""Rows of the five trace tables: column lists and row ↔ record mapping.

A row is a tuple of column values in the order of ``COLUMNS[table]`` (the original's
column order), JSON as text, statuses as strings. Every backend stores and returns
rows; the mapping to records lives here once so the backends cannot drift.
"""

from __future__ import annotations

import enum
from typing import Any, TypeVar

from .._json import decode_json, encode_json
from ..errors import CorruptData
from .records import (
    BranchRun,
    CandidateKind,
    CandidateStatus,
    ControlNodeRun,
    LeafRun,
    NodeKind,
    RunStatus,
    TeacherCandidate,
    WorkflowRun,
)

__all__ = [
    "COLUMNS",
    "Row",
    "Table",
    "branch_from_row",
    "candidate_from_row",
    "candidate_rationale_json",
    "control_node_from_row",
    "leaf_from_row",
    "run_from_row",
]

#: One row of a trace table, columns in ``COLUMNS[table]`` order.
Row = tuple[Any, ...]


class Table(enum.StrEnum):
    """The original's five trace tables (schema v2)."""

    RUNS = "workflow_runs"
    BRANCHES = "branch_runs"
    LEAVES = "leaf_runs"
    CONTROL_NODES = "control_node_runs"
    CANDIDATES = "teacher_candidates"


#: Columns of each table, in the original's order; ``id`` first, ``workflow_run_id``
#: second for every child table.
COLUMNS: dict[Table, tuple[str, ...]] = {
    Table.RUNS: (
        "id",
        "workflow_id",
        "goal",
        "status",
        "input_hash",
        "started_at",
        "completed_at",
        "metadata_json",
    ),
    Table.BRANCHES: (
        "id",
        "workflow_run_id",
        "branch_id",
        "node_id",
        "status",
        "started_at",
        "completed_at",
        "result_json",
    ),
    Table.LEAVES: (
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
    Table.CONTROL_NODES: (
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
    Table.CANDIDATES: (
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
CHILD_TABLES: tuple[Table, ...] = (
    Table.CANDIDATES,
    Table.LEAVES,
    Table.CONTROL_NODES,
    Table.BRANCHES,
)

_E = TypeVar("_E", bound=enum.StrEnum)


def stored_enum(raw: object, enum_type: type[_E]) -> _E | str:
    """A stored status or kind: the member if known, else the raw text (never fails)."""
    if isinstance(raw, str):
        try:
            return enum_type(raw)
        except ValueError:
            return raw
    return "" if raw is None else str(raw)


def _json(table: Table, row: Row, index: int) -> Any:
    raw = row[index]
    if raw is None:
        raise CorruptData(
            f"stored {COLUMNS[table][index]} in {table} (id={row[0]!r}) is NULL",
            table=table.value,
            row=f"id={row[0]!r}",
        )
    return decode_json(raw, table=table.value, row=f"id={row[0]!r}", column=COLUMNS[table][index])


def run_from_row(row: Row) -> WorkflowRun:
    """Map a ``workflow_runs`` row to a record.

    Raises:
        CorruptData: ``metadata_json`` is not valid JSON.
    """
    return WorkflowRun(
        id=row[0],
        workflow_id=row[1],
        goal=row[2],
        status=stored_enum(row[3], RunStatus),
        input_hash=row[4],
        started_at=row[5],
        completed_at=row[6],
        metadata=_json(Table.RUNS, row, 7),
    )


def branch_from_row(row: Row) -> BranchRun:
    """Map a ``branch_runs`` row to a record.

    Raises:
        CorruptData: ``result_json`` is not valid JSON.
    """
    return BranchRun(
        id=row[0],
        workflow_run_id=row[1],
        branch_id=row[2],
        node_id=row[3],
        status=stored_enum(row[4], RunStatus),
        started_at=row[5],
        completed_at=row[6],
        result=_json(Table.BRANCHES, row, 7),
    )


def leaf_from_row(row: Row) -> LeafRun:
    """Map a ``leaf_runs`` row to a record.

    Raises:
        CorruptData: ``output_json`` or ``artifacts_json`` is not valid JSON.
    """
    return LeafRun(
        id=row[0],
        workflow_run_id=row[1],
        branch_run_id=row[2],
        leaf_id=row[3],
        task_id=row[4],
        input_hash=row[5],
        status=stored_enum(row[6], RunStatus),
        output=_json(Table.LEAVES, row, 7),
        artifacts=_json(Table.LEAVES, row, 8),
        started_at=row[9],
        completed_at=row[10],
    )


def control_node_from_row(row: Row) -> ControlNodeRun:
    """Map a ``control_node_runs`` row to a record.

    Raises:
        CorruptData: ``selected_children_json`` or ``result_json`` is not valid JSON.
    """
    return ControlNodeRun(
        id=row[0],
        workflow_run_id=row[1],
        node_id=row[2],
        kind=stored_enum(row[3], NodeKind),
        status=stored_enum(row[4], RunStatus),
        selected_children=_json(Table.CONTROL_NODES, row, 5),
        result=_json(Table.CONTROL_NODES, row, 6),
        started_at=row[7],
        completed_at=row[8],
    )


_ENVELOPE_KEYS = frozenset({"kind", "status", "rationale"})


def candidate_rationale_json(kind: str, status: str, rationale_json: str) -> str:
    """The ``rationale_json`` text of a candidate: ``{"kind","rationale","status"}``.

    ``rationale_json`` is the already-encoded rationale, spliced in so the value is
    not encoded twice. Keys are in sorted order, as canonical JSON has them.
    """
    return (
        '{"kind":'
        + encode_json(kind, "candidate kind")
        + ',"rationale":'
        + rationale_json
        + ',"status":'
        + encode_json(status, "candidate status")
        + "}"
    )


def candidate_from_row(row: Row) -> TeacherCandidate:
    """Map a ``teacher_candidates`` row to a record (see :class:`TeacherCandidate`).

    Raises:
        CorruptData: ``rationale_json`` is not valid JSON.
    """
    stored = _json(Table.CANDIDATES, row, 7)
    if isinstance(stored, dict) and set(stored) == _ENVELOPE_KEYS:
        kind = stored_enum(stored["kind"], CandidateKind)
        status = stored_enum(stored["status"], CandidateStatus)
        rationale = stored["rationale"]
    else:  # written by another program: keep all of it as the rationale
        kind, status, rationale = CandidateKind.NOTE, CandidateStatus.PROPOSED, stored
    passed = row[6]
    return TeacherCandidate(
        id=row[0],
        workflow_run_id=row[1],
        control_node_run_id=row[2],
        candidate_id=row[3],
        branch_run_id=row[4],
        kind=kind,
        status=status,
        score=None if row[5] is None else float(row[5]),
        passed=None if passed is None else bool(passed),
        rationale=rationale,
        created_at=row[8],
    )
