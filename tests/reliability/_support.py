"""Helpers of the reliability suite: figures, integrity checks, process start-up.

Figures (processes, operations, kills, inputs tried, losses) are what
``docs/reliability.md`` quotes. Every test records the figures of its own run with
:func:`record`: they are printed (``pytest -s``) and, when
``THREADLOOM_RELIABILITY_REPORT`` names a file, appended to it as JSON lines.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
from multiprocessing.context import SpawnContext
from pathlib import Path
from typing import Any

__all__ = [
    "TABLES",
    "check_integrity",
    "record",
    "row_counts",
    "spawn",
]

#: The original's tables (the store's own tables are checked by integrity_check too).
TABLES = ("threads", "messages", "checkpoints", "thread_dynamic_tools", "thread_goals", "jobs")


def spawn() -> SpawnContext:
    """A ``spawn`` multiprocessing context.

    Workers start from a fresh interpreter rather than a fork of pytest, so each one
    is an independent process with its own SQLite state, as a second terminal would be.
    """
    return multiprocessing.get_context("spawn")


def record(scenario: str, **figures: Any) -> None:
    """Print one scenario's measured figures and append them to the report file."""
    line = json.dumps({"scenario": scenario, **figures}, sort_keys=True)
    print(f"[reliability] {line}")
    target = os.environ.get("THREADLOOM_RELIABILITY_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def check_integrity(db: Path) -> None:
    """Assert ``PRAGMA integrity_check`` and ``foreign_key_check`` pass on ``db``.

    A separate plain ``sqlite3`` connection is used so the check does not depend on
    the code under test.
    """
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def row_counts(db: Path) -> dict[str, int]:
    """Row count of every table of the original's schema."""
    conn = sqlite3.connect(db)
    try:
        return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}
    finally:
        conn.close()
