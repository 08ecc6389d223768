"""Scenario 8: read-only media, a full disk, a database path that is a directory."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from threadloom import StateStore, ThreadloomError, ThreadMetadata

from ._support import check_integrity, record


def _mount(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["mount", *args], capture_output=True, check=False)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted for the test (skipped where mounting is not allowed)."""
    point = tmp_path / "mnt"
    point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the full-disk and read-only-media cases)")
    done = _mount(["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(point)])
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _seed(db: Path) -> None:
    with StateStore.open(db) as store:
        store.upsert_thread(ThreadMetadata.create("t", name="kept"))
        store.append_message("t", "user", "kept")


def _check_seeded(db: Path) -> None:
    with StateStore.open(db) as store:
        assert [m.content for m in store.list_messages("t")][:1] == ["kept"]
        assert store.find_thread_name_by_id("t") == "kept"
        store.append_message("t", "user", "works again")
    check_integrity(db)


def test_full_disk(tmpfs: Path) -> None:
    db = tmpfs / "state.db"
    _seed(db)
    acknowledged: list[int] = []
    names: list[str] = []
    errors: list[BaseException] = []
    with StateStore.open(db) as store:
        for i in range(10_000):
            try:
                acknowledged.append(store.append_message("t", "user", f"{i}:" + "x" * 8000))
            except Exception as exc:
                errors.append(exc)
            try:
                store.append_thread_name(f"n{i}", f"name {i}", i)
                names.append(f"n{i}")
            except Exception as exc:
                errors.append(exc)
            if len(errors) >= 20:
                break
        assert errors, "the 1 MiB disk never filled"
        for error in errors:
            # A clear error: ours, or the OS's ENOSPC for the index file.
            assert isinstance(error, ThreadloomError | OSError), repr(error)
            assert "full" in str(error) or "No space" in str(error), str(error)
        # Reads still work on a full disk.
        assert len(store.list_messages("t", 10**9)) == len(acknowledged) + 1
    check_integrity(db)
    # The fault goes away: the disk grows.
    assert _mount(["-o", "remount,size=16m", str(tmpfs)]).returncode == 0
    with StateStore.open(db) as store:
        present = {m.id for m in store.list_all_messages("t")}
        assert set(acknowledged) <= present
        assert store.find_thread_names_by_ids(names) == {n: f"name {n[1:]}" for n in names}
        health = store.session_index_health()
        assert health.skipped_lines == 0, health
        more = store.append_message("t", "user", "after")
        store.append_thread_name("after", "after", 1)
        assert store.list_messages("t", 1)[0].id == more
    check_integrity(db)
    record(
        "8-full-disk",
        disk_bytes=1 << 20,
        appends_acknowledged=len(acknowledged),
        index_entries_acknowledged=len(names),
        errors_raised=len(errors),
        error_kinds=sorted({type(e).__name__ for e in errors}),
        losses=len(set(acknowledged) - present),
    )


def test_read_only_media(tmpfs: Path) -> None:
    db = tmpfs / "state.db"
    _seed(db)
    before = {p.name: _sha(p) for p in tmpfs.iterdir() if p.is_file()}
    assert _mount(["-o", "remount,ro", str(tmpfs)]).returncode == 0
    outcomes: list[str] = []
    try:
        try:
            store = StateStore.open(db)
        except ThreadloomError as exc:
            assert "read-only" in str(exc), str(exc)
            outcomes.append("open refused")
        else:
            with store:
                with pytest.raises(ThreadloomError, match="read"):
                    store.append_message("t", "user", "x")
                outcomes.append("write refused")
        after = {p.name: _sha(p) for p in tmpfs.iterdir() if p.is_file()}
        assert after == before
    finally:
        assert _mount(["-o", "remount,rw", str(tmpfs)]).returncode == 0
    _check_seeded(db)
    record("8-read-only-media", outcomes=outcomes, files_changed=0)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_file_and_directory(tmp_path: Path) -> None:
    home = tmp_path / "home"
    db = home / "state.db"
    _seed(db)
    before = {p.name: _sha(p) for p in home.iterdir() if p.is_file()}
    os.chmod(db, 0o444)
    os.chmod(home, 0o555)
    try:
        try:
            store = StateStore.open(db)
        except ThreadloomError as exc:
            assert "read" in str(exc), str(exc)
        else:
            with store, pytest.raises(ThreadloomError, match="read"):
                store.append_message("t", "user", "x")
        assert {p.name: _sha(p) for p in home.iterdir() if p.is_file()} == before
    finally:
        os.chmod(home, 0o700)
        os.chmod(db, 0o600)
    _check_seeded(db)


def test_database_path_is_a_directory(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.mkdir()
    (db / "unrelated").write_text("user data")
    with pytest.raises(ThreadloomError, match="directory"):
        StateStore.open(db)
    assert sorted(p.name for p in db.iterdir()) == ["unrelated"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.db"]
    (db / "unrelated").unlink()
    db.rmdir()
    _seed(db)
    _check_seeded(db)
    record("8-path-is-directory", outcome="ThreadloomError, nothing created", files_changed=0)


def test_parent_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "home"
    blocker.write_text("a file where the state directory should be")
    with pytest.raises((ThreadloomError, OSError)):
        StateStore.open(blocker / "state.db")
    assert blocker.read_text() == "a file where the state directory should be"
