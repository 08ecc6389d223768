"""The workflow trace store: record runs as they progress, read them back, replay them.

Reached as :attr:`threadloom.StateStore.workflows`. Every write checks its arguments
and encodes its JSON before it touches the database, and runs in one transaction, so
a failure leaves no half-written rows. Unknown run ids raise
:class:`~threadloom.errors.NotFound`; bad statuses and values raise
:class:`~threadloom.errors.InvalidRecord` (a ``ValueError``).
"""

from __future__ import annotations

from typing import Any

from .._json import JSONValue
from ..errors import InvalidRecord
from . import _checks as c
from ._checks import UNSET, Unset
from ._recording import RecordingMixin
from .records import (
    TERMINAL_STATUSES,
    BranchTree,
    ControlNodeTree,
    LeafRun,
    ReplayOutcome,
    RunStatus,
    WorkflowRun,
    WorkflowRunTree,
)
from .trace_rows import (
    Row,
    Table,
    branch_from_row,
    candidate_from_row,
    control_node_from_row,
    leaf_from_row,
    run_from_row,
)

__all__ = ["WorkflowStore"]


class WorkflowStore(RecordingMixin):
    """Workflow runs with their branches, leaves, control nodes and teacher candidates.

    Args:
        backend: The store's backend: anything with the contract's trace operations
            (:class:`~threadloom.contract.TraceOperations`), ``transaction()`` and
            ``snapshot()``.
        clock: Returns the current Unix time in seconds (default: wall clock).
    """

    # -- runs ------------------------------------------------------------------------

    def start_run(
        self,
        workflow_id: str,
        goal: str,
        *,
        input_hash: str | None = None,
        metadata: JSONValue = UNSET,
        status: RunStatus | str = RunStatus.RUNNING,
        run_id: str | None = None,
        started_at: int | None = None,
    ) -> WorkflowRun:
        """Record the start of a workflow run.

        Args:
            workflow_id: The workflow spec's id.
            goal: The workflow's goal.
            input_hash: A hash of the run's inputs, if the caller keeps one.
            metadata: Any JSON (default ``{}``).
            status: The initial status (default ``running``).
            run_id: The run's id (default: a random hex id).
            started_at: Unix time (default: now).

        Returns:
            The stored run.

        Raises:
            InvalidRecord: A bad status or argument, or metadata that is not JSON.
            Conflict: ``run_id`` already exists.
        """
        state = c.enum_value(status, RunStatus, "status")
        row: Row = (
            c.new_id() if run_id is None else c.check_str(run_id, "run_id"),
            c.check_str(workflow_id, "workflow_id"),
            c.check_str(goal, "goal"),
            state,
            c.check_opt_str(input_hash, "input_hash"),
            self._now() if started_at is None else c.check_time(started_at, "started_at"),
            self._ended(state, None),
            c.encode({} if metadata is UNSET else metadata, "run metadata"),
        )
        self._backend.insert_trace_rows(Table.RUNS, [row])
        return run_from_row(row)

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | str | None = None,
        metadata: JSONValue = UNSET,
        completed_at: int | Unset | None = UNSET,
    ) -> WorkflowRun:
        """Change a run's status, metadata or completion time.

        A terminal status (anything but ``pending``/``running``) stamps
        ``completed_at`` with the current time if it is not set and not given.

        Raises:
            NotFound: No such run.
            InvalidRecord: A bad status, time, or metadata that is not JSON.
        """
        changes: dict[str, Any] = {}
        if status is not None:
            changes["status"] = c.enum_value(status, RunStatus, "status")
        if metadata is not UNSET:
            changes["metadata_json"] = c.encode(metadata, "run metadata")
        if not isinstance(completed_at, Unset):
            changes["completed_at"] = (
                None if completed_at is None else c.check_time(completed_at, "completed_at")
            )
        return run_from_row(self._update(Table.RUNS, run_id, changes))

    def finish_run(
        self,
        run_id: str,
        status: RunStatus | str,
        *,
        completed_at: int | None = None,
        metadata: JSONValue = UNSET,
    ) -> WorkflowRun:
        """Mark a run finished with a terminal status.

        Args:
            run_id: The run.
            status: ``succeeded``, ``failed``, ``cancelled``, ``budget_exceeded`` or
                ``replay_diverged``.
            completed_at: Unix time (default: now).
            metadata: New metadata, if given.

        Raises:
            NotFound: No such run.
            InvalidRecord: ``status`` is not a terminal status.
        """
        state = c.enum_value(status, RunStatus, "status")
        if state not in TERMINAL_STATUSES:
            raise InvalidRecord(f"finish_run needs a terminal status, got {state!r}")
        end = self._now() if completed_at is None else completed_at
        return self.update_run(run_id, status=state, metadata=metadata, completed_at=end)

    def get_run(self, run_id: str) -> WorkflowRun | None:
        """One run without its children, or ``None`` if it does not exist.

        Raises:
            CorruptData: The stored metadata is not JSON.
        """
        row = self._backend.get_trace_row(Table.RUNS, c.check_str(run_id, "run_id"))
        return None if row is None else run_from_row(row)

    def get_run_tree(self, run_id: str) -> WorkflowRunTree:
        """A run with everything recorded under it, read in one snapshot.

        Raises:
            NotFound: No such run.
            CorruptData: A stored JSON column does not parse.
        """
        with self._backend.snapshot():
            run = run_from_row(self._require(Table.RUNS, run_id))
            branches = [
                branch_from_row(r) for r in self._backend.trace_rows_of_run(Table.BRANCHES, run.id)
            ]
            leaves = [
                leaf_from_row(r) for r in self._backend.trace_rows_of_run(Table.LEAVES, run.id)
            ]
            nodes = [
                control_node_from_row(r)
                for r in self._backend.trace_rows_of_run(Table.CONTROL_NODES, run.id)
            ]
            candidates = [
                candidate_from_row(r)
                for r in self._backend.trace_rows_of_run(Table.CANDIDATES, run.id)
            ]
        known = {b.id for b in branches}
        return WorkflowRunTree(
            run=run,
            branches=tuple(
                BranchTree(b, tuple(leaf for leaf in leaves if leaf.branch_run_id == b.id))
                for b in branches
            ),
            leaves=tuple(leaf for leaf in leaves if leaf.branch_run_id not in known),
            control_nodes=tuple(
                ControlNodeTree(n, tuple(x for x in candidates if x.control_node_run_id == n.id))
                for n in nodes
            ),
        )

    def list_runs(
        self,
        *,
        workflow_id: str | None = None,
        status: RunStatus | str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[WorkflowRun]:
        """Runs, newest ``started_at`` first (ties: latest recorded first).

        Args:
            workflow_id: Only runs of this workflow.
            status: Only runs with this status.
            limit: At most this many.
            offset: Skip this many first (for the next page).

        Raises:
            InvalidRecord: A bad status, or a negative ``limit``/``offset``.
        """
        rows = self._backend.list_workflow_runs(
            workflow_id=c.check_opt_str(workflow_id, "workflow_id"),
            status=None if status is None else c.enum_value(status, RunStatus, "status"),
            limit=c.check_limit(limit, "limit"),
            offset=c.check_limit(offset, "offset"),
        )
        return [run_from_row(row) for row in rows]

    def delete_run(self, run_id: str) -> bool:
        """Delete a run with its branches, leaves, control nodes and candidates.

        Returns:
            Whether the run existed.
        """
        return self._backend.delete_workflow_runs([c.check_str(run_id, "run_id")]) > 0

    def delete_finished_runs(self, before: int, *, keep_last: int | None = None) -> int:
        """Retention: delete runs that completed before ``before``, with all under them.

        Runs not completed (no ``completed_at``) are never deleted.

        Args:
            before: Unix time; runs completed at or after it stay.
            keep_last: Keep the ``keep_last`` most recently completed runs of each
                workflow, however old.

        Returns:
            How many runs were deleted.

        Raises:
            InvalidRecord: ``before`` is not an integer or ``keep_last`` is negative.
        """
        cutoff = c.check_time(before, "before")
        keep = None if keep_last is None else c.check_limit(keep_last, "keep_last")
        with self._backend.transaction():
            victims = self._backend.finished_workflow_run_ids(cutoff, keep)
            return self._backend.delete_workflow_runs(victims) if victims else 0

    # -- replay ----------------------------------------------------------------------

    def find_replay(self, run_id: str, leaf_id: str, input_hash: str) -> LeafRun | None:
        """The recorded result of a leaf: the latest completed leaf run of ``run_id``
        with this ``leaf_id`` and ``input_hash`` (index ``idx_leaf_runs_replay_lookup``).

        Leaf runs without ``completed_at`` (still running, or abandoned) never match.

        Returns:
            The leaf run, or ``None`` if the run recorded no such completed leaf.

        Raises:
            NotFound: No such run (checked only on a miss, to keep hits one query).
            CorruptData: The recorded output does not parse.
        """
        key = (
            c.check_str(run_id, "run_id"),
            c.check_str(leaf_id, "leaf_id"),
            c.check_str(input_hash, "input_hash"),
        )
        row = self._backend.find_replay_leaf(*key)
        if row is None:
            self._require(Table.RUNS, key[0])
            return None
        return leaf_from_row(row)

    def replay_leaf(
        self,
        previous_run_id: str,
        new_run_id: str,
        leaf_id: str,
        input_hash: str,
        *,
        task_id: str,
        branch_run_id: str | None = None,
        leaf_run_id: str | None = None,
    ) -> ReplayOutcome:
        """Replay one leaf of ``previous_run_id`` into ``new_run_id``, atomically.

        On a hit (the previous run recorded this leaf, completed, with this input
        hash), the recorded status, output and artifacts are copied into a new leaf
        run of the new run, and returned. On a miss, the new run gets a leaf run with
        status ``replay_diverged`` and no ``completed_at``, and the new run's status
        becomes ``replay_diverged``: run the leaf for real, then finish that leaf with
        ``update_leaf(outcome.leaf.id, status="replay_diverged", output=...)``.

        Args:
            previous_run_id: The recorded run to replay from.
            new_run_id: The run being executed.
            leaf_id: The leaf's id in the spec.
            input_hash: :func:`~threadloom.workflows.compute_leaf_input_hash` of its
                inputs in the new run.
            task_id: The new leaf run's task id.
            branch_run_id: The new leaf run's branch run (of the new run), if any.
            leaf_run_id: The new leaf run's id (default: random).

        Raises:
            NotFound: Either run, or the branch run, does not exist.
            InvalidRecord: A bad argument, or a branch run of another run.
            Conflict: ``leaf_run_id`` already exists.
        """
        prev_key = c.check_str(previous_run_id, "previous_run_id")
        new_key = c.check_str(new_run_id, "new_run_id")
        leaf_key = c.check_str(leaf_id, "leaf_id")
        hash_key = c.check_str(input_hash, "input_hash")
        new_id = c.new_id() if leaf_run_id is None else c.check_str(leaf_run_id, "leaf_run_id")
        task = c.check_str(task_id, "task_id")
        with self._backend.transaction():
            self._require(Table.RUNS, prev_key)
            new_run = self._require(Table.RUNS, new_key)
            branch = self._require_branch_of(new_key, branch_run_id)
            found = self._backend.find_replay_leaf(prev_key, leaf_key, hash_key)
            now = self._now()
            if found is not None:
                recorded = leaf_from_row(found)
                row: Row = (
                    new_id,
                    new_key,
                    branch,
                    leaf_key,
                    task,
                    hash_key,
                    *found[6:9],
                    now,
                    now,
                )
            else:
                recorded = None
                diverged = RunStatus.REPLAY_DIVERGED.value
                row = (
                    new_id,
                    new_key,
                    branch,
                    leaf_key,
                    task,
                    hash_key,
                    diverged,
                    "{}",
                    "[]",
                    now,
                    None,
                )
                # Keep the run's completed_at as it is: it may still be running.
                self._update(Table.RUNS, new_key, {"status": diverged, "completed_at": new_run[6]})
            self._backend.insert_trace_rows(Table.LEAVES, [row])
        leaf = leaf_from_row(row)
        if recorded is None:
            return ReplayOutcome(hit=False, output=None, artifacts=None, recorded=None, leaf=leaf)
        return ReplayOutcome(
            hit=True,
            output=recorded.output,
            artifacts=recorded.artifacts,
            recorded=recorded,
            leaf=leaf,
        )
