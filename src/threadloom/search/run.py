"""A search from start to end over the backend contract: check the arguments, bring the
index up to date, ask the backend, and make the hits (snippets, current branch).

:meth:`threadloom.StateStore.search` is this, and nothing more.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection

from ..contract.search import MessageHitRow, SearchFilters, SearchOperations, ThreadHitRow
from ..errors import InvalidRecord, InvalidType
from ..records import SearchHit, check_bool, check_i64, check_opt_str
from .query import Query, parse
from .snippet import make_snippet
from .text import item_text

__all__ = ["ORDERS", "search"]

#: Orders a search can give its message hits in.
ORDERS = ("recent", "relevance")
#: The largest page of hits.
MAX_LIMIT = 1000


def _count(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidType(f"{name} must be an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidRecord(f"{name} must be between {low} and {high:,}, got {value}")
    return value


def _item_text(item_json: str | None) -> str:
    if item_json is None:
        return ""
    try:
        return item_text(json.loads(item_json))
    except ValueError:
        return item_json


def _message_hit(row: MessageHitRow, query: Query, on_branch: bool) -> SearchHit:
    where, found = "content", make_snippet(row.content, query)
    if found is None:
        where, found = "item", make_snippet(_item_text(row.item_json), query)
    if found is None:  # matched through an identifier's parts only
        where, found = "content", (row.content[:160].replace("\n", " "), ())
    return SearchHit(
        thread_id=row.thread_id,
        thread_name=row.thread_name,
        message_id=row.message_id,
        role=row.role,
        created_at=row.created_at,
        on_current_branch=on_branch,
        matched_in=where,
        snippet=found[0],
        highlights=found[1],
        rank=float(row.rank),
    )


def _thread_hit(row: ThreadHitRow, query: Query) -> SearchHit:
    where, found = "name", make_snippet(row.name or "", query)
    if found is None:
        where, found = "preview", make_snippet(row.preview, query)
    if found is None:
        where, found = "name", ((row.name or row.preview)[:160], ())
    return SearchHit(
        thread_id=row.thread_id,
        thread_name=row.name,
        message_id=None,
        role=None,
        created_at=row.updated_at,
        on_current_branch=True,
        matched_in=where,
        snippet=found[0],
        highlights=found[1],
        rank=float(row.rank),
    )


def search(
    backend: SearchOperations,
    query: str,
    *,
    thread_id: str | None,
    role: str | None,
    since: int | None,
    until: int | None,
    include_archived: bool,
    limit: int,
    offset: int,
    order: str,
    dirty_threads: Collection[str] = (),
) -> list[SearchHit]:
    """See :meth:`threadloom.StateStore.search`."""
    parsed = parse(query)
    filters = SearchFilters(
        thread_id=check_opt_str(thread_id, "thread_id"),
        role=check_opt_str(role, "role"),
        since=None if since is None else check_i64(since, "since"),
        until=None if until is None else check_i64(until, "until"),
        include_archived=check_bool(include_archived, "include_archived"),
    )
    limit = _count(limit, "limit", 0, MAX_LIMIT)
    offset = _count(offset, "offset", 0, 2**31)
    if order not in ORDERS:
        raise InvalidRecord(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    backend.search_catch_up(thread_ids=dirty_threads, wait=False)
    if limit == 0:
        return []
    hits: list[SearchHit] = []
    skip = offset
    if filters.role is None:
        # Threads whose name or preview matches come first (there are few).
        threads = backend.search_threads(parsed, filters, offset + limit)
        hits = [_thread_hit(row, parsed) for row in threads[offset : offset + limit]]
        skip = max(offset - len(threads), 0)
    room = limit - len(hits)
    if room == 0:
        return hits
    rows = backend.search_messages(parsed, filters, order=order, limit=room, offset=skip)
    by_thread: defaultdict[str, set[int]] = defaultdict(set)
    for row in rows:
        by_thread[row.thread_id].add(row.message_id)
    on_branch = backend.current_branch_members(by_thread)
    hits += [_message_hit(row, parsed, row.message_id in on_branch) for row in rows]
    return hits
