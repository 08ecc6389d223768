"""What a reading command or a read-only store must leave exactly as it was."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from pathlib import Path

__all__ = ["file_state"]


def file_state(path: Path) -> tuple[str, int, str, list[str]]:
    """The file's hash, mode and journal mode, and the names in its folder."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    journal = "(empty)"
    if path.stat().st_size:
        # mode=ro, so this look does not change what it looks at.
        probe = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            journal = str(probe.execute("PRAGMA journal_mode").fetchone()[0])
        except sqlite3.DatabaseError:
            journal = "(not a database)"
        finally:
            probe.close()
    folder = sorted(p.name for p in path.parent.iterdir())
    return digest, stat.S_IMODE(path.stat().st_mode), journal, folder
