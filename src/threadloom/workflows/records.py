"""Workflow trace records and their statuses.

A *workflow run* is one execution of a workflow spec. Under it the store keeps the
*branch runs* (groups of children), *leaf runs* (one agent task each, with the
``input_hash`` replay looks up), *control-node runs* (``sequence``, ``reduce``,
``teacher_review``...) and the *teacher candidates* a review proposed.

Statuses and kinds are :class:`enum.StrEnum` members with the original workflow
engine's values. A value this version does not know (written by a newer engine) is
read back as the plain ``str`` instead of failing, so every status field is typed
``Enum | str``; compare with ``==`` and both work.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

from .._json import JSONValue

__all__ = [
    "BranchRun",
    "BranchTree",
    "CandidateKind",
    "CandidateStatus",
    "ControlNodeRun",
    "ControlNodeTree",
    "LeafRun",
    "NodeKind",
    "ReplayOutcome",
    "RunStatus",
    "TeacherCandidate",
    "WorkflowRun",
    "WorkflowRunTree",
]


class RunStatus(enum.StrEnum):
    """Status of a workflow run, and of its branch, leaf and control-node runs."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    BUDGET_EXCEEDED = "budget_exceeded"
    REPLAY_DIVERGED = "replay_diverged"


class NodeKind(enum.StrEnum):
    """Kind of a node in a workflow spec (control-node runs record one of these)."""

    BRANCH_SET = "branch_set"
    LEAF = "leaf"
    SEQUENCE = "sequence"
    REDUCE = "reduce"
    TEACHER_REVIEW = "teacher_review"
    LOOP_UNTIL = "loop_until"
    COND = "cond"
    EXPAND = "expand"


class CandidateKind(enum.StrEnum):
    """What a teacher-review candidate proposes."""

    NOTE = "note"
    WORKFLOW_RECIPE = "workflow_recipe"
    SKILL_PATCH = "skill_patch"
    REGRESSION_TEST = "regression_test"
    CACHE_POLICY_PATCH = "cache_policy_patch"
    BRANCH_HEURISTIC = "branch_heuristic"
    AUTHORING_PROMPT_PATCH = "authoring_prompt_patch"


class CandidateStatus(enum.StrEnum):
    """Where a teacher-review candidate stands."""

    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PROMOTED = "promoted"


#: Statuses after which a run, branch or leaf is over (``completed_at`` is stamped).
TERMINAL_STATUSES = frozenset(
    {
        RunStatus.SUCCEEDED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
        RunStatus.BUDGET_EXCEEDED,
        RunStatus.REPLAY_DIVERGED,
    }
)


class _TraceRecord:
    """Shared ``to_dict``: fields in declaration order, enums as their strings."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict (statuses and kinds as strings)."""
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, enum.Enum):
                value = value.value
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowRun(_TraceRecord):
    """One execution of a workflow (table ``workflow_runs``)."""

    id: str
    workflow_id: str
    goal: str
    status: RunStatus | str
    input_hash: str | None
    started_at: int
    completed_at: int | None
    metadata: JSONValue


@dataclass(frozen=True, slots=True, kw_only=True)
class BranchRun(_TraceRecord):
    """A branch of a run: children run in parallel or in order (table ``branch_runs``).

    ``result`` holds the branch result (``task_id``, ``usage``, ``artifacts``,
    ``notes``... whatever the engine reports).
    """

    id: str
    workflow_run_id: str
    branch_id: str
    node_id: str
    status: RunStatus | str
    started_at: int
    completed_at: int | None
    result: JSONValue


@dataclass(frozen=True, slots=True, kw_only=True)
class LeafRun(_TraceRecord):
    """One agent task of a run (table ``leaf_runs``).

    ``input_hash`` is what replay looks up (see
    :func:`~threadloom.workflows.compute_leaf_input_hash`).
    """

    id: str
    workflow_run_id: str
    branch_run_id: str | None
    leaf_id: str
    task_id: str
    input_hash: str | None
    status: RunStatus | str
    output: JSONValue
    artifacts: JSONValue
    started_at: int
    completed_at: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlNodeRun(_TraceRecord):
    """A control node's run: which children it selected and its summary (``control_node_runs``)."""

    id: str
    workflow_run_id: str
    node_id: str
    kind: NodeKind | str
    status: RunStatus | str
    selected_children: JSONValue
    result: JSONValue
    started_at: int
    completed_at: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TeacherCandidate(_TraceRecord):
    """A candidate proposed by a teacher review (table ``teacher_candidates``).

    The table has no columns for ``kind`` and ``status``: they are kept in
    ``rationale_json`` as ``{"kind": .., "status": .., "rationale": ..}``. A row
    written by another program, without that envelope, reads as kind ``note``,
    status ``proposed``, with its whole JSON as ``rationale``.
    """

    id: str
    workflow_run_id: str
    control_node_run_id: str
    candidate_id: str
    branch_run_id: str | None
    kind: CandidateKind | str
    status: CandidateStatus | str
    score: float | None
    passed: bool | None
    rationale: JSONValue
    created_at: int


@dataclass(frozen=True, slots=True)
class BranchTree:
    """A branch run with the leaf runs recorded under it, oldest first."""

    branch: BranchRun
    leaves: tuple[LeafRun, ...]


@dataclass(frozen=True, slots=True)
class ControlNodeTree:
    """A control-node run with the teacher candidates it proposed, oldest first."""

    control_node: ControlNodeRun
    candidates: tuple[TeacherCandidate, ...]


@dataclass(frozen=True, slots=True)
class WorkflowRunTree:
    """A whole run read back at once: run → branches → leaves, control nodes → candidates.

    Attributes:
        run: The run itself.
        branches: Its branch runs, oldest first, each with its leaves.
        leaves: Leaf runs not under any branch, oldest first.
        control_nodes: Its control-node runs, oldest first, each with its candidates.
    """

    run: WorkflowRun
    branches: tuple[BranchTree, ...]
    leaves: tuple[LeafRun, ...]
    control_nodes: tuple[ControlNodeTree, ...]

    def iter_leaves(self) -> Iterator[LeafRun]:
        """Every leaf run of the run: those of each branch, then those without one."""
        for branch in self.branches:
            yield from branch.leaves
        yield from self.leaves

    def iter_candidates(self) -> Iterator[TeacherCandidate]:
        """Every teacher candidate of the run."""
        for node in self.control_nodes:
            yield from node.candidates


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    """What :meth:`WorkflowStore.replay_leaf` found and recorded.

    Attributes:
        hit: Whether the previous run recorded this leaf with the same input hash.
        output: The recorded output on a hit; ``None`` on a miss.
        artifacts: The recorded artifacts on a hit; ``None`` on a miss.
        recorded: The previous run's leaf run that was reused (``None`` on a miss).
        leaf: The leaf run written into the new run: a copy of the recorded result on
            a hit; a ``replay_diverged`` leaf to fill in (``update_leaf``) on a miss.
    """

    hit: bool
    output: JSONValue
    artifacts: JSONValue
    recorded: LeafRun | None
    leaf: LeafRun
