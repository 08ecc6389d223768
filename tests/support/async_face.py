"""The contract suite, run through the async store.

:class:`SyncFace` looks like a :class:`~threadloom.StateStore` to a synchronous test,
but every call goes through an :class:`~threadloom.AsyncStateStore` on an event loop
in a background thread: its lanes, routing, blocks and iterators. Each test thread has
one ``contextvars.Context`` its calls run in, as one task's calls would, so a
``transaction()`` entered by one call holds for the calls after it.

:func:`async_backends` makes ``<backend>-async`` variants of the contract backends.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from threadloom import AsyncStateStore, StateStore

__all__ = ["EventLoopThread", "SyncFace", "async_backends"]

T = TypeVar("T")
StoreFactory = Callable[..., Any]


class EventLoopThread:
    """An event loop running in a daemon thread until :meth:`stop`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._local = threading.local()

    def context(self) -> contextvars.Context:
        """The calling thread's context (one per thread, as one task has one)."""
        ctx: contextvars.Context | None = getattr(self._local, "ctx", None)
        if ctx is None:
            ctx = self._local.ctx = contextvars.Context()
        return ctx

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` as a task in the calling thread's context; wait for its result."""
        ctx = self.context()
        done: asyncio.Future[T] | None = None
        ready = threading.Event()
        box: list[Any] = []

        def start() -> None:
            nonlocal done
            task = self.loop.create_task(coro, context=ctx)

            def finish(t: asyncio.Task[T]) -> None:
                box.append(t)
                ready.set()

            task.add_done_callback(finish)
            done = task

        self.loop.call_soon_threadsafe(start)
        ready.wait()
        task: asyncio.Task[T] = box[0]
        return task.result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class _SyncBlock:
    """A synchronous ``with`` over an async context manager, in the caller's context."""

    def __init__(self, runner: EventLoopThread, make: Callable[[], Any]) -> None:
        self._runner = runner
        self._make = make
        self._manager: AbstractAsyncContextManager[Any] | None = None

    def __enter__(self) -> None:
        async def enter() -> None:
            self._manager = self._make()
            await self._manager.__aenter__()

        self._runner.run(enter())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        manager = self._manager
        assert manager is not None

        async def leave() -> bool | None:
            return await manager.__aexit__(exc_type, exc, tb)

        return self._runner.run(leave())


class SyncFace:
    """A synchronous view of an async object, for tests written against the sync API."""

    def __init__(self, target: Any, runner: EventLoopThread) -> None:
        self._target = target
        self._runner = runner

    @property
    def target(self) -> Any:
        return self._target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name in ("transaction", "snapshot"):
            return lambda: _SyncBlock(self._runner, value)
        if name == "workflows":
            return SyncFace(value, self._runner)
        if name == "close":
            return lambda: self._runner.run(value())
        if not callable(value):
            return value
        if name.startswith("iter_"):
            return lambda *a, **k: self._iterate(value(*a, **k))
        if asyncio.iscoroutinefunction(value):
            return lambda *a, **k: self._runner.run(value(*a, **k))
        return value

    def _iterate(self, items: AsyncIterator[Any]) -> Iterator[Any]:
        async def take() -> tuple[bool, Any]:
            try:
                return True, await items.__anext__()
            except StopAsyncIteration:
                return False, None

        while True:
            more, item = self._runner.run(take())
            if not more:
                return
            yield item

    def __enter__(self) -> SyncFace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SyncFace({self._target!r})"


@contextmanager
def _async_factory(sync_factory: Iterator[StoreFactory]) -> Iterator[StoreFactory]:
    runner = EventLoopThread()
    faces: list[SyncFace] = []
    make_sync = next(sync_factory)

    def make(**options: Any) -> Any:
        # The backend factory opens the store (a schema, a connection or a pool, and
        # their cleanup); the async store wraps it and owns its threads.
        store: StateStore = make_sync(**options)
        face = SyncFace(runner.run(_wrap(store)), runner)
        faces.append(face)
        return face

    try:
        yield make
    finally:
        for face in faces:
            runner.run(face.target.close())
        runner.stop()
        for _ in sync_factory:  # the backend factory's cleanup
            pass


async def _wrap(store: StateStore) -> AsyncStateStore:
    return AsyncStateStore.wrap(store)


def async_variant(
    backend: Callable[[Path], Iterator[StoreFactory]],
) -> Callable[[Path], Iterator[StoreFactory]]:
    """The ``-async`` twin of a contract backend factory."""

    def variant(tmp_path: Path) -> Iterator[StoreFactory]:
        with _async_factory(backend(tmp_path)) as make:
            yield make

    return variant


def async_backends(
    backends: dict[str, Callable[[Path], Iterator[StoreFactory]]],
) -> dict[str, Callable[[Path], Iterator[StoreFactory]]]:
    """``<name>-async`` for every backend in ``backends``."""
    return {f"{name}-async": async_variant(factory) for name, factory in backends.items()}
