"""Threads the async store owns, and which of them runs a call.

A :class:`Lane` is one thread running jobs in order. Because the synchronous store
keeps per-thread state (a SQLite connection, a PostgreSQL connection pinned for a
transaction), a block that must see one connection (a transaction, a snapshot, an
iterator) stays on one lane, and nothing else runs there meanwhile.

:class:`Lanes` routes calls:

- **SQLite** (one writer at a time per database): every write goes to one writer lane,
  so writes of this process never wait on each other inside SQLite's busy handler;
  reads go to a small set of reader lanes (WAL readers run beside the writer). A
  ``transaction()`` holds the writer lane for its block: other tasks' writes wait on
  an ``asyncio.Lock``, in the event loop, not in a thread.
- **PostgreSQL** (row locks, many writers): calls go to any of a fixed set of lanes
  (as many as the pool has connections), so a thousand concurrent tasks share a few
  threads and connections. A ``transaction()`` or ``snapshot()`` gets a lane of its
  own for the block.

Results come back with one ``call_soon_threadsafe`` per batch of finished jobs, so a
busy lane wakes the event loop once for many results. A process made by ``fork()``
builds new lanes on its first call (threads do not survive a fork).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import threading
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any, Final, ParamSpec, TypeVar

from .. import _forks
from ..errors import ThreadloomError

__all__ = ["Job", "Lane", "Lanes", "Lease", "release", "settled"]

#: Most jobs a lane runs before handing their results back to the event loop.
_BATCH: Final = 32
#: Idle dedicated lanes kept for later transactions and snapshots.
_SPARE_LANES: Final = 8

_STOP: Final = object()

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(slots=True)
class Job:
    """A call to run on a lane, and where its result goes."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    #: Emptied by whoever claims the job first: the lane (to run it) or a cancelled
    #: caller (so it never runs). ``list.pop`` is atomic, so exactly one side wins.
    unclaimed: list[bool] = field(default_factory=lambda: [True])

    def claim(self) -> bool:
        """Take the job; ``False`` if the other side took it first."""
        try:
            self.unclaimed.pop()
        except IndexError:
            return False
        return True


def _settle(done: list[tuple[asyncio.Future[Any], bool | None, Any]]) -> None:
    """Set results on the event loop's thread (a cancelled caller's result is dropped).

    ``ok`` is ``True`` for a result, ``False`` for an exception, ``None`` for a job that
    never ran because its caller was cancelled first.
    """
    for future, ok, value in done:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        elif ok is None:
            future.cancel()
        else:
            future.set_exception(value)


class Lane:
    """One daemon thread running submitted jobs in order."""

    _counter = itertools.count(1)

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Job | object] = queue.SimpleQueue()
        self.stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"{name}-{next(self._counter)}", daemon=True
        )
        self._thread.start()

    @property
    def backlog(self) -> int:
        """Jobs waiting (approximate)."""
        return self._jobs.qsize()

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[R]:
        """Queue ``fn(*args, **kwargs)``; its result or exception arrives on the future.

        Fire and forget: cancelling the future does not stop the job (use :meth:`call`).

        Raises:
            RuntimeError: No event loop is running in this thread.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._jobs.put(Job(fn, args, kwargs, future, loop))
        return future

    async def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn(*args, **kwargs)`` on this lane and return its result.

        When the caller is cancelled (``task.cancel()``, ``asyncio.timeout()``), the call
        either never starts (it was still queued) or is let finish first: by the time
        the ``CancelledError`` reaches the caller, the call has happened whole or not at
        all, and nothing of it lands later.

        Raises:
            Whatever ``fn`` raises; ``CancelledError`` as described.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        job = Job(fn, args, kwargs, future, loop)
        self._jobs.put(job)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if not job.claim():
                await settled(future)  # already running: let it end first
            raise

    def stop(self) -> None:
        """Let the thread finish the jobs queued so far, then end (it closes its connections)."""
        self._jobs.put(_STOP)

    def _run(self) -> None:
        jobs = self._jobs
        try:
            while True:
                job = jobs.get()
                done: list[tuple[asyncio.Future[Any], bool | None, Any]] = []
                loop: asyncio.AbstractEventLoop | None = None
                while True:
                    if not isinstance(job, Job):
                        self._deliver(loop, done)
                        return
                    if loop is not None and job.loop is not loop:
                        self._deliver(loop, done)
                        done = []
                    loop = job.loop
                    if not job.claim():  # its caller was cancelled before it started
                        done.append((job.future, None, None))
                    else:
                        try:
                            value = job.fn(*job.args, **job.kwargs)
                        except BaseException as exc:  # the caller gets it, whatever it is
                            done.append((job.future, False, exc))
                        else:
                            done.append((job.future, True, value))
                    if len(done) >= _BATCH:
                        break
                    try:
                        job = jobs.get_nowait()
                    except queue.Empty:
                        break
                    # A stop marker or a job is handled by the inner loop's next turn.
                    continue
                self._deliver(loop, done)
        finally:
            self.stopped.set()

    @staticmethod
    def _deliver(
        loop: asyncio.AbstractEventLoop | None,
        done: list[tuple[asyncio.Future[Any], bool | None, Any]],
    ) -> None:
        if loop is None or not done:
            return
        # A closed loop raises RuntimeError: nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, done)


@dataclass(slots=True, eq=False)
class Lease:
    """A lane held by one block (a transaction or a snapshot) until it ends."""

    lane: Lane
    active: bool = True
    on_release: list[Callable[[], None]] = field(default_factory=list)


class Lanes:
    """The lanes of one async store, and the routing of its calls.

    Args:
        name: Thread name prefix.
        single_writer: The database takes one writer at a time (SQLite): writes go to
            one writer lane, reads to ``workers`` reader lanes.
        workers: Reader lanes (single writer) or lanes for every call (otherwise).
    """

    def __init__(self, name: str, *, single_writer: bool, workers: int) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive int, got {workers!r}")
        self._name = name
        self.single_writer = single_writer
        self._workers = workers
        # Which lease (if any) the current task's calls belong to.
        self._held: ContextVar[Lease | None] = ContextVar(f"{name}_lease", default=None)
        self._closed = False
        self._start()

    def _start(self) -> None:
        self._generation = _forks.generation
        self._shared = [Lane(self._name) for _ in range(self._workers)]
        self._writer = Lane(f"{self._name}-writer") if self.single_writer else None
        self._spare: list[Lane] = []
        self._gate: asyncio.Lock | None = None

    def _check(self) -> None:
        if self._closed:
            raise ThreadloomError("the async store is closed")
        if self._generation != _forks.generation:
            # A forked child: the parent's threads are not here; start over.
            self._start()

    # -- routing -----------------------------------------------------------------

    def held(self) -> Lease | None:
        """The lease the current task is inside, if it is still open."""
        lease = self._held.get()
        return lease if lease is not None and lease.active else None

    def _least_busy(self) -> Lane:
        shared = self._shared
        if len(shared) == 1:
            return shared[0]
        return min(shared, key=lambda lane: lane.backlog)

    def for_read(self) -> Lane:
        """The lane a read runs on."""
        self._check()
        lease = self.held()
        return lease.lane if lease is not None else self._least_busy()

    async def for_write(self) -> Lane:
        """The lane a write runs on (waits while another task's transaction holds it)."""
        self._check()
        lease = self.held()
        if lease is not None:
            return lease.lane
        writer = self._writer
        if writer is None:
            return self._least_busy()
        gate = self._gate
        if gate is not None and gate.locked():
            # Queue behind the transaction. The caller submits before its next await,
            # so the write is queued before the next waiter gets the gate.
            async with gate:
                self._check()
        return self._writer or writer

    # -- leases ------------------------------------------------------------------

    async def lease(self, *, writes: bool) -> Lease:
        """Hold a lane for a block; nested blocks get the enclosing lease.

        A writing block on a single-writer database holds the writer lane (other
        writes wait); any other block gets a dedicated lane.
        """
        self._check()
        if self._writer is not None and writes:
            if self._gate is None:
                self._gate = asyncio.Lock()
            await self._gate.acquire()
            gate = self._gate
            return Lease(self._writer, on_release=[gate.release])
        lane = self._spare.pop() if self._spare else Lane(f"{self._name}-block")
        return Lease(lane, on_release=[lambda: self._return_spare(lane)])

    def _return_spare(self, lane: Lane) -> None:
        if self._closed or len(self._spare) >= _SPARE_LANES:
            lane.stop()
        else:
            self._spare.append(lane)

    def pin(self, lease: Lease) -> Token[Lease | None]:
        """Make the current task's calls run on ``lease``'s lane; returns a reset token."""
        return self._held.set(lease)

    def unpin(self, token: Token[Lease | None]) -> None:
        """Undo :meth:`pin` (the lease itself is freed by :func:`release`)."""
        try:
            self._held.reset(token)
        except ValueError:  # reset from another context: forget the lease here
            self._held.set(None)

    # -- closing -----------------------------------------------------------------

    def all_lanes(self) -> list[Lane]:
        lanes = [*self._shared, *self._spare]
        if self._writer is not None:
            lanes.append(self._writer)
        return lanes

    @property
    def closed(self) -> bool:
        return self._closed

    def writer_or_any(self) -> Lane:
        """A lane for the last job before closing (the writer where there is one)."""
        self._check()
        return self._writer or self._shared[0]

    def mark_closed(self) -> None:
        """Refuse further calls (the caller drains and stops the lanes)."""
        self._closed = True


async def settled(future: asyncio.Future[Any]) -> None:
    """Wait until ``future`` is done, through any number of cancellations (not raised)."""
    while not future.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(future)
    if not future.cancelled():
        future.exception()  # retrieved: its caller is gone


def release(lease: Lease) -> None:
    """End a lease once: the lane goes back, the writer gate opens."""
    if not lease.active:
        return
    lease.active = False
    for hook in lease.on_release:
        hook()
