"""What the async faces share: running a synchronous call on a lane, blocks, iterators.

The async store does not re-implement the store: every method runs the synchronous
:class:`~threadloom.StateStore` method on a thread the async store owns (see
:mod:`.lanes`), so records, validation and errors are the same by construction. The
methods themselves are generated (``make generate``) from the synchronous signatures.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager
from itertools import islice
from typing import Any, Final, ParamSpec, TypeVar

from .lanes import Lane, Lanes, Lease, release

__all__ = ["LaneRunner"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

#: Items an async iterator fetches per hop to its lane.
_PAGE: Final = 256


def _take(iterator: Iterator[T], count: int) -> list[T]:
    return list(islice(iterator, count))


class _Block:
    """A synchronous context manager entered on a lane, remembered for its exit there."""

    __slots__ = ("entered", "manager")

    def __init__(self, manager: AbstractContextManager[Any]) -> None:
        self.manager = manager
        self.entered = False

    def enter(self) -> None:
        self.manager.__enter__()
        self.entered = True

    def exit(self, exc: BaseException | None) -> None:
        if self.entered:
            self.entered = False
            self.manager.__exit__(type(exc) if exc is not None else None, exc, None)


class LaneRunner:
    """Runs synchronous calls on lanes: the machinery behind the generated methods."""

    _lanes: Lanes

    async def _read(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a read on a reader thread (or the block's thread inside a block)."""
        return await self._lanes.for_read().submit(fn, *args, **kwargs)

    async def _write(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a write on the writer thread (SQLite) or any thread (PostgreSQL)."""
        lane = await self._lanes.for_write()
        return await lane.submit(fn, *args, **kwargs)

    async def _iterate(
        self, fn: Callable[P, Iterable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> AsyncIterator[T]:
        """Iterate a synchronous iterator on one lane, a page of items per hop."""
        lane = self._lanes.for_read()
        iterator: Iterator[T] = await lane.submit(lambda: iter(fn(*args, **kwargs)))
        try:
            while True:
                page = await lane.submit(_take, iterator, _PAGE)
                for item in page:
                    yield item
                if len(page) < _PAGE:
                    return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None and not self._lanes.closed:
                # Closed on its own lane (a SQLite cursor may not cross threads); nobody
                # needs to wait for it.
                self._lanes_submit_nowait(lane, close)

    @staticmethod
    def _lanes_submit_nowait(lane: Lane, fn: Callable[[], Any]) -> None:
        try:
            future = lane.submit(fn)
        except RuntimeError:  # no running loop (the generator is finalized late)
            return
        future.add_done_callback(_consume)

    @asynccontextmanager
    async def _block(
        self, open_block: Callable[[], AbstractContextManager[Any]], *, writes: bool
    ) -> AsyncIterator[None]:
        """Run a synchronous block (a transaction, a snapshot) on one held lane.

        Every call the task makes inside runs on that lane. Cancellation is safe at
        any point: the block is left (rolled back for a transaction) on its lane before
        the lane is given back, even when the task is cancelled again while waiting.
        """
        lanes = self._lanes
        outer = lanes.held()
        if outer is not None:
            # Nested: the enclosing block's lane; the synchronous store nests it.
            block = _Block(open_block())
            await _enter(outer.lane, block)
            try:
                yield
            except BaseException as exc:
                await _leave(outer.lane, block, exc, None)
                raise
            else:
                await _leave(outer.lane, block, None, None)
            return
        lease = await lanes.lease(writes=writes)
        token = lanes.pin(lease)
        try:
            block = _Block(open_block())
            try:
                await _enter(lease.lane, block, lease)
            except asyncio.CancelledError:
                raise  # _enter frees the lease once the lane has left the block
            except BaseException:
                release(lease)  # not entered: nothing to leave
                raise
            try:
                yield
            except BaseException as exc:
                await _leave(lease.lane, block, exc, lease)
                raise
            else:
                await _leave(lease.lane, block, None, lease)
        finally:
            lanes.unpin(token)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def _enter(lane: Lane, block: _Block, lease: Lease | None = None) -> None:
    """Enter ``block`` on ``lane``; if the caller is cancelled meanwhile, leave it there too."""
    entering = lane.submit(block.enter)
    try:
        await asyncio.shield(entering)
    except asyncio.CancelledError:
        # The lane still runs the entry; queue the exit behind it, then free the lease.
        leaving = lane.submit(block.exit, None)
        leaving.add_done_callback(_consume)
        entering.add_done_callback(_consume)
        if lease is not None:
            leaving.add_done_callback(lambda _: release(lease))
        raise


async def _leave(lane: Lane, block: _Block, exc: BaseException | None, lease: Lease | None) -> None:
    """Leave ``block`` on ``lane`` (commit, or roll back after ``exc``), then free the lease.

    The lease is freed when the exit has run, not when this coroutine resumes, so a
    second cancellation while waiting cannot let another task onto a lane that is
    still inside the block.
    """
    leaving = lane.submit(block.exit, exc)
    if lease is not None:
        leaving.add_done_callback(lambda _: release(lease))
    try:
        await asyncio.shield(leaving)
    except asyncio.CancelledError:
        leaving.add_done_callback(_consume)
        raise
