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
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any, Final, ParamSpec, TypeVar

from .. import _forks
from ..errors import ThreadloomError

__all__ = ["Job", "Lane", "Lanes", "Lease", "release", "settled"]

#: Most jobs a lane runs before handing their results back to the event loop.
_BATCH: Final = 32
#: Most writes that share one commit.
_GROUP: Final = 64
#: Idle dedicated lanes kept for later transactions and snapshots.
_SPARE_LANES: Final = 8

_STOP: Final = object()

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(slots=True, eq=False)
class Job:
    """A call to run on a lane, and where its result goes."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    #: May share one commit with the writes queued beside it (see :class:`Lane`).
    groupable: bool = False
    #: Emptied by whoever claims the job first: the lane (to run it) or a cancelled
    #: caller (so it never runs). ``list.pop`` is atomic, so exactly one side wins.
    unclaimed: list[bool] = field(default_factory=lambda: [True])
    #: ``(True, result)``, ``(False, exception)``, or ``None`` if it never ran.
    outcome: tuple[bool, Any] | None = None
    # Touched on the event loop's thread only: delivered yet, and who waits for that.
    settled: bool = False
    waiter: asyncio.Future[None] | None = None

    def claim(self) -> bool:
        """Take the job; ``False`` if the other side took it first."""
        try:
            self.unclaimed.pop()
        except IndexError:
            return False
        return True

    def run(self) -> None:
        """Run the call (on the lane), keeping its result or exception."""
        try:
            self.outcome = (True, self.fn(*self.args, **self.kwargs))
        except BaseException as exc:  # the caller gets it, whatever it is
            self.outcome = (False, exc)


def _settle(done: list[Job]) -> None:
    """Deliver outcomes on the event loop's thread (a cancelled caller's is dropped)."""
    for job in done:
        job.settled = True
        if job.waiter is not None and not job.waiter.done():
            job.waiter.set_result(None)
        future = job.future
        if future.done():
            continue
        outcome = job.outcome
        if outcome is None:
            future.cancel()
        elif outcome[0]:
            future.set_result(outcome[1])
        else:
            future.set_exception(outcome[1])


class Lane:
    """One daemon thread running submitted jobs in order.

    Args:
        name: Thread name prefix.
        group: For a single-writer database's writer lane: opens a transaction
            (nested: a savepoint). Groupable writes found queued together then run in
            one transaction, each in a savepoint of its own, and are answered after its
            one commit: with ``durability="full"``, one fsync for the lot instead of
            one each. A write that fails rolls back its own savepoint only and gets its
            own error; if the commit fails, every write of the group gets that error
            (none of them is stored).
    """

    _counter = itertools.count(1)

    def __init__(
        self, name: str, group: Callable[[], AbstractContextManager[Any]] | None = None
    ) -> None:
        self._jobs: queue.SimpleQueue[Job | object] = queue.SimpleQueue()
        self._group = group
        self.stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"{name}-{next(self._counter)}", daemon=True
        )
        self._thread.start()

    @property
    def alive(self) -> bool:
        """The thread has not ended yet."""
        return self._thread.is_alive()

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
        job = Job(fn, args, kwargs, loop.create_future(), loop)
        return await self._wait(job)  # type: ignore[no-any-return]

    async def call_grouped(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """:meth:`call`, for a write that may share a commit with others (see the class)."""
        loop = asyncio.get_running_loop()
        job = Job(fn, args, kwargs, loop.create_future(), loop, groupable=True)
        return await self._wait(job)  # type: ignore[no-any-return]

    async def _wait(self, job: Job) -> Any:
        self._jobs.put(job)
        try:
            return await job.future
        except asyncio.CancelledError:
            if not job.claim() and not job.settled:
                # Already running: let it end first (its waiter is set on this thread,
                # as settling is, so the two cannot miss each other).
                job.waiter = job.loop.create_future()
                await settled(job.waiter)
            raise

    def stop(self) -> None:
        """Let the thread finish the jobs queued so far, then end (it closes its connections)."""
        self._jobs.put(_STOP)

    def _run(self) -> None:
        jobs = self._jobs
        item: Job | object | None = None
        try:
            while True:
                if item is None:
                    item = jobs.get()
                done: list[Job] = []
                while isinstance(item, Job):
                    job, item = item, None
                    if done and job.loop is not done[0].loop:
                        self._deliver(done)
                        done = []
                    if job.groupable and self._group is not None and not jobs.empty():
                        group, item = self._gather(job)
                        self._run_group(group)
                        done += group
                    else:
                        if job.claim():  # else its caller was cancelled before it started
                            job.run()
                        done.append(job)
                    if item is not None or len(done) >= _BATCH:
                        break
                    try:
                        item = jobs.get_nowait()
                    except queue.Empty:
                        break
                self._deliver(done)
                if item is not None and not isinstance(item, Job):
                    return  # the stop marker
        finally:
            self.stopped.set()

    def _gather(self, first: Job) -> tuple[list[Job], Job | object | None]:
        """``first`` and the groupable jobs queued right behind it; the next other item."""
        group = [first]
        while len(group) < _GROUP:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                return group, None
            if not (isinstance(item, Job) and item.groupable and item.loop is first.loop):
                return group, item
            group.append(item)
        return group, None

    def _run_group(self, group: list[Job]) -> None:
        claimed = [job for job in group if job.claim()]
        if not claimed:
            return
        open_block = self._group
        assert open_block is not None
        try:
            with open_block():
                for job in claimed:
                    try:
                        with open_block():
                            job.run()
                            if not job.outcome or not job.outcome[0]:
                                raise _Failed
                    except _Failed:
                        pass
        except BaseException as exc:  # the group's commit failed: none of it is stored
            for job in claimed:
                job.outcome = (False, exc)

    @staticmethod
    def _deliver(done: list[Job]) -> None:
        if not done:
            return
        # A closed loop raises RuntimeError: nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            done[0].loop.call_soon_threadsafe(_settle, done)


class _Failed(Exception):
    """Rolls a failed write's savepoint back (its own exception is in its outcome)."""


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
        group: Opens a transaction on the calling thread: the writer lane's group
            commit (see :class:`Lane`).
    """

    def __init__(
        self,
        name: str,
        *,
        single_writer: bool,
        workers: int,
        group: Callable[[], AbstractContextManager[Any]] | None = None,
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive int, got {workers!r}")
        self._name = name
        self.single_writer = single_writer
        self._group_opener = group
        self._workers = workers
        # Which lease (if any) the current task's calls belong to.
        self._held: ContextVar[Lease | None] = ContextVar(f"{name}_lease", default=None)
        self._closed = False
        self._start()

    def _start(self) -> None:
        self._generation = _forks.generation
        self._shared = [Lane(self._name) for _ in range(self._workers)]
        self._writer = (
            Lane(f"{self._name}-writer", self._group_opener) if self.single_writer else None
        )
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
        """The lane a write outside any block runs on (waits while another task's
        transaction holds it). Callers check :meth:`held` first."""
        self._check()
        writer = self._writer
        if writer is None:
            return self._least_busy()
        gate = self._gate
        if gate is not None and gate.locked():
            # Queue behind the transaction. The caller submits before its next await,
            # so the write is queued before the next waiter gets the gate.
            async with gate:
                self._check()
        return self._writer or writer  # a fork while waiting starts new lanes

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
