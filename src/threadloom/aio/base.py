"""What the async faces share: running a synchronous call on a lane, blocks, iterators.

The async store does not re-implement the store: every method runs the synchronous
:class:`~threadloom.StateStore` method on a thread the async store owns (see
:mod:`.lanes`), so records, validation and errors are the same by construction. The
methods themselves are generated (``make generate``) from the synchronous signatures.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager
from contextvars import Token
from itertools import islice
from typing import Any, Final, ParamSpec, TypeVar

from .lanes import Lane, Lanes, Lease, release, settled

__all__ = ["LaneRunner"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

#: Items an async iterator fetches per hop to its lane.
_PAGE: Final = 256


def _take(iterator: Iterator[T], count: int) -> list[T]:
    return list(islice(iterator, count))


class _Block:
    """A synchronous context manager made and entered on a lane, and left there."""

    __slots__ = ("manager", "open")

    def __init__(self, open_block: Callable[[], AbstractContextManager[Any]]) -> None:
        self.open = open_block
        self.manager: AbstractContextManager[Any] | None = None

    def enter(self) -> None:
        manager = self.open()
        manager.__enter__()
        self.manager = manager

    def exit(self, exc: BaseException | None) -> None:
        manager, self.manager = self.manager, None
        if manager is not None:  # entered, and not left yet
            manager.__exit__(type(exc) if exc is not None else None, exc, None)


class LaneRunner:
    """Runs synchronous calls on lanes: the machinery behind the generated methods."""

    _lanes: Lanes

    async def _read(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a read on a reader thread (or the block's thread inside a block)."""
        return await self._lanes.for_read().call(fn, *args, **kwargs)

    async def _write(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a small write on the writer thread (SQLite) or any thread (PostgreSQL).

        Outside a block, on SQLite, it may share one commit with the writes queued
        beside it (the writer lane's group commit).
        """
        lanes = self._lanes
        lease = lanes.held()
        if lease is not None:
            return await lease.lane.call(fn, *args, **kwargs)
        lane = await lanes.for_write()
        return await lane.call_grouped(fn, *args, **kwargs)

    async def _write_alone(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a write that manages its own transactions (never grouped with others)."""
        lanes = self._lanes
        lease = lanes.held()
        lane = lease.lane if lease is not None else await lanes.for_write()
        return await lane.call(fn, *args, **kwargs)

    async def _iterate(
        self, fn: Callable[P, Iterable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> AsyncIterator[T]:
        """Iterate a synchronous iterator on one lane, a page of items per hop."""
        lane = self._lanes.for_read()
        iterator: Iterator[T] = await lane.call(lambda: iter(fn(*args, **kwargs)))
        try:
            while True:
                page = await lane.call(_take, iterator, _PAGE)
                for item in page:
                    yield item
                if len(page) < _PAGE:
                    return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None and not self._lanes.closed:
                # Closed on its own lane (a SQLite cursor may not cross threads); nobody
                # needs to wait for it.
                with contextlib.suppress(RuntimeError):  # no loop: finalized late
                    lane.submit(close).add_done_callback(_consume)

    @asynccontextmanager
    async def _block(
        self, open_block: Callable[[], AbstractContextManager[Any]], *, writes: bool
    ) -> AsyncIterator[None]:
        """Run a synchronous block (a transaction, a snapshot) on one held lane.

        Every call the task makes inside runs on that lane. Cancellation is safe at
        any point: by the time it reaches the caller, the block has been left on its
        lane (rolled back, for a transaction) and the lane given back.
        """
        lanes = self._lanes
        block = _Block(open_block)
        # Nested: the enclosing block's lane (the synchronous store nests the block);
        # otherwise a lane held for this block alone.
        outer = lanes.held()
        lease: Lease | None = None
        token: Token[Lease | None] | None = None
        if outer is None:
            lease = await lanes.lease(writes=writes)
            token = lanes.pin(lease)
            lane = lease.lane
        else:
            lane = outer.lane
        try:
            await _enter(lane, block)
            try:
                yield
            except BaseException as exc:
                await _leave(lane, block, exc)
                raise
            await _leave(lane, block, None)
        finally:
            if lease is not None and token is not None:
                lanes.unpin(token)
                release(lease)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def _enter(lane: Lane, block: _Block) -> None:
    """Enter ``block`` on ``lane``; if cancelled once it is entered, leave it before raising."""
    try:
        await lane.call(block.enter)
    except asyncio.CancelledError:
        await _leave(lane, block, None)  # a no-op when the entry never ran
        raise


async def _leave(lane: Lane, block: _Block, exc: BaseException | None) -> None:
    """Leave ``block`` on ``lane`` (commit, or roll back after ``exc``), cancellation or not.

    A cancellation while leaving waits for the exit to finish and is raised after it,
    so the lane is never given back while still inside the block.
    """
    leaving = asyncio.ensure_future(lane.call(block.exit, exc))
    try:
        await asyncio.shield(leaving)
    except asyncio.CancelledError:
        await settled(leaving)
        raise
