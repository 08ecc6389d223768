"""What a process made by ``fork()`` does with the handles it inherited: nothing.

Stores keep per-process state (SQLite connections, PostgreSQL pools and sockets, flock
descriptors) that a forked child must not share with its parent. SQLite's documentation
warns that using *or closing* a connection inherited across ``fork()`` can corrupt the
database; a PostgreSQL socket is the parent's session. So a child abandons them:

- :data:`generation` is bumped in every child; comparing a saved copy with it tells a
  child apart without a system call (``os.getpid()`` would run on every store
  call). Read it as ``_forks.generation`` (a ``from`` import would copy the number
  once).
- An object passed to :func:`watch` has its ``_forked()`` method called in the child,
  before any other code of the child runs (so no other thread can hold one of its
  locks): it resets its locks and hands its inherited handles to :func:`abandon`.
- :func:`abandon` keeps objects alive for the rest of the process, so the child never
  finalizes them, not even in the garbage collector or at interpreter exit.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

__all__ = ["ForkAware", "abandon", "generation", "watch"]

#: How many forks separate this process from the one that imported threadloom.
generation = 0


class ForkAware(Protocol):
    """An object that drops its inherited state in a forked child."""

    def _forked(self) -> None:
        """Called in the child right after ``fork()``; must not raise or block."""


_watched: weakref.WeakSet[ForkAware] = weakref.WeakSet()

#: Handles inherited from a parent process, kept alive so nothing here finalizes them.
_abandoned: list[object] = []


def _pin(obj: object) -> None:
    """Give ``obj`` one reference nobody ever releases.

    Interpreter shutdown clears module globals and collects what they held, which would
    run the finalizers of abandoned handles (``sqlite3_close`` on a parent's database).
    An extra reference makes the list survive shutdown as well.
    """
    try:
        import ctypes

        ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
    except Exception:  # pragma: no cover - ctypes missing: the module global must do
        pass


_pin(_abandoned)


def watch(obj: ForkAware) -> None:
    """Call ``obj._forked()`` in every child forked while ``obj`` is alive."""
    _watched.add(obj)


def abandon(*handles: object) -> None:
    """Keep ``handles`` alive and untouched for the rest of this process."""
    _abandoned.extend(handles)


def _after_fork_in_child() -> None:
    global generation
    generation += 1
    for obj in list(_watched):
        obj._forked()


# Runs in the child of os.fork() and of multiprocessing's "fork" start method, with a
# single thread; the other threads' thread-local storage was already cleared.
os.register_at_fork(after_in_child=_after_fork_in_child)
