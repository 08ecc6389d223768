"""Live updates: server-sent events when anything (this server or another process) writes.

A writer may be any process — threadloom's CLI, another threadloom, the original Rust
runtime — so nothing is told about a write; the stream polls. Each tick reads three
small fingerprints through the access layer: the most recently updated threads, the
jobs, and (if the page watches one) a thread's row and goal. A change sends one event
named after what changed; the page then fetches what it shows again.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Hashable
from typing import Any

import anyio
import orjson

from .access import StoreReads

__all__ = ["event_stream", "fingerprints"]

#: A comment line this often keeps proxies and the browser from closing an idle stream.
_HEARTBEAT_SECONDS = 15.0
#: How often a stream looks whether the server is stopping.
_STOP_CHECK_SECONDS = 0.25


async def fingerprints(access: StoreReads, thread_id: str | None) -> dict[str, Hashable]:
    """What the page shows, reduced to values that change when a write touches it."""
    threads = await access.list_threads(include_archived=True, limit=50)
    jobs = await access.list_jobs(100)
    found: dict[str, Hashable] = {
        "threads": tuple(
            (t.id, t.updated_at, t.current_leaf_id, t.name, t.archived, t.status.value)
            for t in threads
        ),
        "jobs": tuple((j.id, j.status.value, j.progress, j.updated_at, j.detail) for j in jobs),
    }
    if thread_id is not None:
        thread = await access.get_thread(thread_id)
        goal = await access.get_thread_goal(thread_id)
        found["thread"] = (
            None
            if thread is None
            else (
                thread.updated_at,
                thread.current_leaf_id,
                thread.name,
                thread.archived,
                thread.status.value,
            )
        )
        found["goal"] = None if goal is None else (goal.updated_at, goal.tokens_used, goal.status)
    return found


def _event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def event_stream(
    access: StoreReads, thread_id: str | None, interval: float, stopping: threading.Event
) -> AsyncIterator[bytes]:
    """The ``text/event-stream`` body: ``hello`` first, then one event per change,
    until ``stopping`` is set (within a quarter of a second).

    Events: ``threads`` (the picker changed), ``jobs``, ``thread`` (the watched thread's
    leaf, name or status changed: a message was appended, a branch switched), ``goal``.
    """
    last = await fingerprints(access, thread_id)
    yield _event("hello", {"thread_id": thread_id, "interval": interval})
    quiet = 0.0
    while not stopping.is_set():
        waited = 0.0
        while waited < interval and not stopping.is_set():
            step = min(_STOP_CHECK_SECONDS, interval - waited)
            await anyio.sleep(step)
            waited += step
        if stopping.is_set():
            return
        now = await fingerprints(access, thread_id)
        changed = [name for name, value in now.items() if last.get(name) != value]
        last = now
        for name in changed:
            yield _event(name, {"thread_id": thread_id} if name in ("thread", "goal") else {})
        quiet = 0.0 if changed else quiet + interval
        if quiet >= _HEARTBEAT_SECONDS:
            quiet = 0.0
            yield b": keep-alive\n\n"
