"""A counter bumped in every child made by ``fork()``.

Stores keep per-process state (SQLite connections, flock descriptors) that a forked
child must not share with its parent. Comparing a saved counter with
:data:`generation` tells a child apart for a few nanoseconds; ``os.getpid()`` is a
system call (about 0.2 µs here) and ran on every store call.

Read it as ``_forks.generation`` (a ``from`` import would copy the number once).
"""

from __future__ import annotations

import os

__all__ = ["generation"]

#: How many forks separate this process from the one that imported threadloom.
generation = 0


def _bump() -> None:
    global generation
    generation += 1


# Runs in the child of os.fork() and of multiprocessing's "fork" start method.
os.register_at_fork(after_in_child=_bump)
