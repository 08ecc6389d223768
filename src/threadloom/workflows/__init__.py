"""Workflow traces: runs, branches, leaves, control nodes, teacher candidates, replay.

The store lives on the original's schema-v2 tables (``workflow_runs``,
``branch_runs``, ``leaf_runs``, ``control_node_runs``, ``teacher_candidates``),
unchanged, so the original can still open the file. Reach it as
:attr:`threadloom.StateStore.workflows`.

This package is a facade over the backend contract's trace operations
(:class:`~threadloom.contract.TraceOperations`): it checks arguments, encodes JSON
and maps rows to records; each backend stores the rows.
"""

from ..contract import TraceOperations
from .hashing import canonical_json, compute_leaf_input_hash
from .records import (
    BranchRun,
    BranchTree,
    CandidateKind,
    CandidateStatus,
    ControlNodeRun,
    ControlNodeTree,
    LeafRun,
    NodeKind,
    ReplayOutcome,
    RunStatus,
    TeacherCandidate,
    WorkflowRun,
    WorkflowRunTree,
)
from .trace_rows import COLUMNS, Row, Table
from .workflow_store import WorkflowStore

#: The backend contract's trace operations, under the name this package gave them.
WorkflowTraceBackend = TraceOperations

__all__ = [
    "COLUMNS",
    "BranchRun",
    "BranchTree",
    "CandidateKind",
    "CandidateStatus",
    "ControlNodeRun",
    "ControlNodeTree",
    "LeafRun",
    "NodeKind",
    "ReplayOutcome",
    "Row",
    "RunStatus",
    "Table",
    "TeacherCandidate",
    "WorkflowRun",
    "WorkflowRunTree",
    "WorkflowStore",
    "WorkflowTraceBackend",
    "canonical_json",
    "compute_leaf_input_hash",
]
