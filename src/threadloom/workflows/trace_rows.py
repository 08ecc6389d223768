"""Rows of the five trace tables ↔ records.

A row is what crosses the backend contract: a tuple of column values in the order of
``COLUMNS[table]`` (the original's column order), JSON as text, statuses as strings.
Backends store and return rows; the mapping to records lives here once, above them.
"""

from __future__ import annotations

import enum
from typing import Any, TypeVar

from .._json import decode_json, encode_json
from ..contract import TRACE_COLUMNS, TraceRow, TraceTable
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

#: One row of a trace table, columns in ``COLUMNS[table]`` order (the contract's
#: :data:`~threadloom.contract.TraceRow`).
Row = TraceRow
#: The original's five trace tables (the contract's :class:`~threadloom.contract.TraceTable`).
Table = TraceTable
#: Columns of each table, in the original's order (the contract's
#: :data:`~threadloom.contract.TRACE_COLUMNS`): the order of a :data:`Row`.
COLUMNS = TRACE_COLUMNS

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
