"""The backend contract's full-text search part.

The facade (:meth:`~threadloom.StateStore.search`) parses the query
(:mod:`threadloom.search.query`), builds snippets and records; a backend keeps the
index of its engine current and answers a parsed query with rows. Both backends index
text normalized by :mod:`threadloom.search.text`, so they find the same messages.

Conventions every backend follows:

- The index is derived data in threadloom's own tables, created on first use; it is
  brought up to date from a watermark (message ids only grow) by
  :meth:`SearchOperations.search_catch_up`, never by triggers on the original's tables.
- A message that no longer exists (deleted by threadloom or by the original) or whose
  thread no longer exists is never a hit, whatever the index still holds.
- Message hits are newest first (``order="recent"``) or best first
  (``order="relevance"``, ties newest first).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from ..records import SearchIndexStatus
from ..search.query import Query

__all__ = ["MessageHitRow", "SearchFilters", "SearchOperations", "ThreadHitRow"]

#: ``progress(done, total)`` during a catch-up (messages indexed so far, to index).
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """What a search is restricted to (``None``: no restriction)."""

    thread_id: str | None = None
    role: str | None = None
    since: int | None = None
    until: int | None = None
    include_archived: bool = False


@dataclass(frozen=True, slots=True)
class MessageHitRow:
    """A matching message as a backend returns it (text as stored, unescaped)."""

    message_id: int
    thread_id: str
    thread_name: str | None
    role: str
    content: str
    item_json: str | None
    created_at: int
    rank: float


@dataclass(frozen=True, slots=True)
class ThreadHitRow:
    """A thread whose name or preview matches."""

    thread_id: str
    name: str | None
    preview: str
    updated_at: int
    rank: float


class SearchOperations(Protocol):
    """Full-text search over messages, thread names and previews."""

    def search_catch_up(
        self,
        *,
        batch_size: int = 5000,
        progress: Progress | None = None,
        thread_ids: Collection[str] = (),
        rebuild: bool = False,
        wait: bool = True,
    ) -> int:
        """Index what is newer than the watermark, in short transactions of
        ``batch_size`` messages (writers wait for one batch at most); resumable.

        Args:
            batch_size: Messages per transaction.
            progress: Called after each batch.
            thread_ids: Threads whose name or preview threadloom just wrote (indexed
                whatever their ``updated_at``).
            rebuild: Drop the index first and build it again from the start.
            wait: Wait for the write lock as any write does; ``False`` (a search
                catching up on its way) gives up at once when another writer holds
                it, raising nothing: the search then covers the rest by a scan.

        Returns:
            How many messages were indexed. A read-only store indexes nothing.

        Raises:
            StoreBusy: ``wait`` and the lock was not had within the busy timeout.
        """

    def search_messages(
        self, query: Query, filters: SearchFilters, *, order: str, limit: int, offset: int
    ) -> list[MessageHitRow]:
        """Matching messages of existing threads, in ``order``, one page."""

    def search_threads(
        self, query: Query, filters: SearchFilters, limit: int
    ) -> list[ThreadHitRow]:
        """Threads whose name or preview matches, newest (most recently created) first."""

    def search_status(self) -> SearchIndexStatus:
        """The engine and how far the index has caught up."""

    def current_branch_members(self, hits: Mapping[str, Collection[int]]) -> set[int]:
        """Which of the message ids (by thread id) are on their thread's current branch."""
