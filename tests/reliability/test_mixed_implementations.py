"""Scenario 2: the original (seed oracle) and threadloom writing one database at once."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.shared import require_oracle
from threadloom import StateStore, ThreadMetadata
from threadloom.backends.sqlite.jsonl_index import parse_line

from ._support import check_integrity, record, spawn
from .workers import append_writer

ORACLES = 2
OURS = 2
APPENDS = 300
NAME_EVERY = 10


def _oracle_ops(k: int) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = []
    for i in range(APPENDS):
        ops.append(
            {"op": "append_message", "thread_id": "shared", "role": "user", "content": f"o{k}-{i}"}
        )
        # Only oracle 0 writes the index: the original writes a line's JSON and its
        # newline in two write() calls without a lock, so two *original* processes can
        # tear each other's lines (its own defect, fixed by its maintainers later).
        if k == 0 and i % NAME_EVERY == 0:
            ops.append(
                {
                    "op": "append_thread_name",
                    "thread_id": f"o{k}-{i}",
                    "thread_name": f"oracle {k} {i}",
                    "updated_at": i,
                    "rollout_path": f"/r/o{k}/{i}",
                }
            )
    return ops


@pytest.mark.slow
@pytest.mark.oracle
def test_oracle_and_threadloom_write_together(tmp_path: Path) -> None:
    oracle = require_oracle()
    db = tmp_path / "state.db"
    with StateStore.open(db) as store:
        store.upsert_thread(ThreadMetadata.create("shared", name="shared"))
    ctx = spawn()
    out: Any = ctx.Queue()
    go = ctx.Event()
    ours = [
        ctx.Process(
            target=append_writer, args=(str(db), "shared", APPENDS, f"w{w}", go, out, NAME_EVERY)
        )
        for w in range(OURS)
    ]
    for proc in ours:
        proc.start()
    op_lists = [_oracle_ops(k) for k in range(ORACLES)]
    go.set()
    oracles = [
        subprocess.Popen(
            [str(oracle), "run", str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(ORACLES)
    ]
    outputs = [
        proc.communicate("".join(json.dumps(op) + "\n" for op in ops).encode("utf-8"), timeout=300)
        for proc, ops in zip(oracles, op_lists, strict=True)
    ]
    results = [out.get(timeout=300) for _ in ours]
    for proc in ours:
        proc.join(60)
        assert proc.exitcode == 0
    assert [p.returncode for p in oracles] == [0] * ORACLES

    ours_errors = [e for r in results for e in r["errors"]]
    assert ours_errors == []
    ours_ids = {i for r in results for i in r["ids"]}
    oracle_ok: set[int] = set()
    oracle_errors: list[str] = []
    oracle_acked_contents: set[str] = set()
    for (stdout, _stderr), ops in zip(outputs, op_lists, strict=True):
        answers = [json.loads(line) for line in stdout.decode("utf-8").splitlines()]
        assert len(answers) == len(ops)
        for op, answer in zip(ops, answers, strict=True):
            if "err" in answer:
                oracle_errors.append(answer["err"])
            elif op["op"] == "append_message":
                oracle_ok.add(answer["ok"])
                oracle_acked_contents.add(op["content"])

    check_integrity(db)
    with StateStore.open(db) as store:
        everything = store.list_all_messages("shared")
        branch = store.list_messages("shared", 10**9)
        present = {m.id for m in everything}
        # Both sides append under a write transaction, so even the original's writes
        # never fork the chain: a writer whose snapshot went stale fails instead.
        assert [m.id for m in branch] == sorted(present)
        contents = {m.content for m in everything}
        health = store.session_index_health()
    assert ours_ids <= present
    assert oracle_ok <= present
    assert oracle_acked_contents <= contents
    assert {f"w{w}-{i}" for w in range(OURS) for i in range(APPENDS)} <= contents
    # Nothing unacknowledged appeared either: an append that failed left no row.
    assert present == ours_ids | oracle_ok

    # The session index: every line parses, and every entry either side wrote is there.
    assert health.skipped_lines == 0
    assert not health.torn_tail
    raw = (tmp_path / "session_index.jsonl").read_bytes().split(b"\n")
    entries = [parse_line(line) for line in raw if line.strip()]
    assert all(e is not None for e in entries)
    written = {(e.thread_id, e.thread_name) for e in entries if e is not None}
    for i in range(0, APPENDS, NAME_EVERY):
        assert (f"o0-{i}", f"oracle 0 {i}") in written
        for w in range(OURS):
            assert ("shared", f"w{w}-{i}") in written
    record(
        "2-mixed",
        oracle_processes=ORACLES,
        threadloom_processes=OURS,
        threadloom_appends=len(ours_ids),
        oracle_appends_acknowledged=len(oracle_ok),
        oracle_errors=len(oracle_errors),
        oracle_error_kinds=sorted({e.split(":")[-1].strip() for e in oracle_errors}),
        index_lines=len(entries),
        torn_lines=health.skipped_lines,
        losses=len((ours_ids | oracle_ok) - present),
    )
