"""Walking a thread's current branch safely, shared by both backends.

``list_messages`` walks ``parent_entry_id`` links up from the thread's current leaf.
A writer threadloom controls always gives a message a parent created before it (an
older, smaller id), and the backends' recursive queries only follow such links: the
ids strictly decrease, so the query ends even on a corrupt chain. The rare link that
does not decrease (a parent derived by the original's v0 migration from timestamps,
or corruption) stops the query early; :func:`finish_branch` then continues the walk
one such run at a time, remembering every id it has seen, and raises
:class:`CorruptData` on a cycle instead of repeating rows until the limit.

Every step stays inside the thread: a parent in another thread (or missing) ends the
branch, as a missing parent always did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ...errors import CorruptData

__all__ = ["PARENT", "finish_branch"]

#: Index of ``parent_entry_id`` in a message row (``MESSAGE_COLUMNS`` order).
PARENT = 6

Row = TypeVar("Row", bound=Sequence[Any])


def finish_branch(
    thread_id: str,
    rows: list[Row],
    limit: int,
    fetch_from: Callable[[Any, int], list[Row]],
) -> list[Row]:
    """Complete a branch whose decreasing-id walk stopped before a root or the limit.

    Args:
        thread_id: The thread walked (for the error message).
        rows: The walk so far, oldest first (as the recursive query returns it), not
            empty, its oldest row's parent not ``None``.
        limit: The most rows to return.
        fetch_from: ``fetch_from(message_id, n)``: up to ``n`` rows of the
            decreasing-id walk starting at ``message_id`` inside the thread, oldest
            first (empty when the message is missing or in another thread).

    Returns:
        At most ``limit`` rows of the branch, oldest first.

    Raises:
        CorruptData: The parent links form a cycle (names the thread and its ids).
    """
    chain = rows[::-1]  # leaf first, so appending walks towards the root
    seen = {row[0]: i for i, row in enumerate(chain)}
    parent = chain[-1][PARENT]
    while parent is not None and len(chain) < limit:
        if parent in seen:
            raise _cycle(thread_id, chain, seen[parent])
        segment = fetch_from(parent, limit - len(chain))
        if not segment:
            break  # missing, or another thread's: the branch ends here
        for row in reversed(segment):
            if row[0] in seen:
                raise _cycle(thread_id, chain, seen[row[0]])
            seen[row[0]] = len(chain)
            chain.append(row)
        parent = chain[-1][PARENT]
    return chain[::-1]


def _cycle(thread_id: str, chain: Sequence[Sequence[Any]], start: int) -> CorruptData:
    loop = [row[0] for row in chain[start:]]
    path = " -> ".join(str(i) for i in [*loop, loop[0]])
    return CorruptData(
        f"thread {thread_id} is corrupt: the parent links of its current branch form a "
        f"cycle (messages {path}); the branch cannot be listed",
        table="messages",
        row=f"thread_id={thread_id!r}, id in ({', '.join(str(i) for i in loop)})",
    )
