"""The session index contract: thread names and rollout paths, looked up by id or name.

The embedded backend keeps it in ``session_index.jsonl`` (the original's file); the
PostgreSQL backend keeps it in a table. Both answer the same lookups the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from .records import SessionIndexEntry

__all__ = ["CompactionReport", "IndexHealth", "SessionIndex"]


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
    """The result of compacting the index to the latest entry per thread."""

    lines_before: int
    lines_after: int
    skipped_lines: int


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

    def compact(self) -> CompactionReport:
        """Drop superseded entries."""

    def close(self) -> None:
        """Release what the index holds open."""
