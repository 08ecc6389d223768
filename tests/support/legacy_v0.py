"""Random pre-versioning (v0) databases, to test the v0 migration's derived tree."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path
from typing import Any

__all__ = ["V0_FIXTURE", "message_tree", "random_v0"]

V0_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_v0.db"


def random_v0(db: Path, seed: int) -> None:
    """A pre-versioning (v0) database with random histories: ids in an order that
    disagrees with ``created_at`` (as after a clock change or an import), distinct
    times within a thread (ties are arbitrary in the original)."""
    rng = random.Random(seed)
    shutil.copyfile(V0_FIXTURE, db)
    conn = sqlite3.connect(db)
    with conn:
        rows: list[tuple[str, int]] = []
        for t in range(12):
            thread_id = f"R-{t}"
            conn.execute(
                "INSERT INTO threads (id, preview, ephemeral, model_provider, created_at, "
                "updated_at, status, cwd, cli_version, source) "
                "VALUES (?, '', 0, 'x', 1, ?, 'idle', '/w', '0', 'api')",
                (thread_id, 1_000 + t),
            )
            times = rng.sample(range(1_700_000_000, 1_700_001_000), rng.randint(0, 15))
            rows += [(thread_id, stamp) for stamp in times]
        rng.shuffle(rows)  # ids are handed out in this order, threads interleaved
        for thread_id, stamp in rows:
            conn.execute(
                "INSERT INTO messages (thread_id, role, content, created_at) "
                "VALUES (?, 'user', ?, ?)",
                (thread_id, f"at {stamp}", stamp),
            )
    conn.close()


def message_tree(db: Path) -> tuple[dict[int, Any], dict[str, Any]]:
    """``{message id: parent id}`` and ``{thread id: current leaf id}`` of ``db``."""
    conn = sqlite3.connect(db)
    try:
        parents = dict(conn.execute("SELECT id, parent_entry_id FROM messages").fetchall())
        leaves = dict(conn.execute("SELECT id, current_leaf_id FROM threads").fetchall())
        return parents, leaves
    finally:
        conn.close()
