"""Scenario 4: the session index under contention with a compactor, and corrupt lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from threadloom import StateStore
from threadloom.backends.sqlite.jsonl_index import parse_line

from ._support import record, spawn
from .workers import index_appender, index_compactor

APPENDERS = 4
ENTRIES = 400
#: The appenders meet the compactor every ROUND entries; it compacts once per round.
ROUND = 50
ROUNDS = (ENTRIES - 1) // ROUND


@pytest.mark.slow
def test_appenders_and_a_compactor(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    StateStore.open(db).close()
    ctx = spawn()
    out: Any = ctx.Queue()
    compactor_out: Any = ctx.Queue()
    rounds = ctx.Barrier(APPENDERS + 1)
    appenders = [
        ctx.Process(
            target=index_appender,
            args=(str(db), f"a{p}", ENTRIES, rounds, ROUND, out, 100 if p == 0 else 0),
        )
        for p in range(APPENDERS)
    ]
    compactor = ctx.Process(target=index_compactor, args=(str(db), rounds, ROUNDS, compactor_out))
    for proc in [*appenders, compactor]:
        proc.start()
    results = [out.get(timeout=600) for _ in appenders]
    compacted = compactor_out.get(timeout=600)
    for proc in [*appenders, compactor]:
        proc.join(60)
        assert proc.exitcode == 0

    assert [e for r in results for e in r["errors"]] == []
    assert compacted["errors"] == []
    # Every round had its compaction, and each kept at least what the appenders had
    # written when the round began (distinct threads: nothing is superseded).
    assert compacted["compactions"] == ROUNDS
    for k, kept in enumerate(compacted["kept"], start=1):
        assert kept >= APPENDERS * ROUND * k, (k, kept)
    lines = [line for line in (tmp_path / "session_index.jsonl").read_bytes().split(b"\n")]
    parsed = [parse_line(line) for line in lines if line.strip()]
    # No interleaved line: every non-blank line is one whole entry.
    interleaved = sum(entry is None for entry in parsed)
    assert interleaved == 0
    expected = {
        (f"a{p}-{i}", f"name a{p} {i}", i, f"/r/a{p}/{i}")
        for p in range(APPENDERS)
        for i in range(ENTRIES)
    }
    found = {
        (e.thread_id, e.thread_name, e.updated_at, e.rollout_path) for e in parsed if e is not None
    }
    assert found == expected
    with StateStore.open(db) as store:
        health = store.session_index_health()
        assert health.skipped_lines == 0
        assert health.threads == APPENDERS * ENTRIES
        names = store.find_thread_names_by_ids([f"a{p}-{i}" for p, i in [(0, 0), (3, 399)]])
        assert names == {"a0-0": "name a0 0", "a3-399": "name a3 399"}
    record(
        "4-index-contention",
        appender_processes=APPENDERS,
        compactor_processes=1,
        entries=sum(r["done"] for r in results),
        compactions=compacted["compactions"],
        appender_compactions=sum(r["compactions"] for r in results),
        interleaved_lines=interleaved,
        skipped_lines=health.skipped_lines,
        losses=len(expected - found),
    )


def _good(thread_id: str, name: str, updated_at: int) -> bytes:
    return json.dumps(
        {
            "thread_id": thread_id,
            "thread_name": name,
            "updated_at": updated_at,
            "rollout_path": None,
        }
    ).encode()


#: Corrupt lines a crash, a bad disk or another tool can leave, by kind.
CORRUPT_LINES: dict[str, bytes] = {
    "binary garbage": bytes(range(256)).replace(b"\n", b""),
    "NUL run (a crash on some filesystems)": b"\x00" * 4096,
    "truncated JSON": _good("torn", "torn", 1)[:25],
    "huge line (8 MiB)": b'{"thread_id":"huge","thread_name":"' + b"x" * (8 << 20),
    "invalid UTF-8 in a string": _good("bad-utf8", "PLACEHOLDER", 1).replace(
        b"PLACEHOLDER", b"\xff\xfe\xc3"
    ),
    "not an object": b"[1,2,3]",
    "wrong field types": b'{"thread_id":7,"thread_name":"x","updated_at":"soon"}',
    "updated_at out of range": _good("big", "big", 1).replace(b": 1", b": 99999999999999999999"),
    "nested too deep": b"[" * 100_000,
}


def test_corrupt_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    index = tmp_path / "session_index.jsonl"
    good = [_good(f"g{i}", f"Good {i}", i) for i in range(len(CORRUPT_LINES) + 1)]
    body: list[bytes] = []
    for i, bad in enumerate(CORRUPT_LINES.values()):
        body += [good[i], bad]
    body.append(good[-1])
    # A final line torn by a crash: no newline, and it does not parse.
    index.write_bytes(b"\n".join(body) + b"\n" + _good("tail", "Tail", 9)[:30])
    with StateStore.open(tmp_path / "state.db") as store:
        health = store.session_index_health()
        assert health.skipped_lines == len(CORRUPT_LINES)
        assert health.torn_tail
        assert health.threads == len(good)
        readable = sum(
            store.find_thread_name_by_id(f"g{i}") == f"Good {i}" for i in range(len(good))
        )
        assert readable == len(good)
        assert store.find_thread_path_by_name_str("GOOD 3") is None
        assert store.find_thread_name_by_id("torn") is None
        # An append after the torn tail starts on a line of its own.
        store.append_thread_name("after", "After", 10)
        assert store.find_thread_name_by_id("after") == "After"
        counted = store.session_index_health().skipped_lines
        assert counted == len(CORRUPT_LINES) + 1
        report = store.compact_session_index()
        assert report.skipped_lines == len(CORRUPT_LINES) + 1
        assert report.lines_after == len(good) + 1
        assert store.find_thread_name_by_id("g0") == "Good 0"
        assert store.session_index_health().skipped_lines == 0
    record(
        "4-corrupt-lines",
        corrupt_line_kinds=len(CORRUPT_LINES) + 1,
        skipped_and_counted=counted,
        compaction_skipped=report.skipped_lines,
        good_entries_readable=readable,
        losses=len(good) - readable,
    )
