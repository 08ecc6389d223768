"""The raw-SQL floor: threadloom's own statements through ``sqlite3``, nothing around them.

One connection, reused, with the same pragmas; the same SQL text (imported from the
backend, so the floor can never drift from what the library runs); JSON through the
fastest codec available (the floor is the best a Python library could do, so it uses
orjson when installed). Results stay plain tuples: no records, no validation, no
error translation. For ``upsert_thread`` the floor also appends the session-index line
the same way (lock, one ``write()``, fsync at ``full``): that I/O is part of the
operation's contract, not library overhead.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from threadloom import ThreadMetadata
from threadloom.backends.common.queries import CoreStatements
from threadloom.backends.sqlite.backend import APPEND_UNDER_LEAF, SQLITE_CORE

from ..concurrency import run_writers
from ..workloads import (
    BASE_TIME,
    CONTENT,
    THREAD_ID,
    Fixtures,
    Sample,
    Workload,
    bench_thread,
    checkpoint_state,
    message_item,
    random_picks,
    turn_state,
)
from .library import fixture_for
from .timing import timed

__all__ = ["RawSqlContender", "fast_dumps", "fast_loads"]

# The library's own statements, so the floor differs from it only in the Python around them.
_SQL = CoreStatements(SQLITE_CORE)
_LIST_BRANCH = _SQL.list_branch
_LIST_THREADS_LIVE = _SQL.list_threads_live
_UPSERT_THREAD = _SQL.upsert_thread

fast_loads: Callable[[str], Any]
fast_dumps: Callable[[Any], str]
try:
    import orjson

    fast_loads = orjson.loads

    def fast_dumps(value: Any) -> str:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()

except ImportError:  # pragma: no cover - orjson is a dependency once adopted
    fast_loads = json.loads

    def fast_dumps(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_INSERT_MESSAGE = (
    "INSERT INTO messages(thread_id, role, content, item_json, created_at, "
    "parent_entry_id) VALUES (?, ?, ?, ?, ?, ?)"
)
_SET_LEAF = "UPDATE threads SET current_leaf_id = ? WHERE id = ?"
_LOAD_LATEST = _SQL.latest_checkpoint
_GET_THREAD = _SQL.get_thread


def _connect(db: Path, durability: str) -> sqlite3.Connection:
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = " + ("FULL" if durability == "full" else "NORMAL"))
    conn.execute("PRAGMA journal_mode = WAL")
    return conn


def _thread_params(t: ThreadMetadata) -> tuple[object, ...]:
    return (
        t.id,
        t.rollout_path,
        t.preview,
        int(t.ephemeral),
        t.model_provider,
        t.created_at,
        t.updated_at,
        t.status.value,
        t.path,
        t.cwd,
        t.cli_version,
        t.source.value,
        t.name,
        t.sandbox_policy,
        t.approval_mode,
        int(t.archived),
        t.archived_at,
        t.git_sha,
        t.git_branch,
        t.git_origin_url,
        t.memory_mode,
    )


class _Floor:
    """The statements of each operation, one reused connection."""

    def __init__(self, db: Path, durability: str) -> None:
        self.conn = _connect(db, durability)
        self.fsync = durability == "full"
        index = db.parent / "session_index.jsonl"
        self.index_fd = os.open(index, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.lock_fd = os.open(str(index) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)

    def close(self) -> None:
        self.conn.close()
        os.close(self.index_fd)
        os.close(self.lock_fd)

    def append(self, thread_id: str, item: Any, *, nested: bool = False) -> int:
        conn = self.conn
        item_json = fast_dumps(item)
        # Nested in a caller's transaction, the two statements still need a savepoint:
        # a failed append must not leave half of itself in the caller's transaction.
        conn.execute("SAVEPOINT floor" if nested else "BEGIN IMMEDIATE")
        new_id = conn.execute(
            APPEND_UNDER_LEAF, ("user", CONTENT, item_json, BASE_TIME, thread_id)
        ).lastrowid
        conn.execute(_SET_LEAF, (new_id, thread_id))
        conn.execute("RELEASE floor" if nested else "COMMIT")
        return new_id or 0

    def fork(self, at: int, item: Any) -> int:
        conn = self.conn
        item_json = fast_dumps(item)
        conn.execute("BEGIN IMMEDIATE")
        thread_id = conn.execute("SELECT thread_id FROM messages WHERE id = ?", (at,)).fetchone()[0]
        conn.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id,)).fetchone()
        new_id = conn.execute(
            _INSERT_MESSAGE, (thread_id, "assistant", CONTENT, item_json, BASE_TIME, at)
        ).lastrowid
        conn.execute(_SET_LEAF, (new_id, thread_id))
        conn.execute("COMMIT")
        return new_id or 0

    def list_branch(self, thread_id: str, limit: int) -> list[tuple[Any, ...]]:
        rows = self.conn.execute(_LIST_BRANCH, {"thread": thread_id, "depth": limit - 1}).fetchall()
        return [
            (r[0], r[1], r[2], r[3], None if r[4] is None else fast_loads(r[4]), r[5], r[6])
            for r in rows
        ]

    def save(self, thread_id: str, name: str, state: Any, *, nested: bool = False) -> None:
        conn = self.conn
        state_json = fast_dumps(state)
        if not nested:
            conn.execute("BEGIN IMMEDIATE")
        conn.execute(_SQL.save_checkpoint, (name, state_json, BASE_TIME, thread_id))
        if not nested:
            conn.execute("COMMIT")

    def load_latest(self, thread_id: str) -> tuple[Any, ...]:
        row = self.conn.execute(_LOAD_LATEST, (thread_id,)).fetchone()
        return (row[0], row[1], fast_loads(row[2]), row[3])

    def upsert(self, thread: ThreadMetadata, *, nested: bool = False) -> None:
        conn = self.conn
        if not nested:
            conn.execute("BEGIN IMMEDIATE")
        conn.execute(_UPSERT_THREAD, _thread_params(thread))
        if not nested:
            conn.execute("COMMIT")
        line = json.dumps(
            {
                "thread_id": thread.id,
                "thread_name": thread.name,
                "updated_at": thread.updated_at,
                "rollout_path": thread.rollout_path,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        fcntl.flock(self.lock_fd, fcntl.LOCK_EX)
        try:
            os.write(self.index_fd, b"\n" + line.encode() + b"\n")
            if self.fsync:
                os.fsync(self.index_fd)
        finally:
            fcntl.flock(self.lock_fd, fcntl.LOCK_UN)


def _open_writer(durability: str) -> Any:
    def open_writer(db: Path, thread_id: str) -> tuple[Any, Any]:
        floor = _Floor(db, durability)
        return (lambda i: floor.append(thread_id, message_item(i))), floor.close

    return open_writer


def _load_index(path: Path) -> dict[str, str | None]:
    latest: dict[str, str | None] = {}
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                entry = json.loads(line)
                latest[entry["thread_id"]] = entry["thread_name"]
    return latest


class RawSqlContender:
    """The floor at one durability level."""

    def __init__(self, durability: str) -> None:
        self.durability = durability
        self.name = f"raw SQL {durability}"

    def supports(self, workload: Workload) -> bool:
        # The database-size points are about one curve: run at ``normal`` only.
        if workload.group == "scale":
            return self.durability == "normal"
        return workload.family != "pg_threads"

    def run(self, workload: Workload, fixtures: Fixtures, workdir: Path) -> Sample:
        db = fixture_for(workload, fixtures, workdir)
        if workload.family == "concurrent":
            return run_writers(_open_writer(self.durability), db, workload.size, workload.ops)
        if workload.family == "name_lookup":
            return self._name_lookup(db.parent / "session_index.jsonl", workload)
        floor = _Floor(db, self.durability)
        try:
            return self._run(floor, workload)
        finally:
            floor.close()

    @staticmethod
    def _name_lookup(index: Path, w: Workload) -> Sample:
        # The least a correct multi-process lookup does: stat the file (has another
        # process appended?) and look the id up in memory.
        latest = _load_index(index)
        ids = [f"t{i - 1}" for i in random_picks(w.ops, w.size)]
        with timed(w.ops) as sample:
            for tid in ids:
                os.stat(index)
                latest.get(tid)
        return sample

    @staticmethod
    def _run(f: _Floor, w: Workload) -> Sample:
        n = w.ops
        family = w.family
        if family in ("append", "append_at"):
            items = [message_item(i) for i in range(n)]
            with timed(n) as sample:
                for item in items:
                    f.append(THREAD_ID, item)
            return sample
        if family in ("read_branch", "read_branch_at"):
            with timed(n) as sample:
                for _ in range(n):
                    f.list_branch(THREAD_ID, 200)
            return sample
        if family == "list_threads":
            conn = f.conn
            with timed(n) as sample:
                for _ in range(n):
                    conn.execute(_LIST_THREADS_LIVE, (50,)).fetchall()
            return sample
        if family == "checkpoint":
            state = checkpoint_state()
            names = [f"cp-{i}" for i in range(n)]
            with timed(2 * n) as sample:
                for name in names:
                    f.save(THREAD_ID, name, state)
                for _ in range(n):
                    f.load_latest(THREAD_ID)
            return sample
        if family == "upsert_thread":
            threads = [bench_thread(i) for i in range(n)]
            with timed(n) as sample:
                for thread in threads:
                    f.upsert(thread)
            return sample
        if family == "fork":
            picks = random_picks(n, w.size)
            with timed(n) as sample:
                for at in picks:
                    f.fork(at, message_item(at))
            return sample
        if family in ("turn", "turn_tx"):
            states = [turn_state(i) for i in range(n)]
            template = bench_thread(THREAD_ID)
            one = family == "turn_tx"
            with timed(n) as sample:
                for i in range(n):
                    if one:
                        f.conn.execute("BEGIN IMMEDIATE")
                    row = f.conn.execute(_GET_THREAD, (THREAD_ID,)).fetchone()
                    # The floor still needs the thread's fields to write it back.
                    thread = ThreadMetadata(
                        id=row[0],
                        rollout_path=row[1],
                        preview=row[2],
                        ephemeral=bool(row[3]),
                        model_provider=row[4],
                        created_at=row[5],
                        updated_at=BASE_TIME + i,
                        status=template.status,
                        path=row[8],
                        cwd=row[9],
                        cli_version=row[10],
                        source=template.source,
                        name=row[12],
                    )
                    f.upsert(thread, nested=one)
                    f.append(THREAD_ID, message_item(i), nested=one)
                    f.save(THREAD_ID, "latest", states[i], nested=one)
                    if one:
                        f.conn.execute("COMMIT")
            return sample
        if family == "resume":
            with timed(n) as sample:
                for _ in range(n):
                    f.list_branch(THREAD_ID, 500)
                    f.load_latest(THREAD_ID)
            return sample
        raise ValueError(f"the raw floor has no workload {family!r}")
