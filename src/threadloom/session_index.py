"""The session index contract: thread names and rollout paths, looked up by id or name.

The embedded backend keeps it in ``session_index.jsonl`` (the original's file); the
PostgreSQL backend keeps it in a table. Both answer the same lookups the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeAlias

from .records import SessionIndexEntry

__all__ = ["CompactionReport", "DropPolicy", "IndexHealth", "SessionIndex"]

#: Given the thread ids in the index, returns those whose entries compaction drops.
#: It runs under the index's lock, so an entry appended meanwhile is either seen by it
#: or written after the compaction (and kept).
DropPolicy: TypeAlias = Callable[[Collection[str]], Collection[str]]


@dataclass(frozen=True, slots=True)
class IndexHealth:
    """What a health check reports about the session index.

    Attributes:
        location: Where the index lives (a file path or a table name).
        lines: Entries written (non-blank lines, including corrupt ones).
        threads: Distinct threads with a valid entry.
        skipped_lines: Corrupt lines skipped (binary garbage, torn JSON, wrong types).
        torn_tail: The file ends in an unfinished line (a writer died mid-write, or is
            writing right now).
        size_bytes: Bytes read so far.
    """

    location: str
    lines: int
    threads: int
    skipped_lines: int
    torn_tail: bool
    size_bytes: int


@dataclass(frozen=True, slots=True)
class CompactionReport:
    """The result of compacting the index to the latest entry per thread.

    Attributes:
        lines_before: Entries (lines or rows) before.
        lines_after: Entries after.
        skipped_lines: Corrupt or torn lines left out.
        dropped_threads: Threads whose entries went entirely (see :data:`DropPolicy`).
    """

    lines_before: int
    lines_after: int
    skipped_lines: int
    dropped_threads: tuple[str, ...] = ()


class SessionIndex(Protocol):
    """What the store needs of a session index."""

    def append(self, entry: SessionIndexEntry) -> None:
        """Record ``entry`` as the thread's latest name/path."""

    def get(self, thread_id: str) -> SessionIndexEntry | None:
        """The latest entry for ``thread_id``."""

    def get_many(self, thread_ids: Iterable[str]) -> dict[str, SessionIndexEntry | None]:
        """The latest entry for each id."""

    def find_by_name(self, name: str) -> SessionIndexEntry | None:
        """The most recently updated entry whose name matches ``name`` (ASCII case-insensitive)."""

    def entries(self) -> list[SessionIndexEntry]:
        """The latest entry of every thread."""

    def health(self) -> IndexHealth:
        """Counts for a health check."""

    def compact(self, *, drop: DropPolicy | None = None) -> CompactionReport:
        """Drop superseded entries, and every entry of the threads ``drop`` names.

        Several databases may share one index (a folder's ``session_index.jsonl``), so
        the caller's ``drop`` must name only threads it can prove are its own deleted
        ones (see :meth:`threadloom.contract.Backend.deleted_threads`).
        """

    def close(self) -> None:
        """Release what the index holds open."""
