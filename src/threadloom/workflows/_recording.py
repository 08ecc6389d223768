"""Recording the parts of a run: branch, leaf and control-node runs, teacher candidates.

Statuses default to ``running``; a terminal status stamps ``completed_at`` with the
current time unless one is given. JSON arguments left out take the column's default
(``{}``, or ``[]`` for artifacts and selected children); ``None`` is stored as JSON
``null``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .._json import JSONValue
from ..errors import InvalidRecord
from . import _checks as c
from ._checks import UNSET, Unset
from ._facade import FacadeBase
from .records import (
    BranchRun,
    CandidateKind,
    CandidateStatus,
    ControlNodeRun,
    LeafRun,
    NodeKind,
    RunStatus,
    TeacherCandidate,
)
from .trace_rows import (
    Row,
    Table,
    branch_from_row,
    candidate_from_row,
    candidate_rationale_json,
    control_node_from_row,
    leaf_from_row,
)

__all__ = ["RecordingMixin"]


def _completion(changes: dict[str, Any], completed_at: int | Unset | None) -> None:
    if not isinstance(completed_at, Unset):
        changes["completed_at"] = (
            None if completed_at is None else c.check_time(completed_at, "completed_at")
        )


class RecordingMixin(FacadeBase):
    """The recording half of :class:`~threadloom.workflows.WorkflowStore`."""

    # -- branches --------------------------------------------------------------------

    def record_branch(
        self,
        run_id: str,
        branch_id: str,
        node_id: str,
        *,
        status: RunStatus | str = RunStatus.RUNNING,
        result: JSONValue = UNSET,
        branch_run_id: str | None = None,
        started_at: int | None = None,
        completed_at: int | None = None,
    ) -> BranchRun:
        """Record a branch run of ``run_id``.

        Args:
            run_id: The workflow run.
            branch_id: The branch's id in the spec.
            node_id: The spec node it runs.
            status: Its status (default ``running``).
            result: The branch result as JSON (default ``{}``).
            branch_run_id: This row's id (default: random).
            started_at: Unix time (default: now).
            completed_at: Unix time (default: now for a terminal status).

        Raises:
            NotFound: No such run.
            InvalidRecord: A bad status or time, or a result that is not JSON.
            Conflict: ``branch_run_id`` already exists.
        """
        state = c.enum_value(status, RunStatus, "status")
        row: Row = (
            c.new_id() if branch_run_id is None else c.check_str(branch_run_id, "branch_run_id"),
            c.check_str(run_id, "run_id"),
            c.check_str(branch_id, "branch_id"),
            c.check_str(node_id, "node_id"),
            state,
            self._started(started_at),
            self._ended(state, completed_at),
            c.encode({} if result is UNSET else result, "branch result"),
        )
        return branch_from_row(self._insert(Table.BRANCHES, row))

    def update_branch(
        self,
        branch_run_id: str,
        *,
        status: RunStatus | str | None = None,
        result: JSONValue = UNSET,
        completed_at: int | Unset | None = UNSET,
    ) -> BranchRun:
        """Change a branch run's status, result or completion time.

        Raises:
            NotFound: No such branch run.
            InvalidRecord: A bad status or time, or a result that is not JSON.
        """
        changes: dict[str, Any] = {}
        if status is not None:
            changes["status"] = c.enum_value(status, RunStatus, "status")
        if result is not UNSET:
            changes["result_json"] = c.encode(result, "branch result")
        _completion(changes, completed_at)
        return branch_from_row(self._update(Table.BRANCHES, branch_run_id, changes))

    # -- leaves ----------------------------------------------------------------------

    def record_leaf(
        self,
        run_id: str,
        leaf_id: str,
        task_id: str,
        *,
        input_hash: str | None = None,
        status: RunStatus | str = RunStatus.RUNNING,
        output: JSONValue = UNSET,
        artifacts: JSONValue = UNSET,
        branch_run_id: str | None = None,
        leaf_run_id: str | None = None,
        started_at: int | None = None,
        completed_at: int | None = None,
    ) -> LeafRun:
        """Record a leaf run (one agent task) of ``run_id``.

        Args:
            run_id: The workflow run.
            leaf_id: The leaf's id in the spec.
            task_id: The agent task that runs it.
            input_hash: :func:`~threadloom.workflows.compute_leaf_input_hash` of its
                inputs; replay looks leaves up by it.
            status: Its status (default ``running``).
            output: Its output as JSON (default ``{}``).
            artifacts: Its artifacts as JSON (default ``[]``).
            branch_run_id: The branch run it belongs to, if any (same run).
            leaf_run_id: This row's id (default: random).
            started_at: Unix time (default: now).
            completed_at: Unix time (default: now for a terminal status).

        Raises:
            NotFound: No such run or branch run.
            InvalidRecord: A bad status or time, JSON that does not encode, or a
                branch run of another run.
            Conflict: ``leaf_run_id`` already exists.
        """
        state = c.enum_value(status, RunStatus, "status")
        row: Row = (
            c.new_id() if leaf_run_id is None else c.check_str(leaf_run_id, "leaf_run_id"),
            c.check_str(run_id, "run_id"),
            c.check_opt_str(branch_run_id, "branch_run_id"),
            c.check_str(leaf_id, "leaf_id"),
            c.check_str(task_id, "task_id"),
            c.check_opt_str(input_hash, "input_hash"),
            state,
            c.encode({} if output is UNSET else output, "leaf output"),
            c.encode([] if artifacts is UNSET else artifacts, "leaf artifacts"),
            self._started(started_at),
            self._ended(state, completed_at),
        )
        return leaf_from_row(self._insert(Table.LEAVES, row, branch_run_id))

    def record_leaf_runs(self, leaves: Iterable[LeafRun]) -> int:
        """Record many complete leaf runs at once (an import, a bulk load), atomically.

        Every record is checked and encoded first; then one transaction checks the
        runs and branch runs they name and inserts them all.

        Returns:
            How many leaf runs were recorded.

        Raises:
            NotFound: A run or branch run they name does not exist.
            InvalidRecord: A record has a bad field, or a branch run of another run.
            Conflict: A leaf run id already exists.
        """
        rows: list[Row] = []
        for leaf in leaves:
            if not isinstance(leaf, LeafRun):
                raise InvalidRecord(f"expected LeafRun records, got {type(leaf).__name__}")
            rows.append(
                (
                    c.check_str(leaf.id, "leaf.id"),
                    c.check_str(leaf.workflow_run_id, "leaf.workflow_run_id"),
                    c.check_opt_str(leaf.branch_run_id, "leaf.branch_run_id"),
                    c.check_str(leaf.leaf_id, "leaf.leaf_id"),
                    c.check_str(leaf.task_id, "leaf.task_id"),
                    c.check_opt_str(leaf.input_hash, "leaf.input_hash"),
                    c.enum_value(leaf.status, RunStatus, "leaf.status"),
                    c.encode(leaf.output, "leaf output"),
                    c.encode(leaf.artifacts, "leaf artifacts"),
                    c.check_time(leaf.started_at, "leaf.started_at"),
                    None
                    if leaf.completed_at is None
                    else c.check_time(leaf.completed_at, "leaf.completed_at"),
                )
            )
        with self._backend.transaction():
            for run_id in {row[1] for row in rows}:
                self._require(Table.RUNS, run_id)
            for run_id, branch in {(row[1], row[2]) for row in rows if row[2] is not None}:
                self._require_branch_of(run_id, branch)
            self._backend.insert_trace_rows(Table.LEAVES, rows)
        return len(rows)

    def update_leaf(
        self,
        leaf_run_id: str,
        *,
        status: RunStatus | str | None = None,
        output: JSONValue = UNSET,
        artifacts: JSONValue = UNSET,
        completed_at: int | Unset | None = UNSET,
    ) -> LeafRun:
        """Change a leaf run's status, output, artifacts or completion time.

        Raises:
            NotFound: No such leaf run.
            InvalidRecord: A bad status or time, or JSON that does not encode.
        """
        changes: dict[str, Any] = {}
        if status is not None:
            changes["status"] = c.enum_value(status, RunStatus, "status")
        if output is not UNSET:
            changes["output_json"] = c.encode(output, "leaf output")
        if artifacts is not UNSET:
            changes["artifacts_json"] = c.encode(artifacts, "leaf artifacts")
        _completion(changes, completed_at)
        return leaf_from_row(self._update(Table.LEAVES, leaf_run_id, changes))

    # -- control nodes ---------------------------------------------------------------

    def record_control_node(
        self,
        run_id: str,
        node_id: str,
        kind: NodeKind | str,
        *,
        status: RunStatus | str = RunStatus.RUNNING,
        selected_children: Sequence[str] = (),
        result: JSONValue = UNSET,
        control_node_run_id: str | None = None,
        started_at: int | None = None,
        completed_at: int | None = None,
    ) -> ControlNodeRun:
        """Record a control node's run (``sequence``, ``reduce``, ``teacher_review``...).

        Args:
            run_id: The workflow run.
            node_id: The node's id in the spec.
            kind: The node kind.
            status: Its status (default ``running``).
            selected_children: Ids of the children it chose to run.
            result: Its result or summary as JSON (default ``{}``).
            control_node_run_id: This row's id (default: random).
            started_at: Unix time (default: now).
            completed_at: Unix time (default: now for a terminal status).

        Raises:
            NotFound: No such run.
            InvalidRecord: A bad kind, status or time, or JSON that does not encode.
            Conflict: ``control_node_run_id`` already exists.
        """
        state = c.enum_value(status, RunStatus, "status")
        row: Row = (
            c.new_id()
            if control_node_run_id is None
            else c.check_str(control_node_run_id, "control_node_run_id"),
            c.check_str(run_id, "run_id"),
            c.check_str(node_id, "node_id"),
            c.enum_value(kind, NodeKind, "kind"),
            state,
            c.encode(c.check_children(selected_children), "selected children"),
            c.encode({} if result is UNSET else result, "control-node result"),
            self._started(started_at),
            self._ended(state, completed_at),
        )
        return control_node_from_row(self._insert(Table.CONTROL_NODES, row))

    def update_control_node(
        self,
        control_node_run_id: str,
        *,
        status: RunStatus | str | None = None,
        selected_children: Sequence[str] | None = None,
        result: JSONValue = UNSET,
        completed_at: int | Unset | None = UNSET,
    ) -> ControlNodeRun:
        """Change a control-node run's status, selected children, result or end time.

        Raises:
            NotFound: No such control-node run.
            InvalidRecord: A bad status or time, or JSON that does not encode.
        """
        changes: dict[str, Any] = {}
        if status is not None:
            changes["status"] = c.enum_value(status, RunStatus, "status")
        if selected_children is not None:
            children = c.check_children(selected_children)
            changes["selected_children_json"] = c.encode(children, "selected children")
        if result is not UNSET:
            changes["result_json"] = c.encode(result, "control-node result")
        _completion(changes, completed_at)
        return control_node_from_row(
            self._update(Table.CONTROL_NODES, control_node_run_id, changes)
        )

    # -- teacher candidates ----------------------------------------------------------

    def record_candidate(
        self,
        control_node_run_id: str,
        candidate_id: str,
        kind: CandidateKind | str,
        *,
        status: CandidateStatus | str = CandidateStatus.PROPOSED,
        branch_run_id: str | None = None,
        score: float | None = None,
        passed: bool | None = None,
        rationale: JSONValue = UNSET,
        id: str | None = None,
        created_at: int | None = None,
    ) -> TeacherCandidate:
        """Record a candidate proposed by a teacher review (a control-node run).

        Args:
            control_node_run_id: The review's control-node run; the candidate belongs
                to the same workflow run.
            candidate_id: ``"<review id>:<branch or leaf id>"``.
            kind: What it proposes.
            status: Default ``proposed``.
            branch_run_id: The branch run it is about, if any (same run).
            score: The review's score.
            passed: Whether it passed the review.
            rationale: Why, as JSON (default ``{}``).
            id: This row's id (default: random).
            created_at: Unix time (default: now).

        Raises:
            NotFound: No such control-node run or branch run.
            InvalidRecord: A bad kind, status, score or time, or JSON that does not encode.
            Conflict: ``id`` already exists.
        """
        kind_text = c.enum_value(kind, CandidateKind, "kind")
        status_text = c.enum_value(status, CandidateStatus, "status")
        rationale_json = c.encode({} if rationale is UNSET else rationale, "candidate rationale")
        node_key = c.check_str(control_node_run_id, "control_node_run_id")
        fields = (
            c.new_id() if id is None else c.check_str(id, "id"),
            c.check_str(candidate_id, "candidate_id"),
            c.check_opt_str(branch_run_id, "branch_run_id"),
            c.check_score(score),
            c.check_passed(passed),
            candidate_rationale_json(kind_text, status_text, rationale_json),
            self._now() if created_at is None else c.check_time(created_at, "created_at"),
        )
        with self._backend.transaction():
            run_id = self._require(Table.CONTROL_NODES, node_key)[1]
            row: Row = (fields[0], run_id, node_key, *fields[1:])
            self._insert(Table.CANDIDATES, row, branch_run_id)
        return candidate_from_row(row)

    def update_candidate(
        self,
        id: str,
        *,
        status: CandidateStatus | str | None = None,
        score: float | Unset | None = UNSET,
        passed: bool | Unset | None = UNSET,
        rationale: JSONValue = UNSET,
    ) -> TeacherCandidate:
        """Change a candidate's status, score, pass flag or rationale.

        Raises:
            NotFound: No such candidate.
            InvalidRecord: A bad status or score, or JSON that does not encode.
        """
        status_text = None if status is None else c.enum_value(status, CandidateStatus, "status")
        new_rationale = None if rationale is UNSET else c.encode(rationale, "candidate rationale")
        changes: dict[str, Any] = {}
        if not isinstance(score, Unset):
            changes["score"] = c.check_score(score)
        if not isinstance(passed, Unset):
            changes["passed"] = c.check_passed(passed)
        with self._backend.transaction():
            current = candidate_from_row(self._require(Table.CANDIDATES, id))
            if status_text is not None or new_rationale is not None:
                changes["rationale_json"] = candidate_rationale_json(
                    str(current.kind),
                    str(current.status) if status_text is None else status_text,
                    c.encode(current.rationale, "candidate rationale")
                    if new_rationale is None
                    else new_rationale,
                )
            return candidate_from_row(self._update(Table.CANDIDATES, id, changes))
