"""Scenario 8: read-only media, a full disk, a database path that is a directory."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.require import ENV_FAULTS, skip_unless_required
from threadloom import StateStore, ThreadloomError, ThreadMetadata, errors

from ._support import check_integrity, record


def _mount(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["mount", *args], capture_output=True, check=False)


def mount_tmpfs(point: Path) -> None:
    """Mount a 1 MiB tmpfs on ``point``, or skip (fail under THREADLOOM_REQUIRE_ENV_FAULTS=1)."""
    if os.geteuid() != 0:
        skip_unless_required(
            ENV_FAULTS, "mounting a tmpfs needs root (the full-disk and read-only-media cases)"
        )
    done = _mount(["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(point)])
    if done.returncode != 0:
        skip_unless_required(
            ENV_FAULTS, f"cannot mount a tmpfs here: {done.stderr.decode().strip()}"
        )


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted for the test (skipped where mounting is not allowed)."""
    point = tmp_path / "mnt"
    point.mkdir()
    mount_tmpfs(point)
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
        changed = sorted(
            name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
        )
        assert changed == []
    finally:
        assert _mount(["-o", "remount,rw", str(tmpfs)]).returncode == 0
    _check_seeded(db)
    record("8-read-only-media", outcomes=outcomes, files_changed=len(changed))


def _nobody() -> tuple[int, int] | None:
    """The uid and gid of ``nobody``, or ``None`` where there is no such user."""
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _unprivileged() -> tuple[int, int] | None:
    """The ``(uid, gid)`` a child should switch to, or ``None`` to stay as it is.

    Root ignores file permissions, so as root the faulty part runs in a child that
    drops to ``nobody``; any other user is subject to permissions already.
    """
    if os.geteuid() != 0:
        return None
    ids = _nobody()
    if ids is None:
        skip_unless_required(
            ENV_FAULTS, "running as root and there is no 'nobody' user to drop privileges to"
        )
    return ids


def _in_child(ids: tuple[int, int] | None, body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``body`` in a forked child (as ``ids`` when given); return what it returned.

    The child reports through a pipe as JSON: ``{"ok": ...}`` or ``{"error": ...}`` for
    an exception that escaped ``body`` (then the parent fails the test with it).
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        try:
            if ids is not None:
                # Groups first: once the uid is dropped, setgroups is refused.
                os.setgroups([])
                os.setgid(ids[1])
                os.setuid(ids[0])
            outcome: dict[str, Any] = {"ok": body()}
        except BaseException as exc:  # every failure goes back to the parent
            outcome = {"error": f"{type(exc).__name__}: {exc}"}
        with os.fdopen(write_end, "w", encoding="utf-8") as out:
            json.dump(outcome, out)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, encoding="utf-8") as source:
        text = source.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, text
    outcome = json.loads(text)
    assert "error" not in outcome, outcome["error"]
    result: dict[str, Any] = outcome["ok"]
    return result


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A fresh directory the unprivileged child can reach.

    ``tmp_path`` can sit below a 0700 directory of root's, which ``nobody`` cannot
    traverse, so this one is made directly in /tmp (world-traversable) and removed
    afterwards.
    """
    made = Path(tempfile.mkdtemp(prefix="threadloom-ro-", dir="/tmp"))
    os.chmod(made, 0o755)
    try:
        yield made
    finally:
        for path in (made, *made.rglob("*")):
            if path.is_dir():
                os.chmod(path, 0o755)  # so rmtree can empty directories made read-only
        shutil.rmtree(made)


def _attempt_write(db: Path) -> dict[str, Any]:
    """Open the store and try to append; say what happened (run in the child)."""
    try:
        store = StateStore.open(db)
    except ThreadloomError as exc:
        return {"step": "open", "kind": type(exc).__name__, "message": str(exc)}
    with store:
        # Opened (a read-only file can be): reading must still work.
        read = [m.content for m in store.list_messages("t")]
        try:
            store.append_message("t", "user", "must not land")
        except ThreadloomError as exc:
            return {"step": "append", "kind": type(exc).__name__, "message": str(exc), "read": read}
    return {"step": "none", "kind": "", "message": "the append succeeded"}


def _works_again(db: Path) -> dict[str, Any]:
    """:func:`_check_seeded` for :func:`_in_child` (its assertions raise on failure)."""
    _check_seeded(db)
    return {"works": True}


def _files(home: Path) -> dict[str, str]:
    return {p.name: _sha(p) for p in home.iterdir() if p.is_file()}


#: (file mode, directory mode) of each case: read-only file in a writable directory,
#: writable file in a read-only directory, both read-only.
READ_ONLY_CASES = {
    "file": (0o444, 0o755),
    "directory": (0o644, 0o555),
    "file-and-directory": (0o444, 0o555),
}


@pytest.mark.parametrize("case", sorted(READ_ONLY_CASES))
def test_read_only_file_and_directory(shared_dir: Path, case: str) -> None:
    ids = _unprivileged()
    file_mode, dir_mode = READ_ONLY_CASES[case]
    home = shared_dir / "home"
    db = home / "state.db"
    _seed(db)
    files = [home, *home.iterdir()]
    if ids is not None:
        for path in files:
            os.chown(path, *ids)  # the store belongs to the user the child runs as
    before = _files(home)
    os.chmod(db, file_mode)
    os.chmod(home, dir_mode)
    try:
        outcome = _in_child(ids, lambda: _attempt_write(db))
        assert outcome["step"] != "none", outcome
        # A clear error: a ThreadloomError subclass saying why, not SQLite's bare text.
        kind = getattr(errors, outcome["kind"], None)
        assert isinstance(kind, type) and issubclass(kind, ThreadloomError), outcome
        assert "read-only" in outcome["message"], outcome
        assert outcome.get("read", ["kept"]) == ["kept"], outcome
        # Nothing damaged: every file keeps its bytes. In a writable directory SQLite
        # may leave the -wal/-shm pair its read-only connection needed; the -wal must
        # be empty, i.e. no write reached it.
        after = _files(home)
        assert {name: after[name] for name in before} == before
        created = set(after) - set(before)
        assert created <= {"state.db-wal", "state.db-shm"}, created
        assert "state.db-wal" not in created or (home / "state.db-wal").stat().st_size == 0
    finally:
        os.chmod(home, 0o755)
        os.chmod(db, 0o644)
    sidecars = sorted(p for p in home.iterdir() if p.name in ("state.db-wal", "state.db-shm"))
    if any(not p.stat().st_mode & 0o200 for p in sidecars):
        # SQLite created them with the read-only file's mode: until they are writable
        # too, writing fails, with an error that names the file to fix.
        again = _in_child(ids, lambda: _attempt_write(db))
        assert again["kind"] == "ThreadloomError", again
        assert "state.db-wal is read-only" in again["message"] or (
            "state.db-shm is read-only" in again["message"]
        ), again
        for path in sidecars:
            os.chmod(path, 0o644)
    # Permissions restored: the same user opens, reads and writes the store again.
    assert _in_child(ids, lambda: _works_again(db)) == {"works": True}
    record(
        f"8-read-only-{case}",
        user="nobody" if ids else "self",
        sidecars_left=len(sidecars),
        **outcome,
    )


def test_database_path_is_a_directory(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.mkdir()
    (db / "unrelated").write_text("user data")
    with pytest.raises(ThreadloomError, match="directory") as info:
        StateStore.open(db)
    inside = sorted(p.name for p in db.iterdir())
    beside = sorted(p.name for p in tmp_path.iterdir())
    assert inside == ["unrelated"]
    assert beside == ["state.db"]
    (db / "unrelated").unlink()
    db.rmdir()
    _seed(db)
    _check_seeded(db)
    record(
        "8-path-is-directory",
        outcome=type(info.value).__name__,
        files_created=len(inside) + len(beside) - 2,
    )


def test_parent_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "home"
    blocker.write_text("a file where the state directory should be")
    with pytest.raises((ThreadloomError, OSError)):
        StateStore.open(blocker / "state.db")
    assert blocker.read_text() == "a file where the state directory should be"
