"""The server's one door to the store: awaitable reads and writes.

Every handler reaches the store through :func:`open_access` and the :class:`StoreReads`
protocol (the part of :class:`~threadloom.AsyncStateStore` the server uses), never
through :class:`~threadloom.StateStore` directly, so the event loop never blocks on a
query. Two composite reads that are not store methods (counts per thread, search) run
the sync store's helpers on a worker thread, here and nowhere else.
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


def open_access(store: StateStore) -> StoreReads:
    """The awaitable face the server uses over ``store`` (which stays the caller's:
    closing the face stops its threads and leaves ``store`` open)."""
    return AsyncStateStore.wrap(store)


async def counts_of(access: StoreReads, ids: Iterable[str]) -> dict[str, ThreadCounts]:
    """Message and branch counts per thread (one backend query)."""
    wanted = list(ids)
    return await anyio.to_thread.run_sync(thread_counts, access.store, wanted)


def _scan_search(store: StateStore, query: str, limit: int) -> list[dict[str, Any]]:
    """Until full-text search lands: a case-insensitive substring scan, thread hits (name
    or preview) first, then messages, each as ``SearchHit.to_dict()`` will be."""
    needle = query.casefold()
    names = {e.thread_id: e.thread_name for e in store.session_index_entries()}
    threads = list(store.iter_threads(include_archived=True))
    hits: list[dict[str, Any]] = []

    def hit(thread: ThreadMetadata, text: str, where: str, **message: Any) -> dict[str, Any]:
        at = text.casefold().find(needle)
        start = max(0, at - 60)
        snippet = " ".join(text[start : at + len(query) + 100].split())
        found = snippet.casefold().find(needle)
        return {
            "thread_id": thread.id,
            "thread_name": thread.name or names.get(thread.id),
            "message_id": None,
            "role": None,
            "created_at": thread.updated_at,
            "on_current_branch": True,
            "matched_in": where,
            "snippet": snippet,
            "highlights": [[found, found + len(needle)]] if found >= 0 else [],
            "rank": 0.0,
            **message,
        }

    for thread in threads:
        for where, text in (("name", thread.name or names.get(thread.id) or ""),
                            ("preview", thread.preview)):  # fmt: skip
            if needle in text.casefold():
                hits.append(hit(thread, text, where))
                break
    for thread in threads:
        messages = store.list_all_messages(thread.id)
        on_branch = {m.id for m in store.list_messages(thread.id)} if messages else set()
        for m in reversed(messages):
            if needle in m.content.casefold():
                hits.append(
                    hit(thread, m.content, "content", message_id=m.id, role=m.role,
                        created_at=m.created_at, on_current_branch=m.id in on_branch)
                )  # fmt: skip
            if len(hits) >= limit:
                return hits
    return hits[:limit]


async def search(access: StoreReads, query: str, limit: int) -> list[dict[str, Any]]:
    """Search hits: ``{"thread_id", "message_id", "snippet", ...}``, at most ``limit``.

    The one place the search endpoint asks the store; it becomes ``store.search`` once
    full-text search is on main.
    """
    return await anyio.to_thread.run_sync(_scan_search, access.store, query, limit)
