"""``session_index.jsonl``: line format, damaged lines, incremental reads, compaction."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import threading
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

from threadloom import SessionIndexEntry, StateStore
from threadloom.backends.sqlite.jsonl_index import JsonlSessionIndex, ascii_casefold


def _entry(
    thread_id: str, name: str | None, updated_at: int, path: str | None = None
) -> SessionIndexEntry:
    return SessionIndexEntry(
        thread_id=thread_id, thread_name=name, updated_at=updated_at, rollout_path=path
    )


def _line(thread_id: str, name: str | None, updated_at: int, path: str | None = None) -> bytes:
    return (
        json.dumps(
            {
                "thread_id": thread_id,
                "thread_name": name,
                "updated_at": updated_at,
                "rollout_path": path,
            }
        ).encode()
        + b"\n"
    )


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    return tmp_path / "session_index.jsonl"


@pytest.fixture
def index(index_path: Path) -> Iterator[JsonlSessionIndex]:
    idx = JsonlSessionIndex(index_path)
    yield idx
    idx.close()


def _answers(idx: JsonlSessionIndex, ids: list[str], names: list[str]) -> object:
    return (
        [idx.get(i) for i in ids],
        idx.get_many(ids),
        [idx.find_by_name(n) for n in names],
        sorted(e.thread_id for e in idx.entries()),
    )


def test_line_format_matches_the_original(index: JsonlSessionIndex, index_path: Path) -> None:
    index.append(_entry("t1", "Δelta 🚀", 5, "/home/dév/δ.jsonl"))
    text = index_path.read_text("utf-8")
    lines = [line for line in text.split("\n") if line]
    assert lines == [
        '{"thread_id":"t1","thread_name":"Δelta 🚀","updated_at":5,"rollout_path":"/home/dév/δ.jsonl"}'
    ]
    # Each entry is written as one blank line plus the entry, in a single write.
    assert text == "\n" + lines[0] + "\n"


def test_corrupt_lines_are_skipped_and_counted(index: JsonlSessionIndex, index_path: Path) -> None:
    index_path.write_bytes(
        _line("a", "Alpha", 1)
        + b"\xff\xfe binary garbage\n"
        + b'{"thread_id": "b", "thread_na\n'
        + b'{"thread_id": 5, "updated_at": 1}\n'
        + b'{"thread_id": "c", "updated_at": "soon"}\n'
        + b"[1, 2]\n"
        + b"\n\n"
        + _line("b", "Beta", 2)
    )
    assert index.get("a") == _entry("a", "Alpha", 1)
    assert index.get("b") == _entry("b", "Beta", 2)
    assert index.get("c") is None
    health = index.health()
    assert health.skipped_lines == 5
    assert health.lines == 7
    assert health.threads == 2
    assert not health.torn_tail


def test_torn_tail_stays_pending_until_its_newline(
    index: JsonlSessionIndex, index_path: Path
) -> None:
    full = _line("t", "Torn", 3)
    index_path.write_bytes(_line("a", "A", 1) + full[:20])
    assert index.get("a") is not None
    assert index.get("t") is None
    health = index.health()
    assert health.torn_tail and health.skipped_lines == 0
    with open(index_path, "ab") as handle:
        handle.write(full[20:])
    assert index.get("t") == _entry("t", "Torn", 3)
    health = index.health()
    assert not health.torn_tail and health.skipped_lines == 0 and health.threads == 2


def test_reads_only_what_was_appended(
    index: JsonlSessionIndex, index_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = JsonlSessionIndex(index_path)
    try:
        writer.append(_entry("a", "A", 1))
        assert index.get("a") is not None
        consumed: list[int] = []
        original = JsonlSessionIndex._consume

        def spy(self: JsonlSessionIndex, view: object, chunk: bytes) -> None:
            consumed.append(len(chunk))
            original(self, view, chunk)  # type: ignore[arg-type]

        monkeypatch.setattr(JsonlSessionIndex, "_consume", spy)
        size_before = index_path.stat().st_size
        writer.append(_entry("b", "B", 2))
        assert index.get("b") == _entry("b", "B", 2)
        assert consumed == [index_path.stat().st_size - size_before]
        # Unchanged file: no read at all.
        assert index.get("a") is not None
        assert index.find_by_name("b") is not None
        assert len(consumed) == 1
    finally:
        writer.close()


def test_another_store_sees_appends(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with StateStore.open(db) as first, StateStore.open(db) as second:
        assert second.find_thread_name_by_id("t1") is None
        first.append_thread_name("t1", "One", 1, "/r/1")
        assert second.find_thread_name_by_id("t1") == "One"
        second.append_thread_name("t1", "Uno", 2, "/r/1")
        assert first.find_thread_path_by_name_str("UNO") == "/r/1"
        assert first.find_thread_name_by_id("t1") == "Uno"


@pytest.mark.parametrize("same_size", [True, False])
def test_replaced_file_is_reloaded(
    index: JsonlSessionIndex, index_path: Path, same_size: bool
) -> None:
    index_path.write_bytes(_line("a", "Old", 1) + _line("b", "Bee", 1))
    assert index.get("a") == _entry("a", "Old", 1)
    replacement = _line("a", "New", 1) + _line("c", "Cee", 1)
    if not same_size:
        replacement = _line("z", "Zed", 9)
    tmp = index_path.with_name("replacement")
    tmp.write_bytes(replacement)
    os.replace(tmp, index_path)
    assert index.get("b") is None
    if same_size:
        assert index.get("a") == _entry("a", "New", 1)
        assert index.find_by_name("cee") == _entry("c", "Cee", 1)
    else:
        assert index.get("a") is None and index.get("z") is not None
    assert index.find_by_name("old") is None


def test_compaction_keeps_latest_per_thread_and_answers_identically(
    index: JsonlSessionIndex, index_path: Path
) -> None:
    for n in range(30):
        index.append(_entry(f"t{n % 4}", f"Name {n % 7}", n, f"/r/{n}"))
    with open(index_path, "ab") as handle:
        handle.write(b"garbage line\n")
    ids = [f"t{n}" for n in range(5)]
    names = [f"name {n}" for n in range(7)]
    before = _answers(index, ids, names)
    report = index.compact()
    assert report.lines_before == 31
    assert report.lines_after == 4
    assert report.skipped_lines == 1
    lines = index_path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(lines[:-1])
    assert len(lines) - 1 == 4
    assert _answers(index, ids, names) == before
    fresh = JsonlSessionIndex(index_path)
    try:
        assert _answers(fresh, ids, names) == before
        assert fresh.health().skipped_lines == 0
    finally:
        fresh.close()


def test_compaction_keeps_entries_appended_by_another_writer(index_path: Path) -> None:
    stale = JsonlSessionIndex(index_path)
    other = JsonlSessionIndex(index_path)
    try:
        stale.append(_entry("a", "A", 1))
        assert stale.get("a") is not None
        other.append(_entry("b", "B", 2))
        other.append(_entry("a", "A2", 3))
        # `stale` has not read those lines yet; compaction must re-read under the lock.
        stale.compact()
        assert stale.get("b") == _entry("b", "B", 2)
        assert stale.get("a") == _entry("a", "A2", 3)
        assert other.get("b") == _entry("b", "B", 2)
    finally:
        stale.close()
        other.close()


def test_compaction_drops_only_what_the_policy_names_deciding_under_the_lock(
    index_path: Path,
) -> None:
    mine = JsonlSessionIndex(index_path)
    other = JsonlSessionIndex(index_path)  # another database in the same folder
    seen: list[list[str]] = []

    def policy(thread_ids: Collection[str]) -> Collection[str]:
        seen.append(sorted(thread_ids))
        # Asked while the lock is held: no appender can slip an entry in meanwhile.
        probe = os.open(mine.lock_path, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(probe)
        return ["gone", "never-indexed"]

    try:
        mine.append(_entry("gone", "Gone", 1))
        mine.append(_entry("kept", "Kept", 2))
        other.append(_entry("theirs", "Theirs", 3))  # not read by `mine` yet
        report = mine.compact(drop=policy)
        assert seen == [["gone", "kept", "theirs"]]
        assert report.dropped_threads == ("gone",)
        assert (report.lines_before, report.lines_after) == (3, 2)
        assert other.get("gone") is None
        assert other.get("theirs") == _entry("theirs", "Theirs", 3)
        assert mine.find_by_name("kept") == _entry("kept", "Kept", 2)
        assert mine.compact().dropped_threads == ()  # no policy: nothing but superseded lines
    finally:
        mine.close()
        other.close()


def test_automatic_compaction_past_threshold(index_path: Path) -> None:
    idx = JsonlSessionIndex(index_path, compact_threshold=10)
    try:
        for n in range(40):
            idx.append(_entry(f"t{n % 3}", f"N{n}", n))
        lines = [line for line in index_path.read_bytes().split(b"\n") if line]
        # Without compaction there would be 40 lines; it never grows far past the threshold.
        assert len(lines) <= 11
        assert idx.get("t0") == _entry("t0", "N39", 39)
        assert idx.get("t1") == _entry("t1", "N37", 37)
        assert idx.get("t2") == _entry("t2", "N38", 38)
    finally:
        idx.close()


def test_no_automatic_compaction_when_lines_are_mostly_distinct(index_path: Path) -> None:
    idx = JsonlSessionIndex(index_path, compact_threshold=10)
    try:
        for n in range(15):
            idx.append(_entry(f"t{n}", None, n))
        lines = [line for line in index_path.read_bytes().split(b"\n") if line]
        # Compacting would save nothing: every line is a different thread's latest.
        assert len(lines) == 15
    finally:
        idx.close()


def test_lock_and_index_files_are_private(index_path: Path) -> None:
    old = os.umask(0)
    try:
        idx = JsonlSessionIndex(index_path)
        idx.append(_entry("a", "A", 1))
        idx.compact()
        idx.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(index_path.stat().st_mode) == 0o600
    lock = index_path.with_name("session_index.jsonl.lock")
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("stored", "query", "matches"),
    [
        ("Alpha Project", "ALPHA project", True),
        ("alpha", "Alpha", True),
        ("Ärger", "ärger", False),
        ("Straße", "STRASSE", False),
        ("İstanbul", "istanbul", False),
        ("ǅ", "ǆ", False),
        ("Δelta", "δelta", False),
        ("Δelta", "ΔELTA", True),
    ],
)
def test_ascii_only_case_insensitive_names(
    index: JsonlSessionIndex, stored: str, query: str, matches: bool
) -> None:
    index.append(_entry("t", stored, 1, "/p"))
    found = index.find_by_name(query)
    assert (found is not None) is matches
    assert (ascii_casefold(stored) == ascii_casefold(query)) is matches


def test_find_by_name_tie_goes_to_last_appended(index: JsonlSessionIndex) -> None:
    index.append(_entry("a", "Same", 5, "/a"))
    index.append(_entry("b", "same", 5, "/b"))
    found = index.find_by_name("SAME")
    assert found is not None and found.rollout_path == "/b"


def test_missing_file_reads_empty(index: JsonlSessionIndex, index_path: Path) -> None:
    assert index.get("a") is None
    assert index.entries() == []
    health = index.health()
    assert health.lines == 0 and health.threads == 0
    index.append(_entry("a", "A", 1))
    index_path.unlink()
    assert index.get("a") is None
    index.append(_entry("b", "B", 1))
    assert index.get("b") is not None and index_path.exists()


def test_store_health_and_compaction_api(sqlite_store: StateStore) -> None:
    for n in range(6):
        sqlite_store.append_thread_name("t", f"N{n}", n)
    health = sqlite_store.session_index_health()
    assert health.lines == 6 and health.threads == 1
    report = sqlite_store.compact_session_index()
    assert (report.lines_before, report.lines_after) == (6, 1)
    assert [e.thread_name for e in sqlite_store.session_index_entries()] == ["N5"]


def test_threads_append_through_one_store(sqlite_store: StateStore) -> None:
    workers, per_worker = 4, 50
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for k in range(per_worker):
                sqlite_store.append_thread_name(f"w{n}", f"Worker {n} #{k}", k, f"/r/{n}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    health = sqlite_store.session_index_health()
    assert (health.lines, health.skipped_lines, health.threads) == (
        workers * per_worker,
        0,
        workers,
    )
    assert sqlite_store.find_thread_names_by_ids([f"w{n}" for n in range(workers)]) == {
        f"w{n}": f"Worker {n} #{per_worker - 1}" for n in range(workers)
    }


@pytest.mark.parametrize(("durability", "syncs"), [("normal", 0), ("full", 3)])
def test_appends_are_fsynced_only_with_full_durability(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durability: str, syncs: int
) -> None:
    with StateStore.open(tmp_path / "state.db", durability=durability) as store:
        calls: list[int] = []
        real_fsync = os.fsync

        def spy(fd: int) -> None:
            calls.append(fd)
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", spy)
        for n in range(3):
            store.append_thread_name("t", f"N{n}", n)
        monkeypatch.undo()
    assert len(calls) == syncs
