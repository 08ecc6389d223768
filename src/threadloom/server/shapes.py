"""The API's JSON documents, built from store reads.

Each document a CLI command prints with ``--json`` has the same shape here (the
``threads``, ``show``, ``tree``, ``checkpoints``, ``checkpoint show``, ``jobs``, ``goal``
and ``tools`` twins; ``tests/server/test_api.py`` compares them); the viewer's own
documents (a page of a branch, a diff, workflow runs) add keys, never rename them.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import PurePath
from typing import Any

import anyio.to_thread

from ..cli.fmt import message_preview, thread_title
from ..errors import NotFound
from ..records import MessageRecord, ThreadMetadata
from .access import StoreReads, counts_of

__all__ = [
    "ThreadFilters",
    "branch_page",
    "checkpoint_doc",
    "checkpoints_doc",
    "diff_doc",
    "goal_doc",
    "jobs_doc",
    "require_thread",
    "thread_doc",
    "threads_doc",
    "tools_doc",
    "tree_doc",
    "workflow_run_doc",
    "workflow_runs_doc",
]


async def require_thread(access: StoreReads, thread_id: str) -> ThreadMetadata:
    """The thread, or :class:`NotFound` (the API answers 404)."""
    thread = await access.get_thread(thread_id)
    if thread is None:
        raise NotFound(f"no thread {thread_id!r}")
    return thread


class ThreadFilters:
    """The picker's filters: those of ``threads`` (archived, status, cwd, name)."""

    def __init__(
        self,
        *,
        archived: str | None = None,
        statuses: tuple[str, ...] = (),
        cwd: str | None = None,
        name: str | None = None,
    ) -> None:
        self.archived = archived
        self.statuses = statuses
        self.cwd = cwd
        self.name = name.casefold() if name else None

    def admits(self, thread: ThreadMetadata, index_name: str | None) -> bool:
        """Whether ``thread`` passes every filter."""
        if self.archived == "only" and not thread.archived:
            return False
        if self.statuses and thread.status.value not in self.statuses:
            return False
        if self.cwd is not None and not (
            thread.cwd == self.cwd or PurePath(thread.cwd).is_relative_to(PurePath(self.cwd))
        ):
            return False
        if self.name is not None:
            haystack = f"{thread.name or ''}\n{index_name or ''}".casefold()
            if self.name not in haystack:
                return False
        return True


async def threads_doc(
    access: StoreReads, filters: ThreadFilters, limit: int, page: int
) -> dict[str, Any]:
    """``threads --json``: a page of the picker, newest first."""
    names = {e.thread_id: e.thread_name for e in await access.session_index_entries()}
    selected = [
        t
        async for t in access.iter_threads(include_archived=filters.archived is not None)
        if filters.admits(t, names.get(t.id))
    ]
    pages = max(1, math.ceil(len(selected) / limit))
    shown = selected[(page - 1) * limit : page * limit]
    counts = await counts_of(access, [t.id for t in shown])
    return {
        "threads": [
            {
                **t.to_dict(),
                "title": thread_title(t, names.get(t.id)),
                "message_count": counts[t.id].messages,
                "branch_count": counts[t.id].branches,
            }
            for t in shown
        ],
        "total": len(selected),
        "page": page,
        "pages": pages,
    }


async def thread_doc(access: StoreReads, thread_id: str) -> dict[str, Any]:
    """One thread with its title and counts (the picker's row for it)."""
    thread = await require_thread(access, thread_id)
    names = {e.thread_id: e.thread_name for e in await access.session_index_entries()}
    counts = (await counts_of(access, [thread.id]))[thread.id]
    return {
        "thread": thread.to_dict(),
        "title": thread_title(thread, names.get(thread.id)),
        "message_count": counts.messages,
        "branch_count": counts.branches,
    }


def _path_to(leaf: int, by_id: dict[int, MessageRecord]) -> list[MessageRecord]:
    path: list[MessageRecord] = []
    seen: set[int] = set()
    cursor: int | None = leaf
    while cursor is not None and cursor in by_id and cursor not in seen:
        seen.add(cursor)
        path.append(by_id[cursor])
        cursor = by_id[cursor].parent_entry_id
    path.reverse()
    return path


async def branch_page(
    access: StoreReads,
    thread_id: str,
    *,
    leaf: int | None,
    before: int | None,
    limit: int,
) -> dict[str, Any]:
    """``show --json`` for one page of a branch: the last ``limit`` messages up to ``leaf``
    (default the current leaf) that come before message ``before`` (default: all).

    ``branch`` adds the leaf shown and ``has_more`` (older messages exist).

    Raises:
        NotFound: No such thread, or ``leaf``/``before`` is not one of its messages.
    """
    if leaf is None and before is None:
        # The current branch's tail: exactly the library's list_messages, one more to
        # learn whether older messages exist; the thread is read beside it.
        found, messages = await asyncio.gather(
            access.get_thread(thread_id), access.list_messages(thread_id, limit + 1)
        )
        if found is None:
            raise NotFound(f"no thread {thread_id!r}")
        thread, shown_leaf = found, found.current_leaf_id
        has_more = len(messages) > limit
        messages = messages[-limit:] if limit else []
    else:
        thread = await require_thread(access, thread_id)
        shown_leaf = thread.current_leaf_id if leaf is None else leaf
        by_id = {m.id: m for m in await access.list_all_messages(thread.id)}
        if shown_leaf is not None and shown_leaf not in by_id:
            raise NotFound(f"message #{shown_leaf} is not a message of thread {thread.id}")
        path = _path_to(shown_leaf, by_id) if shown_leaf is not None else []
        if before is not None:
            ids = [m.id for m in path]
            if before not in ids:
                raise NotFound(f"message #{before} is not on that branch of thread {thread.id}")
            path = path[: ids.index(before)]
        has_more = len(path) > limit
        messages = path[-limit:] if limit else []
    return {
        "thread": thread.to_dict(),
        # The records themselves: orjson writes a dataclass as its to_dict() (same keys,
        # same order, enums as values) at a third of the cost.
        "messages": messages,
        "branch": {"leaf_id": shown_leaf, "has_more": has_more},
    }


def _tree_nodes(messages: list[MessageRecord], leaf: int | None) -> list[dict[str, Any]]:
    children: dict[int, list[int]] = {}
    for m in messages:
        if m.parent_entry_id is not None:
            children.setdefault(m.parent_entry_id, []).append(m.id)
    by_id = {m.id: m for m in messages}
    on_branch = {m.id for m in _path_to(leaf, by_id)} if leaf is not None else set()
    return [
        {
            "id": m.id,
            "parent_id": m.parent_entry_id,
            "role": m.role,
            "preview": message_preview(m),
            "created_at": m.created_at,
            "children": children.get(m.id, []),
            "on_current_branch": m.id in on_branch,
            "current": m.id == leaf,
        }
        for m in messages
    ]


async def tree_doc(access: StoreReads, thread_id: str) -> dict[str, Any]:
    """``tree --json``: every message as a node with its children."""
    thread = await require_thread(access, thread_id)
    messages = await access.list_all_messages(thread.id)
    # Off the event loop: 10,000 nodes take long enough to hold up other requests.
    nodes = await anyio.to_thread.run_sync(_tree_nodes, messages, thread.current_leaf_id)
    return {"thread_id": thread.id, "current_leaf_id": thread.current_leaf_id, "nodes": nodes}


async def diff_doc(access: StoreReads, thread_id: str, a: int, b: int) -> dict[str, Any]:
    """Two branches from their common ancestor: ``common`` (ids root → ancestor), then
    the messages of each side after it.

    Raises:
        NotFound: No such thread, or ``a``/``b`` is not one of its messages.
    """
    thread = await require_thread(access, thread_id)
    by_id = {m.id: m for m in await access.list_all_messages(thread.id)}
    for leaf in (a, b):
        if leaf not in by_id:
            raise NotFound(f"message #{leaf} is not a message of thread {thread.id}")
    left, right = _path_to(a, by_id), _path_to(b, by_id)
    shared = 0
    while shared < min(len(left), len(right)) and left[shared].id == right[shared].id:
        shared += 1
    return {
        "thread_id": thread.id,
        "ancestor_id": left[shared - 1].id if shared else None,
        "common": [m.id for m in left[:shared]],
        "a": {"leaf_id": a, "messages": [m.to_dict() for m in left[shared:]]},
        "b": {"leaf_id": b, "messages": [m.to_dict() for m in right[shared:]]},
    }


async def checkpoints_doc(access: StoreReads, thread_id: str, limit: int) -> dict[str, Any]:
    """``checkpoints --json``: latest first."""
    thread = await require_thread(access, thread_id)
    checkpoints = await access.list_checkpoints(thread.id, limit)
    return {"thread_id": thread.id, "checkpoints": [c.to_dict() for c in checkpoints]}


async def checkpoint_doc(
    access: StoreReads, thread_id: str, checkpoint_id: str | None
) -> dict[str, Any]:
    """``checkpoint show --json``: one checkpoint (the latest without an id).

    Raises:
        NotFound: No such thread or checkpoint.
    """
    thread = await require_thread(access, thread_id)
    record = await access.load_checkpoint(thread.id, checkpoint_id)
    if record is None:
        what = f"checkpoint {checkpoint_id!r}" if checkpoint_id else "any checkpoint"
        raise NotFound(f"thread {thread.id} has no {what}")
    return record.to_dict()


async def jobs_doc(access: StoreReads, limit: int, statuses: tuple[str, ...]) -> dict[str, Any]:
    """``jobs --json``."""
    jobs = [j for j in await access.list_jobs(limit) if not statuses or j.status.value in statuses]
    return {"jobs": [j.to_dict() for j in jobs]}


async def goal_doc(access: StoreReads, thread_id: str) -> dict[str, Any]:
    """``goal --json`` (``goal`` is ``null`` when the thread has none)."""
    thread = await require_thread(access, thread_id)
    goal = await access.get_thread_goal(thread.id)
    return {"thread_id": thread.id, "goal": None if goal is None else goal.to_dict()}


async def tools_doc(access: StoreReads, thread_id: str) -> dict[str, Any]:
    """``tools --json``: by position."""
    thread = await require_thread(access, thread_id)
    tools = await access.get_dynamic_tools(thread.id)
    return {"thread_id": thread.id, "tools": [t.to_dict() for t in tools]}


async def workflow_runs_doc(
    access: StoreReads, workflow_id: str | None, status: str | None, limit: int, offset: int
) -> dict[str, Any]:
    """Workflow runs, newest first."""
    runs = await access.workflows.list_runs(
        workflow_id=workflow_id, status=status, limit=limit, offset=offset
    )
    return {"runs": [r.to_dict() for r in runs], "limit": limit, "offset": offset}


async def workflow_run_doc(access: StoreReads, run_id: str) -> dict[str, Any]:
    """One run: run → branches → leaves, control nodes → candidates.

    Each leaf gets ``replay``: ``"diverged"`` (status ``replay_diverged``), ``"hit"`` (an
    earlier run of the workflow recorded the same leaf with the same input hash), or
    ``null``.

    Raises:
        NotFound: No such run.
    """
    tree = await access.workflows.get_run_tree(run_id)
    # Newest first (ties: latest recorded first), so the runs after this one in the list
    # are those it could have replayed from.
    runs = await access.workflows.list_runs(workflow_id=tree.run.workflow_id, limit=1000)
    ids = [r.id for r in runs]
    earlier = runs[ids.index(tree.run.id) + 1 :][:20] if tree.run.id in ids else []

    async def replay(leaf: Any) -> str | None:
        if str(leaf.status) == "replay_diverged":
            return "diverged"
        if leaf.input_hash is None:
            return None
        for run in earlier:
            if await access.workflows.find_replay(run.id, leaf.leaf_id, leaf.input_hash):
                return "hit"
        return None

    async def leaf_doc(leaf: Any) -> dict[str, Any]:
        return {**leaf.to_dict(), "replay": await replay(leaf)}

    return {
        "run": tree.run.to_dict(),
        "branches": [
            {**b.branch.to_dict(), "leaves": [await leaf_doc(x) for x in b.leaves]}
            for b in tree.branches
        ],
        "leaves": [await leaf_doc(x) for x in tree.leaves],
        "control_nodes": [
            {**n.control_node.to_dict(), "candidates": [c.to_dict() for c in n.candidates]}
            for n in tree.control_nodes
        ],
    }
