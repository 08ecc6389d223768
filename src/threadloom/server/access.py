"""The server's one door to the store: awaitable reads and writes.

Every handler reaches the store through :func:`open_access` and the :class:`StoreReads`
protocol it returns, never through :class:`~threadloom.StateStore` directly, so the
event loop never blocks on a query. Today the door is :class:`ThreadedStore`, which
runs each call of the sync store in a worker thread; ``AsyncStateStore.wrap`` has the
same face, and switching to it is the one line in :func:`open_access`.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, ParamSpec, Protocol, TypeVar

import anyio.to_thread

from ..maintenance import ThreadCounts, thread_counts
from ..records import (
    CheckpointRecord,
    DynamicToolRecord,
    JobStateRecord,
    MessageRecord,
    SessionIndexEntry,
    ThreadGoalRecord,
    ThreadMetadata,
)
from ..store import StateStore
from ..workflows import LeafRun, WorkflowRun, WorkflowRunTree

__all__ = ["StoreReads", "ThreadedStore", "WorkflowReads", "counts_of", "open_access", "search"]

P = ParamSpec("P")
T = TypeVar("T")


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


def _threaded(method: Callable[P, T]) -> Callable[P, Any]:
    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        return await anyio.to_thread.run_sync(functools.partial(method, *args, **kwargs))

    return call


class _ThreadedWorkflows:
    def __init__(self, store: StateStore) -> None:
        wf = store.workflows
        self.list_runs = _threaded(wf.list_runs)
        self.get_run_tree = _threaded(wf.get_run_tree)
        self.find_replay = _threaded(wf.find_replay)


class ThreadedStore:
    """:class:`StoreReads` over a sync :class:`StateStore`: each call in a worker thread.

    The sync store is safe to call from several threads (one connection per thread on
    SQLite, a pool on PostgreSQL), so concurrent requests do not queue behind one lock.
    """

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._workflows: _ThreadedWorkflows | None = None
        for name in (
            "get_thread",
            "list_threads",
            "list_messages",
            "list_all_messages",
            "list_checkpoints",
            "load_checkpoint",
            "list_jobs",
            "get_thread_goal",
            "get_dynamic_tools",
            "session_index_entries",
            "fork_at_message",
            "set_current_leaf_id",
            "upsert_thread",
            "mark_archived",
            "mark_unarchived",
        ):
            setattr(self, name, _threaded(getattr(store, name)))

    @property
    def store(self) -> StateStore:
        """The sync store underneath."""
        return self._store

    @property
    def workflows(self) -> _ThreadedWorkflows:
        """The workflow-trace reads."""
        if self._workflows is None:
            self._workflows = _ThreadedWorkflows(self._store)
        return self._workflows

    async def iter_threads(self, *, include_archived: bool = True) -> AsyncIterator[ThreadMetadata]:
        """Every thread, most recently updated first (read in one worker call)."""
        threads = await anyio.to_thread.run_sync(
            lambda: list(self._store.iter_threads(include_archived=include_archived))
        )
        for thread in threads:
            yield thread


def open_access(store: StateStore) -> StoreReads:
    """The awaitable face the server uses over ``store`` (which stays the caller's)."""
    return ThreadedStore(store)  # type: ignore[return-value]


async def counts_of(access: StoreReads, ids: Iterable[str]) -> dict[str, ThreadCounts]:
    """Message and branch counts per thread (one backend query)."""
    wanted = list(ids)
    return await anyio.to_thread.run_sync(thread_counts, access.store, wanted)


def _scan_search(store: StateStore, query: str, limit: int) -> list[dict[str, Any]]:
    """Until full-text search lands: case-insensitive substring match, newest first."""
    needle = query.casefold()
    names = {e.thread_id: e.thread_name for e in store.session_index_entries()}
    hits: list[dict[str, Any]] = []
    for thread in store.iter_threads(include_archived=True):
        title = f"{thread.name or ''}\n{names.get(thread.id) or ''}\n{thread.preview}"
        if needle in title.casefold():
            hits.append({"thread_id": thread.id, "message_id": None, "snippet": thread.preview})
        for message in store.list_all_messages(thread.id):
            at = message.content.casefold().find(needle)
            if at >= 0:
                start = max(0, at - 60)
                hits.append(
                    {
                        "thread_id": thread.id,
                        "message_id": message.id,
                        "role": message.role,
                        "snippet": message.content[start : at + len(query) + 60],
                    }
                )
            if len(hits) >= limit:
                return hits
    return hits


async def search(access: StoreReads, query: str, limit: int) -> list[dict[str, Any]]:
    """Search hits: ``{"thread_id", "message_id", "snippet", ...}``, at most ``limit``.

    The one place the search endpoint asks the store; it becomes ``store.search`` once
    full-text search is on main.
    """
    return await anyio.to_thread.run_sync(_scan_search, access.store, query, limit)
