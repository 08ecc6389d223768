"""SQLite connections: one per thread, reused, closed when the thread ends, reopened
after ``fork()``.

Every connection gets the same pragmas when it opens (WAL, ``busy_timeout``,
``foreign_keys=ON``, ``synchronous`` from the durability setting). Writes start with
``BEGIN IMMEDIATE`` so two writers never deadlock upgrading a read lock; nested
transactions use savepoints. Driver errors are translated into threadloom's errors
here, in one place.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

from ... import _forks
from ...errors import (
    Conflict,
    CorruptData,
    InvalidRecord,
    StoreBusy,
    ThreadloomError,
)
from ..common.transactions import read_only_store, snapshot_refusal

__all__ = ["ConnectionManager", "Durability", "translate_errors"]


class Durability(StrEnum):
    """How hard a commit works to survive a power loss.

    ``normal``: WAL with ``synchronous=NORMAL``; a commit survives a process crash,
    and a power loss can lose only the last commits, never corrupt the file.
    ``full``: WAL with ``synchronous=FULL``; every commit is fsynced.
    """

    NORMAL = "normal"
    FULL = "full"


_BUSY_MARKERS = ("database is locked", "database is busy", "database table is locked")

# SQLite's own texts for these do not say why; _access_hint() adds the likely cause.
_ACCESS_ERRORS = ("unable to open database file", "attempt to write a readonly database")


def _access_hint(path: Path | str) -> str:
    """Why a database file cannot be opened or written, as far as the OS tells."""
    target = Path(path)
    try:
        if os.statvfs(target.parent).f_flag & os.ST_RDONLY:
            return f" (the file system holding {target} is mounted read-only)"
    except OSError:
        return f" (its directory {target.parent} cannot be read)"
    if not os.access(target.parent, os.W_OK | os.X_OK):
        return (
            f" (the directory {target.parent} is read-only: SQLite must create the -wal "
            "and -shm files beside the database)"
        )
    if target.exists() and not os.access(target, os.R_OK | os.W_OK):
        return f" (the file {target} is read-only or unreadable for this user)"
    for suffix in ("-wal", "-shm"):
        # SQLite gives these the database file's mode when it creates them, so a
        # read-only file opened once leaves them read-only after the file is made
        # writable again; without this the error names no cause at all.
        side = target.with_name(target.name + suffix)
        if side.exists() and not os.access(side, os.R_OK | os.W_OK):
            return (
                f" (the file {side} is read-only for this user: SQLite created it with "
                "the database file's permissions; make it writable too)"
            )
    return ""


@contextmanager
def translate_errors(what: str, path: Path | str) -> Iterator[None]:
    """Turn driver errors raised inside the block into threadloom errors.

    Raises:
        StoreBusy: The lock wait ran out.
        Conflict: A constraint failed.
        CorruptData: The file is not a database or is damaged, or a stored text is
            not valid UTF-8.
        InvalidRecord: A string cannot be stored (lone surrogates) or an integer is too big.
        ThreadloomError: Any other driver error.
    """
    try:
        yield
    except ThreadloomError:
        raise
    except sqlite3.IntegrityError as exc:
        raise Conflict(f"{what}: {exc}") from exc
    except sqlite3.OperationalError as exc:
        message = str(exc)
        if message.startswith("Could not decode to UTF-8"):
            # Bytes that are not UTF-8 in a TEXT column: another tool or a damaged page
            # wrote them. The driver names the column; ``what`` names the row's key.
            raise CorruptData(
                f"{what}: a stored text value in {path} is not valid UTF-8 ({message})"
            ) from exc
        if message in _ACCESS_ERRORS:
            raise ThreadloomError(f"{what}: {message}{_access_hint(path)}") from exc
        if any(marker in message for marker in _BUSY_MARKERS):
            raise StoreBusy(
                f"{what}: the database {path} stayed locked by another connection "
                f"past the busy timeout ({message})"
            ) from exc
        raise ThreadloomError(f"{what}: {message}") from exc
    except sqlite3.DatabaseError as exc:
        message = str(exc)
        if "not a database" in message or "malformed" in message:
            raise CorruptData(f"{what}: {path} is damaged or not a database ({message})") from exc
        raise ThreadloomError(f"{what}: {message}") from exc
    except sqlite3.Error as exc:
        raise ThreadloomError(f"{what}: {exc}") from exc
    except UnicodeDecodeError as exc:
        # The driver could not even decode SQLite's error message: it quotes schema
        # text from a damaged file.
        raise CorruptData(f"{what}: {path} is damaged (text that is not UTF-8)") from exc
    except UnicodeEncodeError as exc:
        raise InvalidRecord(
            f"{what}: text cannot be stored as UTF-8 (it holds a lone surrogate)"
        ) from exc
    except OverflowError as exc:
        raise InvalidRecord(f"{what}: an integer does not fit 64 bits") from exc


# SQLite holds process-wide mutexes while it opens and closes a database (its list of
# open files): a child forked while another thread is inside one would wait for it
# forever. Opening and closing hold this lock, and fork() waits for it. (A fork while
# another thread runs a statement has the same hazard in SQLite's allocator; that one
# only the caller can avoid.)
_open_close_lock = threading.RLock()
os.register_at_fork(
    before=_open_close_lock.acquire,
    after_in_parent=_open_close_lock.release,
    after_in_child=_open_close_lock.release,
)


def _close(conn: sqlite3.Connection) -> None:
    with _open_close_lock, contextlib.suppress(sqlite3.Error):
        conn.close()


def _forked_block(what: str) -> ThreadloomError:
    return ThreadloomError(
        f"{what}: the block was opened before fork() and belongs to the parent process; "
        "the child neither commits nor rolls it back (open a new block in the child)"
    )


class _Lease:
    """Closes one thread's connection when that thread ends.

    Only the thread's local storage refers to a lease. When the thread ends, CPython
    clears that storage, the lease is freed and :meth:`__del__` closes the connection
    at once (a ``sqlite3.Connection`` sits in a reference cycle with its statement
    cache, so on its own it would stay open until the cyclic collector runs). Without
    this, a thread-per-request server kept two descriptors per finished thread open.
    """

    __slots__ = ("conn", "handles", "pid")

    def __init__(self, conn: sqlite3.Connection, handles: dict[int, sqlite3.Connection]):
        self.conn = conn
        self.handles = handles
        self.pid = os.getpid()

    def __del__(self) -> None:
        # In a forked child the other threads' storage is cleared before any at-fork
        # hook runs: this connection is the parent's, and the child leaves it alone.
        # Whoever pops the handle (this or close()) is the one that closes it.
        if os.getpid() == self.pid and self.handles.pop(id(self.conn), None) is not None:
            _close(self.conn)


class _Local(threading.local):
    conn: sqlite3.Connection | None = None
    #: The fork generation the connection was opened in (see ``threadloom._forks``).
    generation: int = -1
    depth: int = 0
    #: Whether the outermost open block is a snapshot (writes refused).
    read_only: bool = False
    lease: _Lease | None = None


class ConnectionManager:
    """Hands each thread its own connection to one database file.

    A thread's connection is closed when the thread ends (or at :meth:`close`), so
    open descriptors stay bounded by the threads alive, not those that ever ran. A
    forked child opens its own connections and never uses, closes or finalizes the
    ones it inherited (see ``threadloom._forks``).

    Args:
        path: The database file.
        durability: ``normal`` or ``full``.
        busy_timeout: Seconds a statement waits for a lock before :class:`StoreBusy`.
        read_only: Open every connection read-only (``mode=ro``, ``query_only``, no
            WAL switch); :meth:`write` raises :class:`ReadOnlyStore`.
        on_open: Run on each new read-only connection before ``query_only`` is set
            (the backend's TEMP views of a database that needs schema steps).
    """

    def __init__(
        self,
        path: Path,
        *,
        durability: Durability,
        busy_timeout: float,
        read_only: bool = False,
        on_open: Callable[[sqlite3.Connection], object] | None = None,
    ) -> None:
        self.path = path
        self.durability = durability
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        self._on_open = on_open
        #: PRAGMA secure_delete for every connection opened from now (``None``: the
        #: build's default; see set_secure_delete).
        self.secure_delete: bool | None = None
        self._local = _Local()
        # Open connections by id. No lock guards it: single dict operations are
        # atomic, so a child forked while another thread registers a connection
        # finds it consistent (a lock held by that thread would stay held forever).
        self._handles: dict[int, sqlite3.Connection] = {}
        self._closed = False
        _forks.watch(self)

    def _forked(self) -> None:
        """In a forked child: the inherited connections are the parent's; keep off them."""
        _forks.abandon(*self._handles.values())
        self._handles = {}

    def _open(self) -> sqlite3.Connection:
        if self.read_only:
            return self._open_read_only()
        with _open_close_lock:
            conn = self._connect(self.path)
        try:
            with translate_errors("failed to configure the connection", self.path):
                conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute(
                    "PRAGMA synchronous = "
                    + ("FULL" if self.durability is Durability.FULL else "NORMAL")
                )
                # Read-only media cannot switch to WAL; the store then works in the
                # journal mode it has, so the answer is not checked.
                conn.execute("PRAGMA journal_mode = WAL").fetchone()
                if self.secure_delete is not None:
                    conn.execute(f"PRAGMA secure_delete = {int(self.secure_delete)}")
        except BaseException:
            _close(conn)
            raise
        return conn

    def _connect(self, target: Path | str, *, uri: bool = False) -> sqlite3.Connection:
        # Autocommit (we issue BEGIN ourselves); closable from any thread (close() runs
        # in the caller's); enough cached statements for every query the store runs.
        return sqlite3.connect(
            target,
            uri=uri,
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=256,
        )

    def _open_read_only(self) -> sqlite3.Connection:
        # mode=ro: SQLite neither creates the file nor writes it (no WAL switch, no
        # schema step); query_only refuses writes even where the file is writable.
        uri = Path(os.path.abspath(self.path)).as_uri() + "?mode=ro"
        with (
            translate_errors("failed to open the database read-only", self.path),
            _open_close_lock,
        ):
            conn = self._connect(uri, uri=True)
        try:
            with translate_errors("failed to configure the connection", self.path):
                conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
                if self._on_open is not None:
                    self._on_open(conn)
                conn.execute("PRAGMA query_only = ON")
        except BaseException:
            _close(conn)
            raise
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use (and anew in a forked child).

        Raises:
            ThreadloomError: The store was closed.
        """
        local = self._local
        conn = local.conn
        if conn is not None and local.generation == _forks.generation:
            return conn
        if self._closed:
            raise ThreadloomError(f"the store at {self.path} is closed")
        # After fork() the inherited connection and any block open on it belong to the
        # parent: the child starts afresh (the old lease does nothing in a child).
        conn = self._open()
        handles = self._handles
        handles[id(conn)] = conn
        local.lease = _Lease(conn, handles)
        local.conn = conn
        local.generation = _forks.generation
        local.depth = 0
        local.read_only = False
        return conn

    @contextmanager
    def write(self, what: str) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), or a savepoint inside one.

        Commits when the block succeeds; rolls back on any exception, including
        ``KeyboardInterrupt``.

        Raises:
            StoreBusy: The write lock could not be had within the busy timeout.
            ReadOnlyStore: The store was opened read-only.
            ReadOnlyError: The block is inside a snapshot (nothing is written).
        """
        if self.read_only:
            raise read_only_store(what, self.path)
        conn = self.connection()
        local = self._local
        with translate_errors(what, self.path):
            if local.depth == 0:
                conn.execute("BEGIN IMMEDIATE")
                local.depth = 1
                generation = local.generation
                try:
                    yield conn
                except BaseException:
                    if generation != _forks.generation:
                        raise
                    local.depth = 0
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                if generation != _forks.generation:
                    raise _forked_block(what)
                local.depth = 0
                try:
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            else:
                if local.read_only:
                    raise snapshot_refusal(what)
                name = f"tl_sp_{local.depth}"
                conn.execute(f"SAVEPOINT {name}")
                local.depth += 1
                generation = local.generation
                try:
                    yield conn
                except BaseException:
                    if generation != _forks.generation:
                        raise
                    local.depth -= 1
                    conn.execute(f"ROLLBACK TO {name}")
                    conn.execute(f"RELEASE {name}")
                    raise
                if generation != _forks.generation:
                    raise _forked_block(what)
                local.depth -= 1
                conn.execute(f"RELEASE {name}")

    @contextmanager
    def read(self, what: str) -> Iterator[sqlite3.Connection]:
        """A read snapshot over several statements (inside a write, the write's view).

        Writes through :meth:`write` inside the block raise :class:`ReadOnlyError`.
        The snapshot ends with a rollback, whether the block succeeds or raises.

        Raises:
            StoreBusy: The database stayed locked past the busy timeout.
        """
        conn = self.connection()
        local = self._local
        with translate_errors(what, self.path):
            if local.depth > 0:
                # Inside a transaction: its own view, read-only for the block's length.
                was_read_only = local.read_only
                local.read_only = True
                try:
                    yield conn
                finally:
                    local.read_only = was_read_only
                return
            conn.execute("BEGIN")
            local.depth = 1
            local.read_only = True
            generation = local.generation
            try:
                yield conn
            finally:
                if generation == _forks.generation:
                    local.depth = 0
                    local.read_only = False
                    # Nothing in a snapshot is to be kept: end it without committing.
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")

    def check_writable(self, what: str) -> None:
        """Raise :class:`ReadOnlyError` if this thread is inside a snapshot.

        For writes that do not go through :meth:`write` (the session-index file).
        """
        if self.read_only:
            raise read_only_store(what, self.path)
        local = self._local
        if local.read_only and local.generation == _forks.generation:
            raise snapshot_refusal(what)

    @property
    def in_transaction(self) -> bool:
        """Whether this thread is inside :meth:`write` or :meth:`read`."""
        return self._local.depth > 0 and self._local.generation == _forks.generation

    def close(self) -> None:
        """Close every connection this process opened. Later calls raise."""
        self._closed = True
        handles = self._handles
        for key in list(handles):
            conn = handles.pop(key, None)
            if conn is not None:
                _close(conn)
        self._local = _Local()
