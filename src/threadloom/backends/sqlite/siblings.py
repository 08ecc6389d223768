"""Other databases in a database's folder: they share its ``session_index.jsonl``.

The original puts the session index beside the database, so every database in one
folder writes to the same file, and an index entry names a thread id, not a database.
Before an entry is dropped, the databases beside ours are asked whether they hold the
thread (a thread copied into a sibling keeps needing its name there).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Collection
from pathlib import Path

from ..common.rows import chunks

__all__ = ["held_by_siblings"]

_MAGIC = b"SQLite format 3\x00"
#: Files SQLite keeps beside a database; never databases of their own.
_SIDECARS = ("-wal", "-shm", "-journal")
#: How long to wait for a sibling's write lock before counting it as unreadable.
_BUSY_TIMEOUT = 2.0


def _is_database(path: Path) -> bool:
    """Whether ``path`` starts like a SQLite database (``OSError`` if unreadable)."""
    with open(path, "rb") as handle:
        return handle.read(len(_MAGIC)) == _MAGIC


def held_by_siblings(database: Path, thread_ids: Collection[str]) -> set[str]:
    """Which of ``thread_ids`` another database in ``database``'s folder still holds.

    A sibling that cannot be read (locked past a short wait, unreadable, damaged) is
    taken to hold them all: an entry is dropped only when every sibling was asked.
    Siblings are opened read-only (``mode=ro``); a SQLite file without a ``threads``
    table is not a store and holds nothing.

    Args:
        database: This database's file.
        thread_ids: The threads to ask about.
    """
    wanted = sorted(set(thread_ids))
    if not wanted:
        return set()
    folder = database.parent
    try:
        own = os.stat(database)
        candidates = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return set(wanted)
    held: set[str] = set()
    for item in candidates:
        if item.name.endswith(_SIDECARS):
            continue
        try:
            if not item.is_file():
                continue
            st = item.stat()
            if (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino):
                continue
            if not _is_database(Path(item.path)):
                continue
        except OSError:
            return set(wanted)
        try:
            held |= _threads_in(Path(item.path), wanted)
        except sqlite3.Error:
            return set(wanted)
        if len(held) == len(wanted):
            break
    return held


def _threads_in(path: Path, wanted: list[str]) -> set[str]:
    """The ids among ``wanted`` that the database at ``path`` holds.

    Raises:
        sqlite3.Error: The file cannot be opened or read.
    """
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT, isolation_level=None)
    try:
        has_threads = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'threads'"
        ).fetchone()
        if has_threads is None:
            return set()
        found: set[str] = set()
        for chunk in chunks(wanted):
            marks = ",".join("?" * len(chunk))
            found.update(
                row[0]
                for row in conn.execute(f"SELECT id FROM threads WHERE id IN ({marks})", chunk)
            )
        return found
    finally:
        conn.close()
