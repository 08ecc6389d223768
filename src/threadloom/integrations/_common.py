"""What the framework adapters share: importing the framework, the store, its async face."""

from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator, Callable, Iterable
from types import ModuleType
from typing import Any, ParamSpec, TypeVar

from ..aio import AsyncStateStore
from ..errors import ThreadloomError
from ..store import StateStore

__all__ = ["StoreHolder", "require"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def require(module: str, extra: str, package: str) -> ModuleType:
    """Import a framework module, or say which extra installs it.

    Raises:
        ThreadloomError: The framework is not installed (chained to the import error).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ThreadloomError(
            f"threadloom's {extra} adapter needs {package}: pip install 'threadloom[{extra}]'"
        ) from exc


class StoreHolder:
    """The store an adapter works on, its async face, and who closes what.

    ``store`` is a :class:`StateStore`, an :class:`AsyncStateStore`, a path, a DSN, a
    psycopg connection or pool, or ``None`` for the default store. A store passed in
    stays open; one the adapter opened is closed by :meth:`close`.

    The adapters' async methods run their synchronous twins as one call on the async
    store's threads (``AsyncStateStore``'s own lanes: reads on reader threads, writes
    on the writer thread), so a framework call that is several statements (a
    checkpoint and its writes, an event and its state) is one hop, not one per
    statement, and never blocks the event loop.
    """

    def __init__(
        self, store: StateStore | AsyncStateStore | str | os.PathLike[str] | Any | None
    ) -> None:
        self._aio: AsyncStateStore | None = None
        self._aio_owned = False
        if isinstance(store, StateStore):
            self.store, self.owned = store, False
        elif isinstance(store, AsyncStateStore):
            self.store, self.owned, self._aio = store.store, False, store
        else:
            self.store, self.owned = StateStore.open(store), True

    @property
    def aio(self) -> AsyncStateStore:
        """The async face (made over the synchronous store on first use)."""
        if self._aio is None:
            self._aio = AsyncStateStore.wrap(self.store)
            self._aio_owned = True
        return self._aio

    async def read(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a synchronous read on the async store's reader threads."""
        return await self.aio._read(fn, *args, **kwargs)

    async def write(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a synchronous write on the async store's writer thread."""
        return await self.aio._write(fn, *args, **kwargs)

    def iterate(
        self, fn: Callable[P, Iterable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> AsyncIterator[T]:
        """Iterate a synchronous iterator on one reader thread, a page per hop."""
        return self.aio._iterate(fn, *args, **kwargs)

    def close(self) -> None:
        """Close the store if the adapter opened it."""
        if self.owned:
            self.store.close()

    async def aclose(self) -> None:
        """Stop the async face the adapter made, then close the store if it opened it."""
        if self._aio is not None and self._aio_owned:
            await self._aio.close()
            self._aio = None
        self.close()
