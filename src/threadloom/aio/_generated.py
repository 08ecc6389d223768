"""The async store's methods, generated from the synchronous store's signatures.

Do not edit: run ``make generate`` (``python tools/generate_async.py``) after
changing a public method of ``StateStore`` or ``WorkflowStore``; a test fails
while this file is stale.
"""

# ruff: noqa: F401
from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence

from threadloom._json import JSONValue
from threadloom.aio.core import AsyncStoreCore, AsyncWorkflowCore
from threadloom.contract import MigrationStep, SchemaInfo
from threadloom.records import (
    CheckpointRecord,
    DynamicToolRecord,
    JobStateRecord,
    MessageRecord,
    SessionIndexEntry,
    ThreadGoalRecord,
    ThreadListFilters,
    ThreadMetadata,
)
from threadloom.retention import RetentionPolicy, RetentionReport
from threadloom.session_index import CompactionReport, IndexHealth
from threadloom.workflows._checks import UNSET, Unset
from threadloom.workflows.records import (
    BranchRun,
    CandidateKind,
    CandidateStatus,
    ControlNodeRun,
    LeafRun,
    NodeKind,
    ReplayOutcome,
    RunStatus,
    TeacherCandidate,
    WorkflowRun,
    WorkflowRunTree,
)

__all__ = ["AsyncStateStore", "AsyncWorkflowStore"]


class AsyncStateStore(AsyncStoreCore):
    """Durable state of agent sessions, async: every :class:`~threadloom.StateStore`
    method, awaitable, with the same arguments, records and errors.

    Open one with :meth:`open` (or :meth:`wrap` a ``StateStore``); use it with
    ``async with``. Calls run on threads the store owns, never on the event loop.
    """

    async def schema_info(self) -> SchemaInfo:
        """Schema versions, applied and pending steps (read-only)."""
        return await self._read(self._store.schema_info)

    async def migrate(self) -> list[MigrationStep]:
        """Apply pending schema steps; those applied by this call.

        Raises:
            SchemaError: The database is newer than this threadloom.
        """
        return await self._write_alone(self._store.migrate)

    async def retention_policy(self) -> RetentionPolicy | None:
        """The retention policy stored in the database, or ``None``.

        Raises:
            CorruptData: The stored policy does not parse.
        """
        return await self._write_alone(self._store.retention_policy)

    async def set_retention_policy(self, policy: RetentionPolicy | None) -> None:
        """Store the retention policy every process applies (``None`` removes it).

        Raises:
            InvalidRecord: A rule is out of range (nothing is stored).
            ReadOnlyStore: The store was opened read-only.
        """
        await self._write_alone(self._store.set_retention_policy, policy)

    async def run_retention(
        self, policy: RetentionPolicy | None = None, *, dry_run: bool = False, batch_size: int = 20
    ) -> RetentionReport:
        """Apply a retention policy (default: the stored one) in short batches.

        Args:
            policy: The policy; ``None`` for the stored one.
            dry_run: Only plan: the report lists what would go.
            batch_size: Items per transaction.

        Raises:
            ReadOnlyStore: The store was opened read-only (a dry run is fine).
            StoreBusy: A batch could not get the write lock in time (earlier ones stay).
        """
        return await self._write_alone(
            self._store.run_retention, policy, dry_run=dry_run, batch_size=batch_size
        )

    async def upsert_thread(self, thread: ThreadMetadata) -> None:
        """Insert or update a thread, then append its name to the session index.

        ``thread.current_leaf_id`` is ignored (use :meth:`append_message` or
        :meth:`set_current_leaf_id`), as in the original.

        Raises:
            InvalidRecord: A field has the wrong type.
            StoreBusy: The write lock could not be had in time.
        """
        await self._write(self._store.upsert_thread, thread)

    async def get_thread(self, id: str) -> ThreadMetadata | None:
        """One thread, or ``None``.

        Raises:
            CorruptData: The row's ``current_leaf_id`` is not a message id.
        """
        return await self._read(self._store.get_thread, id)

    async def list_threads(
        self,
        filters: ThreadListFilters | None = None,
        *,
        include_archived: bool | None = None,
        limit: int | None = None,
    ) -> list[ThreadMetadata]:
        """Threads, most recently updated first (ties: most recently inserted first).

        Args:
            filters: The original's filter object; keyword arguments override it.
            include_archived: Include archived threads (default ``False``).
            limit: At most this many (default 50).

        Raises:
            InvalidRecord: ``limit`` is negative (a ``ValueError``).
        """
        return await self._read(
            self._store.list_threads, filters, include_archived=include_archived, limit=limit
        )

    def iter_threads(self, *, include_archived: bool = True) -> AsyncIterator[ThreadMetadata]:
        """Every thread, most recently updated first, without a limit."""
        return self._iterate(self._store.iter_threads, include_archived=include_archived)

    async def mark_archived(self, id: str) -> bool:
        """Archive a thread (status ``archived``, ``archived_at`` now).

        Returns:
            Whether the thread exists.
        """
        return await self._write(self._store.mark_archived, id)

    async def mark_unarchived(self, id: str) -> bool:
        """Unarchive a thread; a status of ``archived`` becomes ``idle``.

        Returns:
            Whether the thread exists.
        """
        return await self._write(self._store.mark_unarchived, id)

    async def delete_thread(self, id: str) -> bool:
        """Delete a thread with its messages, checkpoints, dynamic tools and goal.

        Session-index entries stay (the index is the original's append-only log); the
        deletion is recorded, so ``compact_session_index(drop_deleted=True)`` may drop
        them later.

        Returns:
            Whether anything was deleted.
        """
        return await self._write(self._store.delete_thread, id)

    async def set_thread_memory_mode(self, id: str, mode: str | None) -> None:
        """Set (or, with ``None``, clear) a thread's memory mode.

        Raises:
            NotFound: The thread does not exist.
        """
        await self._write(self._store.set_thread_memory_mode, id, mode)

    async def get_thread_memory_mode(self, id: str) -> str | None:
        """A thread's memory mode (``None`` if unset or the thread does not exist)."""
        return await self._read(self._store.get_thread_memory_mode, id)

    async def find_rollout_path_by_id(self, id: str) -> str | None:
        """A thread's rollout path from the database (``None`` if unset or missing)."""
        return await self._read(self._store.find_rollout_path_by_id, id)

    async def upsert_thread_goal(self, goal: ThreadGoalRecord) -> None:
        """Insert or replace the goal of ``goal.thread_id``.

        Raises:
            NotFound: The thread does not exist (message ``thread <id> not found``).
            InvalidRecord: A field has the wrong type.
        """
        await self._write(self._store.upsert_thread_goal, goal)

    async def get_thread_goal(self, thread_id: str) -> ThreadGoalRecord | None:
        """The thread's goal, or ``None``. An unknown stored status reads as ``paused``."""
        return await self._read(self._store.get_thread_goal, thread_id)

    async def delete_thread_goal(self, thread_id: str) -> bool:
        """Delete the thread's goal; whether there was one."""
        return await self._write(self._store.delete_thread_goal, thread_id)

    async def record_thread_goal_usage(
        self, thread_id: str, tokens_delta: int, seconds_delta: int, now: int | None = None
    ) -> ThreadGoalRecord | None:
        """Add tokens and seconds to the goal's counters (``updated_at`` never goes back).

        Returns:
            The goal after the update, or ``None`` if the thread has no goal.

        Raises:
            InvalidRecord: A delta is not a 64-bit integer.
        """
        return await self._write(
            self._store.record_thread_goal_usage, thread_id, tokens_delta, seconds_delta, now
        )

    async def record_thread_goal_continuation(self, thread_id: str) -> ThreadGoalRecord | None:
        """Count one more continuation of the goal.

        Returns:
            The goal after the update, or ``None`` if the thread has no goal.
        """
        return await self._write(self._store.record_thread_goal_continuation, thread_id)

    async def append_message(
        self,
        thread_id: str,
        role: str,
        content: str,
        item: JSONValue = None,
        *,
        idempotency_key: str | None = None,
    ) -> int:
        """Append a message under the thread's current leaf; it becomes the new leaf.

        Args:
            thread_id: The thread.
            role: ``"user"``, ``"assistant"``, ``"tool"``, ``"system"``...
            content: The text.
            item: Any JSON value (tool call, tool result...), or ``None`` for none.
            idempotency_key: Append at most once per key and thread: a later call
                with the same key returns the first call's id and writes nothing
                (across processes and restarts, for ``idempotency_ttl``).

        Returns:
            The new message id (with a key already used: the first call's).

        Raises:
            NotFound: The thread does not exist.
            Conflict: ``idempotency_key`` was used for another write on the thread.
            InvalidRecord: ``item`` is not JSON-serializable, or text is not valid UTF-8.
        """
        return await self._write(
            self._store.append_message,
            thread_id,
            role,
            content,
            item,
            idempotency_key=idempotency_key,
        )

    async def fork_at_message(
        self,
        message_id: int | str,
        role: str,
        content: str,
        item: JSONValue = None,
        *,
        idempotency_key: str | None = None,
    ) -> int:
        """Add a message as a new child of ``message_id``; it becomes its thread's leaf.

        Args:
            message_id: The parent message.
            role: The new message's role.
            content: Its text.
            item: Any JSON value, or ``None``.
            idempotency_key: Fork at most once per key and thread (see
                :meth:`append_message`).

        Returns:
            The new message id (with a key already used: the first call's).

        Raises:
            NotFound: The message (or its thread) does not exist.
            Conflict: ``idempotency_key`` was used for another write on the thread.
            InvalidRecord: ``message_id`` is not an integer, or ``item`` is not JSON.
        """
        return await self._write(
            self._store.fork_at_message,
            message_id,
            role,
            content,
            item,
            idempotency_key=idempotency_key,
        )

    async def list_messages(self, thread_id: str, limit: int | None = None) -> list[MessageRecord]:
        """The current branch: the newest ``limit`` messages up to the leaf, oldest first.

        Args:
            thread_id: The thread.
            limit: How many messages at most (default 500; 0 returns none).

        Raises:
            InvalidRecord: ``limit`` is negative (a ``ValueError``).
            CorruptData: A message item does not parse, or the branch's parent links
                form a cycle (the error names the thread and the message ids).
        """
        return await self._read(self._store.list_messages, thread_id, limit)

    async def list_leaf_messages(self, thread_id: str) -> list[MessageRecord]:
        """Messages without children (the tips of every branch), by id."""
        return await self._read(self._store.list_leaf_messages, thread_id)

    async def list_all_messages(self, thread_id: str) -> list[MessageRecord]:
        """Every message of the thread, all branches, by id."""
        return await self._read(self._store.list_all_messages, thread_id)

    async def set_current_leaf_id(self, thread_id: str, current_leaf_id: int | str) -> None:
        """Switch the thread's current branch to end at ``current_leaf_id``.

        Raises:
            NotFound: The thread or the message does not exist.
            Conflict: The message belongs to another thread.
            InvalidRecord: ``current_leaf_id`` is not an integer.
        """
        await self._write(self._store.set_current_leaf_id, thread_id, current_leaf_id)

    async def clear_messages(self, thread_id: str) -> int:
        """Delete every message of the thread and reset its leaf; how many were deleted."""
        return await self._write(self._store.clear_messages, thread_id)

    async def persist_dynamic_tools(
        self, thread_id: str, tools: Sequence[DynamicToolRecord]
    ) -> None:
        """Replace the thread's dynamic tools, atomically.

        Raises:
            NotFound: The thread does not exist.
            Conflict: Two tools share a position (nothing is changed).
            InvalidRecord: A schema is not JSON-serializable.
        """
        await self._write(self._store.persist_dynamic_tools, thread_id, tools)

    async def get_dynamic_tools(self, thread_id: str) -> list[DynamicToolRecord]:
        """The thread's dynamic tools by position.

        Raises:
            CorruptData: A stored schema does not parse.
        """
        return await self._read(self._store.get_dynamic_tools, thread_id)

    async def save_checkpoint(
        self,
        thread_id: str,
        checkpoint_id: str,
        state: JSONValue,
        *,
        idempotency_key: str | None = None,
    ) -> None:
        """Save (or overwrite) a named checkpoint; it becomes the latest.

        Args:
            thread_id: The thread.
            checkpoint_id: The checkpoint's name.
            state: Any JSON value.
            idempotency_key: Save at most once per key and thread: a retried save
                does not overwrite a checkpoint saved since (see :meth:`append_message`).

        Raises:
            NotFound: The thread does not exist.
            Conflict: ``idempotency_key`` was used for another write on the thread.
            InvalidRecord: ``state`` is not JSON-serializable.
        """
        await self._write(
            self._store.save_checkpoint,
            thread_id,
            checkpoint_id,
            state,
            idempotency_key=idempotency_key,
        )

    async def load_checkpoint(
        self, thread_id: str, checkpoint_id: str | None = None
    ) -> CheckpointRecord | None:
        """A named checkpoint, or (without a name) the one saved last.

        Raises:
            CorruptData: The stored state does not parse (the original returned null).
        """
        return await self._read(self._store.load_checkpoint, thread_id, checkpoint_id)

    async def list_checkpoints(
        self, thread_id: str, limit: int | None = None
    ) -> list[CheckpointRecord]:
        """Checkpoints, latest first (default limit 100).

        Raises:
            InvalidRecord: ``limit`` is negative (a ``ValueError``).
        """
        return await self._read(self._store.list_checkpoints, thread_id, limit)

    async def delete_checkpoint(self, thread_id: str, checkpoint_id: str) -> bool:
        """Delete one checkpoint; whether it existed."""
        return await self._write(self._store.delete_checkpoint, thread_id, checkpoint_id)

    async def upsert_job(self, job: JobStateRecord) -> None:
        """Insert or update a background job.

        Raises:
            InvalidRecord: A field has the wrong type, or progress is outside 0-255.
        """
        await self._write(self._store.upsert_job, job)

    async def get_job(self, id: str) -> JobStateRecord | None:
        """One job, or ``None``."""
        return await self._read(self._store.get_job, id)

    async def list_jobs(self, limit: int | None = None) -> list[JobStateRecord]:
        """Jobs, most recently updated first (default limit 100).

        Raises:
            InvalidRecord: ``limit`` is negative (a ``ValueError``).
        """
        return await self._read(self._store.list_jobs, limit)

    async def delete_job(self, id: str) -> bool:
        """Delete a job; whether it existed."""
        return await self._write(self._store.delete_job, id)

    async def append_thread_name(
        self,
        thread_id: str,
        thread_name: str | None,
        updated_at: int,
        rollout_path: str | os.PathLike[str] | None = None,
    ) -> None:
        """Append a name entry to the session index (the database is not touched).

        Raises:
            InvalidRecord: An argument has the wrong type.
            ReadOnlyStore: The store was opened read-only.
            OSError: The index file cannot be written.
            ReadOnlyError: Called inside :meth:`snapshot`.
        """
        await self._write_alone(
            self._store.append_thread_name, thread_id, thread_name, updated_at, rollout_path
        )

    async def find_thread_name_by_id(self, thread_id: str) -> str | None:
        """The thread's latest name in the session index."""
        return await self._read(self._store.find_thread_name_by_id, thread_id)

    async def find_thread_names_by_ids(self, ids: Iterable[str]) -> dict[str, str | None]:
        """Latest names of several threads (``None`` for unknown or unnamed ones)."""
        return await self._read(self._store.find_thread_names_by_ids, ids)

    async def find_thread_path_by_name_str(self, name: str) -> str | None:
        """The rollout path of the most recently updated thread with this name.

        The match ignores ASCII case only, as the original's does.
        """
        return await self._read(self._store.find_thread_path_by_name_str, name)

    async def session_index_entries(self) -> list[SessionIndexEntry]:
        """The latest session-index entry of every thread."""
        return await self._read(self._store.session_index_entries)

    async def session_index_health(self) -> IndexHealth:
        """Line, thread and corrupt-line counts of the session index."""
        return await self._read(self._store.session_index_health)

    async def compact_session_index(self, *, drop_deleted: bool = False) -> CompactionReport:
        """Rewrite the session index to the latest entry per thread, atomically.

        Args:
            drop_deleted: Also drop the entries of threads this database deleted (and
                no other database in the index's folder holds). Entries of any other
                thread missing here stay: the folder's other databases share the file.

        Raises:
            ReadOnlyStore: The store was opened read-only.
            OSError: The index cannot be rewritten.
            ReadOnlyError: Called inside :meth:`snapshot`.
        """
        return await self._write_alone(self._store.compact_session_index, drop_deleted=drop_deleted)


class AsyncWorkflowStore(AsyncWorkflowCore):
    """Workflow traces, async: every :class:`~threadloom.WorkflowStore` method,
    awaitable. Get it as ``AsyncStateStore.workflows``.
    """

    async def record_branch(
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
        return await self._write_alone(
            self._workflows.record_branch,
            run_id,
            branch_id,
            node_id,
            status=status,
            result=result,
            branch_run_id=branch_run_id,
            started_at=started_at,
            completed_at=completed_at,
        )

    async def update_branch(
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
        return await self._write_alone(
            self._workflows.update_branch,
            branch_run_id,
            status=status,
            result=result,
            completed_at=completed_at,
        )

    async def record_leaf(
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
        return await self._write_alone(
            self._workflows.record_leaf,
            run_id,
            leaf_id,
            task_id,
            input_hash=input_hash,
            status=status,
            output=output,
            artifacts=artifacts,
            branch_run_id=branch_run_id,
            leaf_run_id=leaf_run_id,
            started_at=started_at,
            completed_at=completed_at,
        )

    async def record_leaf_runs(self, leaves: Iterable[LeafRun]) -> int:
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
        return await self._write_alone(self._workflows.record_leaf_runs, leaves)

    async def update_leaf(
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
        return await self._write_alone(
            self._workflows.update_leaf,
            leaf_run_id,
            status=status,
            output=output,
            artifacts=artifacts,
            completed_at=completed_at,
        )

    async def record_control_node(
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
        return await self._write_alone(
            self._workflows.record_control_node,
            run_id,
            node_id,
            kind,
            status=status,
            selected_children=selected_children,
            result=result,
            control_node_run_id=control_node_run_id,
            started_at=started_at,
            completed_at=completed_at,
        )

    async def update_control_node(
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
        return await self._write_alone(
            self._workflows.update_control_node,
            control_node_run_id,
            status=status,
            selected_children=selected_children,
            result=result,
            completed_at=completed_at,
        )

    async def record_candidate(
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
        return await self._write_alone(
            self._workflows.record_candidate,
            control_node_run_id,
            candidate_id,
            kind,
            status=status,
            branch_run_id=branch_run_id,
            score=score,
            passed=passed,
            rationale=rationale,
            id=id,
            created_at=created_at,
        )

    async def update_candidate(
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
        return await self._write_alone(
            self._workflows.update_candidate,
            id,
            status=status,
            score=score,
            passed=passed,
            rationale=rationale,
        )

    async def start_run(
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
        return await self._write_alone(
            self._workflows.start_run,
            workflow_id,
            goal,
            input_hash=input_hash,
            metadata=metadata,
            status=status,
            run_id=run_id,
            started_at=started_at,
        )

    async def update_run(
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
        return await self._write_alone(
            self._workflows.update_run,
            run_id,
            status=status,
            metadata=metadata,
            completed_at=completed_at,
        )

    async def finish_run(
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
        return await self._write_alone(
            self._workflows.finish_run, run_id, status, completed_at=completed_at, metadata=metadata
        )

    async def get_run(self, run_id: str) -> WorkflowRun | None:
        """One run without its children, or ``None`` if it does not exist.

        Raises:
            CorruptData: The stored metadata is not JSON.
        """
        return await self._read(self._workflows.get_run, run_id)

    async def get_run_tree(self, run_id: str) -> WorkflowRunTree:
        """A run with everything recorded under it, read in one snapshot.

        Raises:
            NotFound: No such run.
            CorruptData: A stored JSON column does not parse.
        """
        return await self._read(self._workflows.get_run_tree, run_id)

    async def list_runs(
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
        return await self._read(
            self._workflows.list_runs,
            workflow_id=workflow_id,
            status=status,
            limit=limit,
            offset=offset,
        )

    async def delete_run(self, run_id: str) -> bool:
        """Delete a run with its branches, leaves, control nodes and candidates.

        Returns:
            Whether the run existed.
        """
        return await self._write_alone(self._workflows.delete_run, run_id)

    async def delete_finished_runs(self, before: int, *, keep_last: int | None = None) -> int:
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
        return await self._write_alone(
            self._workflows.delete_finished_runs, before, keep_last=keep_last
        )

    async def find_replay(self, run_id: str, leaf_id: str, input_hash: str) -> LeafRun | None:
        """The recorded result of a leaf: the latest completed leaf run of ``run_id``
        with this ``leaf_id`` and ``input_hash`` (index ``idx_leaf_runs_replay_lookup``).

        Leaf runs without ``completed_at`` (still running, or abandoned) never match.

        Returns:
            The leaf run, or ``None`` if the run recorded no such completed leaf.

        Raises:
            NotFound: No such run (checked only on a miss, to keep hits one query).
            CorruptData: The recorded output does not parse.
        """
        return await self._read(self._workflows.find_replay, run_id, leaf_id, input_hash)

    async def replay_leaf(
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
        return await self._write_alone(
            self._workflows.replay_leaf,
            previous_run_id,
            new_run_id,
            leaf_id,
            input_hash,
            task_id=task_id,
            branch_run_id=branch_run_id,
            leaf_run_id=leaf_run_id,
        )
