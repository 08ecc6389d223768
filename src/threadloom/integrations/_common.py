"""What the framework adapters share: importing the framework, resolving the store."""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

from ..errors import ThreadloomError
from ..store import StateStore

__all__ = ["require", "resolve_store"]


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


def resolve_store(
    store: StateStore | str | os.PathLike[str] | Any | None,
) -> tuple[StateStore, bool]:
    """The store an adapter works on, and whether the adapter opened it (and closes it).

    ``store`` is a :class:`StateStore`, an ``AsyncStateStore`` (its ``store``), a path,
    a DSN, a psycopg connection or pool, or ``None`` for the default store.
    """
    if isinstance(store, StateStore):
        return store, False
    inner = getattr(store, "store", None)
    if isinstance(inner, StateStore):
        return inner, False
    return StateStore.open(store), True
