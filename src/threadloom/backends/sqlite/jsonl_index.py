"""``session_index.jsonl``: the original's append-only name index, made safe and fast.

Protocol (the one the original's maintainers later adopted): every append and every
compaction holds an exclusive ``flock`` on ``session_index.jsonl.lock`` (mode 0600).
Each entry goes out in a single ``write()`` on an ``O_APPEND`` descriptor, so lines
from different processes never interleave.

Every entry is written as ``"\\n" + json + "\\n"``. The leading newline costs one blank
line (readers skip blank lines, the original's included) and protects our entry from
a writer that does not take the lock: the seed version writes its JSON and its newline
in two separate ``write()`` calls, and without the leading newline our entry could
land between them and be glued onto its line.

Readers keep an in-memory index and read only the bytes appended since their last
read (by any process); a replaced file (compaction elsewhere) is noticed by its inode
and read again. Corrupt lines (binary garbage, truncated JSON, wrong types) are skipped
and counted; an unfinished last line is left pending until its newline arrives.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ... import _forks
from ...errors import InvalidRecord, StoreBusy, ThreadloomError
from ...paths import ensure_private_dir, open_private_file, replace_private
from ...records import SessionIndexEntry
from ...session_index import CompactionReport, DropPolicy, IndexHealth

__all__ = ["JsonlSessionIndex"]

#: Compact automatically once the file has more lines than this (the original's figure)
#: and more than twice as many lines as distinct threads.
DEFAULT_COMPACT_THRESHOLD = 5000

_ASCII_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
_ASCII_LOWER_STR = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_casefold(name: str) -> str:
    """Lower-case ASCII letters only, like Rust's ``eq_ignore_ascii_case``."""
    return name.translate(_ASCII_LOWER_STR)


def encode_entry(entry: SessionIndexEntry) -> bytes:
    """One index line (without newline), fields in the original's struct order.

    Raises:
        InvalidRecord: A field holds a lone surrogate, which UTF-8 cannot encode.
    """
    # orjson keeps the dict's (struct) order and writes the same bytes as
    # json.dumps(ensure_ascii=False, separators=(",", ":")), much faster: this runs
    # on every upsert_thread.
    try:
        return orjson.dumps(
            {
                "thread_id": entry.thread_id,
                "thread_name": entry.thread_name,
                "updated_at": entry.updated_at,
                "rollout_path": entry.rollout_path,
            }
        )
    except orjson.JSONEncodeError as exc:
        raise InvalidRecord(
            "session index entry cannot be stored as UTF-8 (it holds a lone surrogate)"
        ) from exc


def parse_line(raw: bytes) -> SessionIndexEntry | None:
    """Decode one line; ``None`` when it is not a valid entry."""
    try:
        # orjson: decoding entries is most of the cost of loading a large index.
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    thread_id = data.get("thread_id")
    updated_at = data.get("updated_at")
    name = data.get("thread_name")
    path = data.get("rollout_path")
    if (
        not isinstance(thread_id, str)
        or type(updated_at) is not int
        or not -(2**63) <= updated_at < 2**63
        or not (name is None or isinstance(name, str))
        or not (path is None or isinstance(path, str))
    ):
        return None
    return SessionIndexEntry(
        thread_id=thread_id, thread_name=name, updated_at=updated_at, rollout_path=path
    )


@dataclass
class _View:
    """What one reader knows of the file: latest entry per thread and where it stopped."""

    inode: tuple[int, int] | None = None
    offset: int = 0
    lines: int = 0
    skipped: int = 0
    sequence: int = 0
    pending_tail: bool = False

    def __post_init__(self) -> None:
        self.latest: dict[str, tuple[int, SessionIndexEntry]] = {}
        self.by_name: dict[str, set[str]] = {}

    def apply(self, entry: SessionIndexEntry) -> None:
        self.sequence += 1
        previous = self.latest.get(entry.thread_id)
        if previous is not None and previous[1].thread_name is not None:
            key = ascii_casefold(previous[1].thread_name)
            holders = self.by_name.get(key)
            if holders is not None:
                holders.discard(entry.thread_id)
                if not holders:
                    del self.by_name[key]
        self.latest[entry.thread_id] = (self.sequence, entry)
        if entry.thread_name is not None:
            self.by_name.setdefault(ascii_casefold(entry.thread_name), set()).add(entry.thread_id)


class JsonlSessionIndex:
    """The session index as a JSONL file beside the database.

    Args:
        path: The ``session_index.jsonl`` path.
        fsync: Whether each append is fsynced (durability ``full``).
        compact_threshold: Line count past which an append compacts the file.
        lock_timeout: Seconds to wait for the file lock before :class:`StoreBusy`
            (``None``: wait as long as it takes).
    """

    def __init__(
        self,
        path: Path,
        *,
        fsync: bool = False,
        compact_threshold: int = DEFAULT_COMPACT_THRESHOLD,
        lock_timeout: float | None = None,
    ) -> None:
        self.path = path
        self._lock_timeout = lock_timeout
        self.lock_path = path.with_name(path.name + ".lock")
        self._fsync = fsync
        self._compact_threshold = compact_threshold
        self._mutex = threading.RLock()
        self._view = _View()
        self._lock_fd: int | None = None
        self._append_fd: int | None = None
        self._append_inode: tuple[int, int] | None = None
        self._generation = _forks.generation
        self._appended = 0
        self._closed = False

    # -- locking -----------------------------------------------------------------

    def _check_open(self) -> None:
        # Without this a closed store kept answering (and appending) through its index
        # while every database call raised.
        if self._closed:
            raise ThreadloomError(f"the session index {self.path} is closed")

    def _ready(self) -> None:
        """Reopen descriptors in a forked child; refuse a closed index.

        Raises:
            ThreadloomError: The index was closed.
        """
        self._reset_after_fork()
        self._check_open()

    def _reset_after_fork(self) -> None:
        # A descriptor inherited across fork() shares its open file description, and
        # flock() locks belong to that description: parent and child would not exclude
        # each other. The child therefore opens its own descriptors.
        if self._generation != _forks.generation:
            self._generation = _forks.generation
            self._mutex = threading.RLock()
            self._lock_fd = None
            self._append_fd = None
            self._append_inode = None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._mutex:
            if self._lock_fd is None:
                ensure_private_dir(self.lock_path.parent)
                self._lock_fd = open_private_file(self.lock_path, os.O_RDWR | os.O_CREAT)
            self._acquire(self._lock_fd)
            try:
                yield
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _acquire(self, fd: int) -> None:
        """Take the exclusive lock, waiting at most ``lock_timeout`` seconds.

        flock() has no timeout of its own, and a blocking flock() would hang for as
        long as a stopped (Ctrl-Z) or stuck process holds the lock, so a contended lock
        is polled with a growing sleep instead.

        Raises:
            StoreBusy: The lock stayed held past ``lock_timeout``.
        """
        if self._lock_timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return
        deadline = time.monotonic() + self._lock_timeout
        pause = 0.0005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreBusy(
                        f"the session index lock {self.lock_path} stayed held by another "
                        f"process past the busy timeout ({self._lock_timeout:g} s)"
                    ) from None
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.002)

    # -- reading -----------------------------------------------------------------

    def _refresh(self) -> _View:
        """Bring the in-memory view up to date with the file (cheap when unchanged)."""
        view = self._view
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if view.inode is not None or view.latest:
                self._view = _View()
            return self._view
        inode = (st.st_dev, st.st_ino)
        if inode != view.inode or st.st_size < view.offset:
            view = self._view = _View(inode=inode)
        if st.st_size == view.offset:
            return view
        with open(self.path, "rb") as handle:
            # The file may have been replaced between stat() and open(): trust the
            # descriptor we actually read from.
            fst = os.fstat(handle.fileno())
            if (fst.st_dev, fst.st_ino) != view.inode:
                view = self._view = _View(inode=(fst.st_dev, fst.st_ino))
            handle.seek(view.offset)
            chunk = handle.read()
        self._consume(view, chunk)
        return view

    def _consume(self, view: _View, chunk: bytes) -> None:
        start = 0
        end = len(chunk)
        view.pending_tail = False
        while start < end:
            newline = chunk.find(b"\n", start)
            if newline < 0:
                tail = chunk[start:]
                if tail.strip():
                    entry = parse_line(tail)
                    if entry is None:
                        # An unfinished line: leave it until its newline arrives.
                        view.pending_tail = True
                        break
                    view.lines += 1
                    view.apply(entry)
                start = end
                break
            line = chunk[start:newline]
            start = newline + 1
            if not line.strip():
                continue
            view.lines += 1
            entry = parse_line(line)
            if entry is None:
                view.skipped += 1
            else:
                view.apply(entry)
        view.offset += start

    def get(self, thread_id: str) -> SessionIndexEntry | None:
        """The latest entry of ``thread_id``, or ``None``."""
        with self._mutex:
            # The common case costs two comparisons; this runs on every name lookup.
            if self._generation != _forks.generation or self._closed:
                self._ready()
            found = self._refresh().latest.get(thread_id)
            return None if found is None else found[1]

    def get_many(self, thread_ids: Iterable[str]) -> dict[str, SessionIndexEntry | None]:
        """The latest entry of each id (``None`` for unknown ids)."""
        with self._mutex:
            self._ready()
            latest = self._refresh().latest
            out: dict[str, SessionIndexEntry | None] = {}
            for thread_id in thread_ids:
                found = latest.get(thread_id)
                out[thread_id] = None if found is None else found[1]
            return out

    def find_by_name(self, name: str) -> SessionIndexEntry | None:
        """The entry whose name equals ``name`` ignoring ASCII case, most recently updated.

        Ties on ``updated_at`` go to the entry appended last (the original left them to
        hash-map order).
        """
        with self._mutex:
            self._ready()
            view = self._refresh()
            holders = view.by_name.get(ascii_casefold(name))
            if not holders:
                return None
            best = max((view.latest[t] for t in holders), key=lambda s: (s[1].updated_at, s[0]))
            return best[1]

    def entries(self) -> list[SessionIndexEntry]:
        """The latest entry of every thread, in the order they were last written."""
        with self._mutex:
            self._ready()
            view = self._refresh()
            return [entry for _, entry in sorted(view.latest.values(), key=lambda s: s[0])]

    def health(self) -> IndexHealth:
        """Counts for a health check: lines, distinct threads, corrupt lines skipped."""
        with self._mutex:
            self._ready()
            view = self._refresh()
            size = view.offset
            return IndexHealth(
                location=str(self.path),
                lines=view.lines,
                threads=len(view.latest),
                skipped_lines=view.skipped,
                torn_tail=view.pending_tail,
                size_bytes=size,
            )

    # -- writing -----------------------------------------------------------------

    def _append_descriptor(self) -> int:
        """An O_APPEND descriptor on the current file (reopened if it was replaced)."""
        try:
            st = os.stat(self.path)
            current: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            current = None
        if self._append_fd is None or current != self._append_inode:
            if self._append_fd is not None:
                os.close(self._append_fd)
                self._append_fd = None
            ensure_private_dir(self.path.parent)
            fd = open_private_file(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            st = os.fstat(fd)
            self._append_fd = fd
            self._append_inode = (st.st_dev, st.st_ino)
        return self._append_fd

    def append(self, entry: SessionIndexEntry) -> None:
        """Append one entry under the lock, in a single write.

        Raises:
            StoreBusy: Another process held the lock past the timeout.
            OSError: The file or its lock cannot be opened or written.
        """
        payload = b"\n" + encode_entry(entry) + b"\n"
        with self._mutex:
            self._ready()
            with self._locked():
                fd = self._append_descriptor()
                written = os.write(fd, payload)
                if written != len(payload):  # pragma: no cover - a full disk mid-write
                    raise OSError(f"short write to {self.path}: {written} of {len(payload)}")
                if self._fsync:
                    os.fsync(fd)
            # Counting our own appends spares a read per append; the file is read only
            # when the count says compaction may be due.
            self._appended += 1
            if self._view.lines + self._appended > self._compact_threshold:
                view = self._refresh()
                self._appended = 0
                if view.lines > self._compact_threshold and view.lines > 2 * len(view.latest):
                    self.compact()

    def compact(self, *, drop: DropPolicy | None = None) -> CompactionReport:
        """Rewrite the file to the latest entry per thread, atomically, under the lock.

        The rewrite reads the file while holding the lock that every appender takes, so
        no entry appended by another process can be dropped.

        Args:
            drop: Called under the lock with the ids of the threads in the file;
                every entry of the ids it returns goes too (``threadloom repair``
                passes the threads its database deleted: the file is shared by every
                database in its folder, so no other entry may go).

        Raises:
            StoreBusy: Another process held the lock past the timeout.
            OSError: The file cannot be read, written or renamed.
        """
        with self._mutex:
            self._ready()
            with self._locked():
                # A compaction killed before its rename leaves its temp file behind; under
                # the lock no other compaction runs, so every such file is stale.
                for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
                    stale.unlink(missing_ok=True)
                try:
                    with open(self.path, "rb") as handle:
                        data = handle.read()
                except FileNotFoundError:
                    return CompactionReport(lines_before=0, lines_after=0, skipped_lines=0)
                view = _View()
                self._consume(view, data)
                dropped = set(drop(view.latest.keys())) if drop is not None else set()
                dropped &= view.latest.keys()
                kept = [
                    entry
                    for _, entry in sorted(view.latest.values(), key=lambda s: s[0])
                    if entry.thread_id not in dropped
                ]
                body = b"".join(encode_entry(e) + b"\n" for e in kept)
                replace_private(self.path, body, mode=os.stat(self.path).st_mode & 0o777)
                self._view = _View()
                return CompactionReport(
                    lines_before=view.lines,
                    lines_after=len(kept),
                    skipped_lines=view.skipped + (1 if view.pending_tail else 0),
                    dropped_threads=tuple(sorted(dropped)),
                )

    def close(self) -> None:
        """Close the descriptors this index keeps open. Later calls raise."""
        with self._mutex:
            self._closed = True
            if self._generation != _forks.generation:
                self._reset_after_fork()
                return
            for fd in (self._append_fd, self._lock_fd):
                if fd is not None:
                    os.close(fd)
            self._append_fd = None
            self._lock_fd = None
            self._append_inode = None
