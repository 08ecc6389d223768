"""Read-back helpers: every read op that covers what a database and its index hold.

Used to check that two programs read one file identically: the same ops go to the
oracle and to threadloom, each on its own copy.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from threadloom.backends.sqlite.jsonl_index import ascii_casefold

__all__ = ["index_names", "jsonl_lines", "read_ops", "stored_ids"]


def jsonl_lines(path: Path) -> list[str]:
    """The lines of a JSONL file, without the final empty one."""
    # split("\n"), not splitlines(): the fixture's text holds U+2028 and friends.
    lines = path.read_bytes().decode("utf-8", errors="replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def stored_ids(db: Path) -> tuple[list[str], list[str], list[str], dict[str, list[str]]]:
    """Thread ids (with rows, and orphans), job ids and checkpoint ids per thread."""
    # A plain connection (not mode=ro): a WAL database without its -shm file cannot be
    # opened read-only, and these statements only read.
    conn = sqlite3.connect(db)
    try:
        threads = [r[0] for r in conn.execute("SELECT id FROM threads ORDER BY id")]
        referenced = {
            r[0]
            for table in ("messages", "checkpoints", "thread_dynamic_tools", "thread_goals")
            for r in conn.execute(f"SELECT DISTINCT thread_id FROM {table}")
        }
        orphans = sorted(referenced - set(threads))
        jobs = [r[0] for r in conn.execute("SELECT id FROM jobs ORDER BY id")]
        checkpoints: dict[str, list[str]] = {}
        for thread_id, checkpoint_id in conn.execute(
            "SELECT thread_id, checkpoint_id FROM checkpoints ORDER BY 1, 2"
        ):
            checkpoints.setdefault(thread_id, []).append(checkpoint_id)
        return threads, orphans, jobs, checkpoints
    finally:
        conn.close()


def index_names(index: Path) -> tuple[list[str], list[str]]:
    """Thread ids in the index, and names whose lookup the original answers deterministically."""
    latest: dict[str, dict[str, Any]] = {}
    for line in jsonl_lines(index):
        if line.strip():
            entry = json.loads(line)
            latest[entry["thread_id"]] = entry
    stamps: dict[str, list[int]] = {}
    for entry in latest.values():
        if entry["thread_name"] is not None:
            stamps.setdefault(ascii_casefold(entry["thread_name"]), []).append(entry["updated_at"])
    names = set()
    for entry in latest.values():
        name = entry["thread_name"]
        # The original breaks updated_at ties by HashMap order: leave tied names out.
        if (
            name is not None
            and stamps[ascii_casefold(name)].count(max(stamps[ascii_casefold(name)])) == 1
        ):
            names.update({name, name.upper(), name.lower()})
    return sorted(latest), sorted(names)


def read_ops(db: Path, *, latest_checkpoint: bool = True) -> list[dict[str, Any]]:
    """Read ops covering every thread (orphans too), message, checkpoint, tool, goal, job
    and name in ``db`` and the ``session_index.jsonl`` beside it.

    Args:
        db: The database file (read only).
        latest_checkpoint: Include ``load_checkpoint`` without a name (leave it out when
            same-second ties make "latest" differ on purpose).
    """
    threads, orphans, jobs, checkpoints = stored_ids(db)
    index_ids, names = index_names(db.parent / "session_index.jsonl")
    ops: list[dict[str, Any]] = [
        {"op": "list_threads", "include_archived": True, "limit": 1000},
        {"op": "list_threads", "include_archived": False, "limit": 1000},
        {"op": "list_jobs", "limit": 1000},
        {"op": "find_thread_names_by_ids", "ids": [*index_ids, *threads, "no-such-thread"]},
    ]
    for thread_id in [*threads, *orphans, "no-such-thread"]:
        ops += [
            {"op": "get_thread", "id": thread_id},
            {"op": "get_thread_memory_mode", "id": thread_id},
            {"op": "find_rollout_path_by_id", "id": thread_id},
            {"op": "list_messages", "thread_id": thread_id, "limit": 100000},
            {"op": "list_leaf_messages", "thread_id": thread_id},
            {"op": "list_checkpoints", "thread_id": thread_id, "limit": 1000},
            {"op": "get_dynamic_tools", "thread_id": thread_id},
            {"op": "get_thread_goal", "thread_id": thread_id},
        ]
        if latest_checkpoint:
            ops.append({"op": "load_checkpoint", "thread_id": thread_id})
        ops += [
            {"op": "load_checkpoint", "thread_id": thread_id, "checkpoint_id": checkpoint_id}
            for checkpoint_id in checkpoints.get(thread_id, [])
        ]
    ops += [{"op": "get_job", "id": job_id} for job_id in [*jobs, "no-such-job"]]
    ops += [{"op": "find_thread_name_by_id", "thread_id": t} for t in index_ids]
    ops += [{"op": "find_thread_path_by_name_str", "name": n} for n in [*names, "nobody"]]
    return ops
