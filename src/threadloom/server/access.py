"""The server's one door to the store: awaitable reads and writes.

Every handler reaches the store through :func:`open_access` and the :class:`StoreReads`
protocol (the part of :class:`~threadloom.AsyncStateStore` the server uses), never
through :class:`~threadloom.StateStore` directly, so the event loop never blocks on a
query. One composite read that is not a store method (counts per thread) runs the sync
store's helper on a worker thread, here and nowhere else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol

import anyio.to_thread

from ..aio import AsyncStateStore
from ..maintenance import ThreadCounts, thread_counts
from ..records import (
    CheckpointRecord,
    DynamicToolRecord,
    JobStateRecord,
    MessageRecord,
    SearchHit,
    SessionIndexEntry,
    ThreadGoalRecord,
    ThreadMetadata,
)
from ..store import StateStore
from ..workflows import LeafRun, WorkflowRun, WorkflowRunTree

__all__ = ["StoreReads", "WorkflowReads", "counts_of", "open_access", "search"]


class WorkflowReads(Protocol):
    """The workflow-trace reads the viewer makes (``store.workflows``)."""

    async def list_runs(
        self,
        *,
        workflow_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[WorkflowRun]: ...

    async def get_run_tree(self, run_id: str) -> WorkflowRunTree: ...

    async def find_replay(self, run_id: str, leaf_id: str, input_hash: str) -> LeafRun | None: ...


class StoreReads(Protocol):
    """The store methods the server calls, awaitable; ``store`` is the sync store."""

    @property
    def store(self) -> StateStore: ...

    @property
    def workflows(self) -> WorkflowReads: ...

    async def aclose(self) -> None: ...
    async def get_thread(self, id: str) -> ThreadMetadata | None: ...
    def iter_threads(self, *, include_archived: bool = True) -> AsyncIterator[ThreadMetadata]: ...
    async def list_threads(
        self,
        filters: Any = None,
        *,
        include_archived: bool | None = None,
        limit: int | None = None,
    ) -> list[ThreadMetadata]: ...
    async def list_messages(
        self, thread_id: str, limit: int | None = None
    ) -> list[MessageRecord]: ...
    async def list_all_messages(self, thread_id: str) -> list[MessageRecord]: ...
    async def list_checkpoints(
        self, thread_id: str, limit: int | None = None
    ) -> list[CheckpointRecord]: ...
    async def load_checkpoint(
        self, thread_id: str, checkpoint_id: str | None = None
    ) -> CheckpointRecord | None: ...
    async def list_jobs(self, limit: int | None = None) -> list[JobStateRecord]: ...
    async def get_thread_goal(self, thread_id: str) -> ThreadGoalRecord | None: ...
    async def get_dynamic_tools(self, thread_id: str) -> list[DynamicToolRecord]: ...
    async def session_index_entries(self) -> list[SessionIndexEntry]: ...
    async def fork_at_message(self, parent_id: int | str, role: str, content: str) -> int: ...
    async def set_current_leaf_id(self, thread_id: str, current_leaf_id: int | str) -> None: ...
    async def upsert_thread(self, thread: ThreadMetadata) -> None: ...
    async def mark_archived(self, id: str) -> bool: ...
    async def mark_unarchived(self, id: str) -> bool: ...
    async def search(
        self, query: str, *, limit: int = 20, include_archived: bool = False
    ) -> list[SearchHit]: ...


def open_access(store: StateStore) -> StoreReads:
    """The awaitable face the server uses over ``store`` (which stays the caller's:
    closing the face stops its threads and leaves ``store`` open)."""
    return AsyncStateStore.wrap(store)


async def counts_of(access: StoreReads, ids: Iterable[str]) -> dict[str, ThreadCounts]:
    """Message and branch counts per thread (one backend query)."""
    wanted = list(ids)
    return await anyio.to_thread.run_sync(thread_counts, access.store, wanted)


async def search(access: StoreReads, query: str, limit: int) -> list[dict[str, Any]]:
    """Search hits: ``{"thread_id", "message_id", "snippet", ...}``, at most ``limit``.

    Full-text search (``store.search``), archived threads included, newest first.

    Raises:
        InvalidRecord: The query is empty, too long or only exclusions.
    """
    hits = await access.search(query, limit=limit, include_archived=True)
    return [hit.to_dict() for hit in hits]
