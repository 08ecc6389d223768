"""The hand-written part of the async store: opening, closing, blocks, workflows.

Everything else on :class:`~threadloom.AsyncStateStore` is generated from
:class:`~threadloom.StateStore` (see ``tools/generate_async.py``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from ..contract import Backend
from ..store import StateStore
from ..workflows import WorkflowStore
from .base import LaneRunner
from .lanes import Lane, Lanes, settled

if TYPE_CHECKING:
    from ._generated import AsyncWorkflowStore

__all__ = ["AsyncStoreCore", "AsyncWorkflowCore"]


def _idle() -> None:
    """A job that does nothing: awaiting it means the lane finished what came before."""


class AsyncStoreCore(LaneRunner):
    """Opening, closing and blocks of :class:`~threadloom.AsyncStateStore`."""

    def __init__(
        self, store: StateStore, *, workers: int | None = None, owned: bool = True
    ) -> None:
        if not isinstance(store, StateStore):
            raise TypeError(f"store must be a StateStore, got {type(store).__name__}")
        self._store = store
        self._owned = owned
        self._lanes = Lanes(
            "threadloom-async",
            single_writer=store.backend.single_writer,
            workers=store.backend.max_concurrency if workers is None else workers,
            group=store.transaction,
        )
        self._workflows: AsyncWorkflowStore | None = None

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str] | Any | None = None,
        *,
        durability: str = "normal",
        busy_timeout: float = 5.0,
        migrate: bool = True,
        read_only: bool = False,
        clock: Callable[[], int] | None = None,
        workers: int | None = None,
        **backend_options: Any,
    ) -> Self:
        """Open (or create) a store; the arguments are :meth:`StateStore.open`'s.

        Args:
            workers: Threads running calls: SQLite's reader threads (writes have one
                thread of their own; default: the cores, at most 4), or PostgreSQL's
                threads for every call (default: the pool size).

        Raises:
            The errors of :meth:`StateStore.open` (opening runs on a thread, not on the
            event loop).
        """
        # Opened on a thread of its own, which ends with this call. A cancellation
        # while opening waits for the open to end and closes what it opened.
        opener = Lane("threadloom-open")
        try:
            opening = opener.submit(
                StateStore.open,
                path,
                durability=durability,
                busy_timeout=busy_timeout,
                migrate=migrate,
                read_only=read_only,
                clock=clock,
                **backend_options,
            )
            try:
                store = await asyncio.shield(opening)
            except asyncio.CancelledError:
                await settled(opening)
                if not opening.cancelled() and opening.exception() is None:
                    await settled(opener.submit(opening.result().close))
                raise
            try:
                return cls(store, workers=workers, owned=True)
            except BaseException:
                await settled(opener.submit(store.close))
                raise
        finally:
            opener.stop()
            while opener.alive:
                await asyncio.sleep(0.001)

    @classmethod
    def wrap(cls, store: StateStore, *, workers: int | None = None) -> Self:
        """An async face over an open :class:`StateStore` (closing it leaves ``store`` open).

        The synchronous store stays usable beside it; both follow the same locking.
        """
        return cls(store, workers=workers, owned=False)

    @property
    def store(self) -> StateStore:
        """The synchronous store behind this one."""
        return self._store

    @property
    def backend(self) -> Backend:
        """The storage backend behind this store."""
        return self._store.backend

    @property
    def idempotency_ttl(self) -> int:
        """Seconds an idempotency key is kept (as :attr:`StateStore.idempotency_ttl`)."""
        return self._store.idempotency_ttl

    def db_path(self) -> Path:
        """The database file path (for PostgreSQL: the DSN without its password); no I/O."""
        return self._store.db_path()

    async def close(self) -> None:
        """Finish queued calls, stop the store's threads and close it (if it owns it).

        Calls after this raise ``ThreadloomError``. Closing twice does nothing.
        """
        lanes = self._lanes
        if lanes.closed:
            return
        last = lanes.writer_or_any()
        others = [lane for lane in lanes.all_lanes() if lane is not last]
        lanes.mark_closed()
        # Let every lane finish what it was given; then close the store on the last one
        # (no call can still be running elsewhere), and stop it too.
        try:
            await asyncio.shield(asyncio.gather(*(lane.submit(_idle) for lane in others)))
            if self._owned:
                await asyncio.shield(last.submit(self._store.close))
        finally:
            for lane in (*others, last):
                lane.stop()
        # Return once the threads are gone (their connections closed with them),
        # polling rather than joining: a join would block the event loop.
        for lane in (*others, last):
            while lane.alive:
                await asyncio.sleep(0.001)

    async def aclose(self) -> None:
        """The same as :meth:`close`."""
        await self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncStateStore({self._store.backend.location!r})"

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Make the calls inside the block one atomic write (``async with``).

        Commits when the block ends normally, rolls back on any exception, a
        cancellation included; nested blocks are savepoints. On SQLite, other tasks'
        writes wait (in the event loop) until the block ends; their reads do not.

        Raises:
            StoreBusy: The write lock could not be had within the busy timeout.
            ReadOnlyError: The block is inside a snapshot.
        """
        return self._block(self._store.transaction, writes=True)

    def snapshot(self) -> AbstractAsyncContextManager[None]:
        """Make the reads inside the block see one consistent state (``async with``).

        A write inside it raises :class:`~threadloom.errors.ReadOnlyError`.
        """
        return self._block(self._store.snapshot, writes=False)

    @property
    def workflows(self) -> AsyncWorkflowStore:
        """The workflow trace store, async, on this store's threads."""
        if self._workflows is None:
            from ._generated import AsyncWorkflowStore

            self._workflows = AsyncWorkflowStore(self._store.workflows, self._lanes)
        return self._workflows


class AsyncWorkflowCore(LaneRunner):
    """The hand-written part of :class:`~threadloom.aio.AsyncWorkflowStore`."""

    def __init__(self, workflows: WorkflowStore, lanes: Lanes) -> None:
        self._workflows = workflows
        self._lanes = lanes

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Make the calls inside the block one atomic write (``async with``).

        Raises:
            StoreBusy: The write lock could not be had within the busy timeout.
        """
        return self._block(self._workflows.transaction, writes=True)
