"""Scenario 3: a writer killed with SIGKILL at random moments loses nothing it acknowledged."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from threadloom import StateStore, ThreadMetadata

from ._support import check_integrity, record

ROUNDS = 24

# The child reports each call only after it returned, one line per call, flushed: a
# reported call was acknowledged to its caller, so it must survive the kill.
_CHILD = r"""
import sys
from threadloom import StateStore
db, round_no = sys.argv[1], int(sys.argv[2])
store = StateStore.open(db)
print("ready", flush=True)
i = 0
while True:
    mid = store.append_message("t", "user", f"r{round_no}-{i}", {"i": i, "pad": "x" * (i % 97)})
    print(f"m {mid}", flush=True)
    if i % 5 == 0:
        store.append_thread_name(f"r{round_no}-{i}", f"name {round_no} {i}", i)
        print(f"n r{round_no}-{i}", flush=True)
    if i % 9 == 0:
        store.save_checkpoint("t", f"c{round_no}-{i}", {"i": i})
        print(f"c c{round_no}-{i}", flush=True)
    if i % 40 == 39:
        store.compact_session_index()
    i += 1
"""


def _run_round(db: Path, round_no: int, rng: random.Random) -> tuple[list[str], bool]:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(db), str(round_no)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    delay = rng.uniform(0.01, 0.3)
    # Keep draining the pipe while waiting, so the child never blocks on a full pipe.
    data = b""
    deadline = time.monotonic() + delay
    fd = child.stdout.fileno()
    while (left := deadline - time.monotonic()) > 0:
        if select.select([fd], [], [], left)[0]:
            data += os.read(fd, 65536)
    child.send_signal(signal.SIGKILL)
    rest, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, err.decode()
    data += rest
    # A line cut by the kill has no newline: that call was not acknowledged.
    lines = data.split(b"\n")[:-1]
    return [line.decode() for line in lines], child.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_sigkill_at_random_moments(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with StateStore.open(db) as store:
        store.upsert_thread(ThreadMetadata.create("t", name="killed"))
    rng = random.Random(4)
    acked_messages: set[int] = set()
    acked_names: set[str] = set()
    acked_checkpoints: set[str] = set()
    kills_mid_session = 0
    kills = 0
    integrity_checks = 0
    lost: set[str] = set()
    for round_no in range(ROUNDS):
        lines, killed = _run_round(db, round_no, rng)
        kills += killed
        for line in lines:
            kind, value = line.split(" ", 1)
            if kind == "m":
                acked_messages.add(int(value))
            elif kind == "n":
                acked_names.add(value)
            else:
                acked_checkpoints.add(value)
        kills_mid_session += bool(lines)

        check_integrity(db)
        integrity_checks += 1
        with StateStore.open(db) as store:
            everything = store.list_all_messages("t")
            present = {m.id for m in everything}
            lost |= {f"message {i}" for i in acked_messages - present}
            # The chain survived the kill whole: one branch holding every message.
            branch = store.list_messages("t", 10**9)
            assert [m.id for m in branch] == sorted(present)
            names = store.find_thread_names_by_ids(sorted(acked_names))
            lost |= {f"index entry {n}" for n in acked_names if names[n] is None}
            health = store.session_index_health()
            # Each entry is one write() call, and SIGKILL cannot split a system call:
            # only a power loss could leave a torn line (readers would skip it).
            assert health.skipped_lines == 0
            lost |= {
                f"checkpoint {c}"
                for c in acked_checkpoints
                if store.load_checkpoint("t", c) is None
            }
            assert lost == set(), sorted(lost)[:10]
    with StateStore.open(db) as store:
        store.compact_session_index()
    # A compaction killed before its rename left a temp file; the next one removes it.
    assert list(tmp_path.glob(".session_index.jsonl.*.tmp")) == []
    record(
        "3-sigkill",
        kills=kills,
        kills_after_first_acknowledged_append=kills_mid_session,
        acknowledged_appends=len(acked_messages),
        acknowledged_index_entries=len(acked_names),
        acknowledged_checkpoints=len(acked_checkpoints),
        integrity_checks=integrity_checks,
        losses=len(lost),
    )
