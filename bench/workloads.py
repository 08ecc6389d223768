"""The workloads (the issue's list) and the data they use, shared by every contender.

The first seven match the oracle's ``bench`` scenarios in shape and size (content of
about 90 bytes with a small item, a 9.8 KB checkpoint state, fixed-seed random picks),
so the original runs the same work as everyone else.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threadloom import StateStore, ThreadMetadata

__all__ = [
    "BASE_TIME",
    "CONTENT",
    "SCALE_MESSAGES",
    "THREADLOOM_ONLY",
    "THREAD_ID",
    "Fixtures",
    "Sample",
    "Workload",
    "bench_thread",
    "checkpoint_state",
    "message_item",
    "random_picks",
    "thread_ids",
    "turn_state",
    "workloads",
]

#: The thread every single-thread workload uses.
THREAD_ID = "t-bench"
#: A fixed clock, so every contender stores the same timestamps.
BASE_TIME = 1_700_000_000
#: About 90 bytes, like the oracle's message content.
CONTENT = (
    "Please list the files under src/ and explain what each module is responsible for, briefly."
)


@dataclass(frozen=True)
class Workload:
    """One row of the result table.

    Attributes:
        key: Row label (``list_threads@100k``).
        family: The operation measured (``list_threads``).
        size: Rows, chain length, index entries or writer count, by family.
        ops: Timed operations per repetition (per writer for ``concurrent``).
        original_ops: Timed operations for the original, when it is far slower per op
            (a name lookup at 100,000 entries reads the whole index file).
        unit_note: What one "op" is, for the report.
        group: ``"scale"`` for the database-size points of the flatness plot (only
            threadloom and the raw floor run them), ``"core"`` for the rest.
    """

    key: str
    family: str
    size: int
    ops: int
    original_ops: int | None = None
    unit_note: str = ""
    group: str = "core"


#: Families whose workloads only threadloom (both backends) and the raw floor run:
#: the recommended one-transaction turn has no equivalent in the original, and the
#: database-size points are about threadloom's own curve.
THREADLOOM_ONLY = frozenset({"turn_tx", "append_at", "read_branch_at", "pg_threads"})

#: Database sizes (messages) of the flatness points; ``--messages`` sets the largest.
SCALE_MESSAGES = 1_000_000


def _size_label(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return str(size)


@dataclass
class Sample:
    """One timed repetition of one workload by one contender."""

    ops: int
    seconds: float
    errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_op_us(self) -> float:
        return self.seconds * 1e6 / self.ops if self.ops else float("nan")


def workloads(scale: float = 1.0, messages: int = SCALE_MESSAGES) -> list[Workload]:
    """The suite; ``scale`` shrinks every count (the smoke test runs at a tiny scale).

    Args:
        scale: Multiplies every op count and fixture size.
        messages: Messages in the largest database of the flatness points
            (``append@...``, ``read_branch@...``); 0 leaves those points out.
    """

    def n(value: int, floor: int = 2) -> int:
        return max(floor, int(value * scale))

    scale_points: list[Workload] = []
    if messages:
        small, big = n(10_000, 300), n(messages, 600)
        for size in dict.fromkeys((small, big)):
            label = _size_label(size)
            scale_points += [
                Workload(
                    f"append@{label}",
                    "append_at",
                    size,
                    n(5_000),
                    unit_note=f"append_message, {label} messages stored",
                    group="scale",
                ),
                Workload(
                    f"read_branch@{label}",
                    "read_branch_at",
                    size,
                    n(300),
                    unit_note=f"list_messages(200), {label} messages stored",
                    group="scale",
                ),
            ]
    return [
        Workload("append", "append", 1, n(10_000), unit_note="one append_message"),
        Workload(
            "read_branch", "read_branch", n(10_000, 300), n(500), unit_note="list_messages(200)"
        ),
        Workload(
            "list_threads@2k", "list_threads", n(2_000, 60), n(1_000), unit_note="list_threads(50)"
        ),
        Workload(
            "list_threads@100k",
            "list_threads",
            n(100_000, 60),
            n(1_000),
            unit_note="list_threads(50)",
        ),
        Workload(
            "name_lookup@2k",
            "name_lookup",
            n(2_000, 10),
            n(1_000),
            unit_note="find_thread_name_by_id",
        ),
        Workload(
            "name_lookup@100k",
            "name_lookup",
            n(100_000, 10),
            n(1_000),
            original_ops=n(30),
            unit_note="find_thread_name_by_id",
        ),
        Workload(
            "checkpoint", "checkpoint", 1, n(2_000), unit_note="save or load-latest (N of each)"
        ),
        Workload("upsert_thread", "upsert_thread", 1, n(2_000), unit_note="upsert_thread"),
        Workload("fork", "fork", n(1_000, 20), n(2_000), unit_note="fork_at_message"),
        Workload("turn", "turn", 1, n(2_000), unit_note="get+upsert thread, append, save 'latest'"),
        Workload(
            "turn_tx",
            "turn_tx",
            1,
            n(2_000),
            unit_note="the same turn inside one store.transaction()",
        ),
        Workload(
            "resume", "resume", n(10_000, 600), n(200), unit_note="list_messages(500)+load latest"
        ),
        *(
            Workload(
                f"concurrent@{k}",
                "concurrent",
                k,
                n(1_000),
                original_ops=n(200),
                unit_note="append; cost = 1/total throughput",
            )
            for k in (1, 2, 4, 8)
        ),
        *(
            Workload(
                f"pg_threads@{k}",
                "pg_threads",
                k,
                n(1_000),
                unit_note="append from k threads of one process; cost = 1/total throughput",
            )
            for k in (1, 8)
        ),
        *scale_points,
    ]


def message_item(i: int) -> dict[str, Any]:
    """A small item like the oracle's (a few keys, one nested)."""
    return {"type": "text", "index": i, "meta": {"tokens": 17, "cached": False}}


def checkpoint_state(i: int = 0) -> dict[str, Any]:
    """A checkpoint state of about 9.8 KB of JSON, the oracle's size."""
    return {
        "turn": i,
        "model": "deepseek-chat",
        "history": [
            {"role": "user" if k % 2 else "assistant", "content": CONTENT, "n": k}
            for k in range(80)
        ],
    }


def turn_state(i: int) -> dict[str, Any]:
    """The per-turn "latest" checkpoint: small (~300 B), as the application saves it."""
    return {
        "turn": i,
        "model": "deepseek-chat",
        "usage": {"input_tokens": 1200 + i, "output_tokens": 300, "cached_tokens": 800},
        "pending_tools": [],
        "status": "idle",
    }


def bench_thread(i: int | str, *, updated_at: int | None = None) -> ThreadMetadata:
    """A thread like the oracle's bench threads (named, with a rollout path)."""
    tid = i if isinstance(i, str) else f"t{i}"
    stamp = BASE_TIME + (0 if isinstance(i, str) else i)
    return ThreadMetadata.create(
        tid,
        cwd="/work/project",
        preview="hello",
        model_provider="deepseek",
        cli_version="0.8.59",
        status="running",
        source="interactive",
        name=f"thread name {i}",
        rollout_path=f"/tmp/rollouts/{tid}.jsonl",
        now=stamp,
        updated_at=stamp if updated_at is None else updated_at,
    )


def thread_ids(count: int) -> list[str]:
    return [f"t{i}" for i in range(count)]


def random_picks(count: int, upper: int, seed: int = 7) -> list[int]:
    """``count`` fixed-seed picks in ``[1, upper]`` (the same for every contender)."""
    rng = random.Random(seed)
    return [rng.randint(1, upper) for _ in range(count)]


#: A chain fixture's messages past this many are written in bulk (``_extend_chain``):
#: a million appends through the API would take minutes of a ~5-minute run.
_APPENDED = 10_000


def _extend_chain(db: Path, size: int) -> None:
    """Append messages ``_APPENDED..size-1`` to the bench thread's chain in bulk.

    The rows are those ``append_message`` writes (each the child of the one before,
    the same content, item text and clock), inserted in one transaction; the thread's
    leaf moves to the last one.
    """
    from threadloom._json import encode_json

    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        (leaf,) = conn.execute(
            "SELECT current_leaf_id FROM threads WHERE id = ?", (THREAD_ID,)
        ).fetchone()
        first = leaf + 1
        conn.executemany(
            "INSERT INTO messages (id, thread_id, role, content, item_json, created_at, "
            "parent_entry_id) VALUES (?, ?, 'user', ?, ?, ?, ?)",
            (
                (
                    first + k,
                    THREAD_ID,
                    CONTENT,
                    encode_json(message_item(i), "item"),
                    BASE_TIME,
                    first + k - 1,
                )
                for k, i in enumerate(range(_APPENDED, size))
            ),
        )
        conn.execute(
            "UPDATE threads SET current_leaf_id = ? WHERE id = ?",
            (first + size - _APPENDED - 1, THREAD_ID),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


class Fixtures:
    """Databases built once per run and copied for every repetition.

    Built with threadloom (the original's on-disk format), then switched back to the
    rollback journal so the original runs on them in its own mode. Copying a file is
    much faster than setting up 100,000 threads per repetition and contender.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._built: dict[str, Path] = {}

    def get(self, kind: str, size: int) -> Path:
        """The directory of fixture ``kind`` at ``size`` (built on first use)."""
        name = f"{kind}-{size}"
        if name not in self._built:
            folder = self.root / name
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            self._build(kind, size, folder / "state.db")
            self._built[name] = folder
        return self._built[name]

    def copy(self, kind: str, size: int, dest: Path) -> Path:
        """A private copy of a fixture in ``dest``; returns its database path."""
        src = self.get(kind, size)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(src, dest)
        return dest / "state.db"

    @staticmethod
    def _build(kind: str, size: int, db: Path) -> None:
        with StateStore.open(db, clock=lambda: BASE_TIME) as store:
            if kind == "empty":
                pass
            elif kind == "thread":
                store.upsert_thread(bench_thread(THREAD_ID))
            elif kind == "chain":
                store.upsert_thread(bench_thread(THREAD_ID))
                with store.transaction():
                    for i in range(min(size, _APPENDED)):
                        store.append_message(THREAD_ID, "user", CONTENT, message_item(i))
                    store.save_checkpoint(THREAD_ID, "latest", checkpoint_state())
                if size > _APPENDED:
                    _extend_chain(db, size)
            elif kind == "threads":
                with store.transaction():
                    for i in range(size):
                        store.upsert_thread(bench_thread(i))
            elif kind == "names":
                for i in range(size):
                    store.append_thread_name(
                        f"t{i}", f"thread name {i}", BASE_TIME + i, f"/tmp/rollouts/t{i}.jsonl"
                    )
            else:  # pragma: no cover - a typo in a contender
                raise ValueError(f"unknown fixture kind {kind!r}")
        conn = sqlite3.connect(db)
        try:
            conn.execute("PRAGMA journal_mode = DELETE")
        finally:
            conn.close()
