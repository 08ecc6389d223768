"""PostgreSQL connections: from a DSN (an owned pool), a caller's pool, or one connection.

Three ways in, one way of running statements:

- a DSN: threadloom opens and owns a ``psycopg_pool.ConnectionPool`` (autocommit
  connections, ``lock_timeout`` from ``busy_timeout``, ``prepare_threshold`` as given);
- a caller's ``ConnectionPool``: connections are borrowed per call and returned;
- a caller's ``psycopg.Connection``: calls from different threads take turns on it.

A call outside :meth:`PgConnections.write`/``read`` borrows a connection for one
statement. Inside a block the thread keeps its connection (thread-local, never behind
a Python lock in pool mode, so a thread waiting for a pool checkout blocks nobody
else), and nested blocks become savepoints.

A lost connection (server restart, ``pg_terminate_backend``) fails the call in flight
with a :class:`~threadloom.errors.ThreadloomError` saying so; its transaction is gone
with the session, so nothing is half-written. The pool then drops its dead
connections and a single connection is reopened, so the next call works.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg.errors as pg_errors
from psycopg import conninfo as pg_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from ... import _forks
from ...errors import (
    Conflict,
    InvalidRecord,
    NotFound,
    ReadOnlyError,
    StoreBusy,
    ThreadloomError,
)
from ..common.transactions import read_only_store, snapshot_refusal
from ..opening import redact_text

__all__ = ["PgConnections", "redact_dsn", "translate_errors"]


# For DSNs libpq refuses to parse (an unknown parameter): the password goes by text.
def redact_dsn(dsn: str) -> str:
    """``dsn`` without its password (for messages and ``location``)."""
    try:
        params = pg_conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return redact_text(dsn)
    params.pop("password", None)
    return pg_conninfo.make_conninfo("", **params)


def _one_line(exc: BaseException) -> str:
    """A driver message (libpq's span lines and indented hints) as one line."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _refused_by_server(what: str, exc: BaseException) -> ReadOnlyError:
    return ReadOnlyError(
        f"{what}: the transaction is read-only (a snapshot, or a store opened read-only); "
        f"nothing was written ({str(exc).strip()})"
    )


def _lost(what: str, exc: BaseException) -> ThreadloomError:
    return ThreadloomError(
        f"{what}: the connection to PostgreSQL was lost ({str(exc).strip()}); the "
        "transaction was rolled back by the server (a write interrupted while committing "
        "may or may not have been applied); the next call reconnects"
    )


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Turn psycopg errors raised inside the block into threadloom errors.

    Raises:
        StoreBusy: A lock wait ran past ``lock_timeout``, a deadlock or serialization
            failure was detected, or no pooled connection was free in time.
        NotFound: A row referenced a thread or run that does not exist (a concurrent
            delete won the race).
        Conflict: Another constraint failed.
        InvalidRecord: A string cannot be stored as UTF-8 or an integer does not fit.
        ReadOnlyError: A write reached a read-only transaction (a snapshot's, or any
            transaction of a store opened read-only: then a :class:`ReadOnlyStore`).
        ThreadloomError: The connection was lost, or any other driver error.
    """
    try:
        yield
    except ThreadloomError:
        raise
    except (
        pg_errors.LockNotAvailable,
        pg_errors.DeadlockDetected,
        pg_errors.SerializationFailure,
    ) as exc:
        raise StoreBusy(f"{what}: {str(exc).strip()} (another writer held the lock)") from exc
    except PoolTimeout as exc:
        raise StoreBusy(f"{what}: no pooled connection became free in time ({exc})") from exc
    except pg_errors.ReadOnlySqlTransaction as exc:
        # A statement that did not say it writes: the server refused it, in a snapshot
        # or in a store opened read-only (whose writes are refused before this).
        raise _refused_by_server(what, exc) from exc
    except pg_errors.ForeignKeyViolation as exc:
        raise NotFound(f"{what}: {str(exc).strip()}") from exc
    except psycopg.IntegrityError as exc:
        raise Conflict(f"{what}: {str(exc).strip()}") from exc
    except (pg_errors.NumericValueOutOfRange, pg_errors.UntranslatableCharacter) as exc:
        raise InvalidRecord(f"{what}: {str(exc).strip()}") from exc
    except psycopg.OperationalError as exc:
        raise _lost(what, exc) from exc
    except psycopg.InterfaceError as exc:
        # A connection closed under us (by the server, or by close() elsewhere).
        raise _lost(what, exc) from exc
    except psycopg.Error as exc:
        raise ThreadloomError(f"{what}: {str(exc).strip()}") from exc
    except UnicodeEncodeError as exc:
        raise InvalidRecord(
            f"{what}: text cannot be stored as UTF-8 (it holds a lone surrogate)"
        ) from exc


class _Local(threading.local):
    conn: psycopg.Connection[Any] | None = None
    depth: int = 0
    #: Whether the outermost open block is a snapshot (writes refused).
    read_only: bool = False

    def __init__(self) -> None:
        # One list per open write block: what to redo if that block rolls back.
        self.hooks: list[list[Callable[[], None]]] = []


class PgConnections:
    """Hands out connections for calls and transactions.

    After ``fork()`` the child never uses, closes or finalizes what it inherited (see
    ``threadloom._forks``, as for SQLite): an owned pool is replaced by a new one, a
    caller's connection by one threadloom opens with the same parameters. A caller's
    pool cannot be rebuilt that way, so in a child a store on one refuses calls.

    Args:
        target: A DSN, a ``psycopg.Connection`` or a ``psycopg_pool.ConnectionPool``.
        pool_size: Most connections an owned pool opens.
        pool_min_size: Connections an owned pool keeps open.
        pool_timeout: Seconds to wait for a free pooled connection before
            :class:`StoreBusy`.
        connect_timeout: Seconds to wait for the server when connecting.
        prepare_threshold: psycopg's ``prepare_threshold`` for connections threadloom
            opens (``None`` disables server-side prepared statements, as PgBouncer in
            transaction mode needs).
        lock_timeout: Seconds a statement waits for a row lock (``busy_timeout``).
        synchronous_commit: Force ``synchronous_commit=on`` on connections we open.
        read_only: Run every call and block in a ``READ ONLY`` transaction, so the
            server refuses any write.

    Raises:
        ThreadloomError: ``target`` is none of the three, or the server cannot be
            reached (one line naming the cause and the DSN without its password).
    """

    def __init__(
        self,
        target: Any,
        *,
        pool_size: int = 10,
        pool_min_size: int = 1,
        pool_timeout: float = 30.0,
        connect_timeout: float = 5.0,
        prepare_threshold: int | None = 5,
        lock_timeout: float = 5.0,
        synchronous_commit: bool = False,
        read_only: bool = False,
    ) -> None:
        self.read_only = read_only
        self._local = _Local()
        self._closed = False
        self._prepare_threshold = prepare_threshold
        self._lock_timeout_ms = int(lock_timeout * 1000)
        self._synchronous_commit = synchronous_commit
        self._connect_timeout = connect_timeout
        self._pool: ConnectionPool[Any] | None = None
        self._owns_pool = False
        #: A caller's pool inherited across fork(): unusable in this process.
        self._pool_inherited = False
        self._single: psycopg.Connection[Any] | None = None
        self._given: psycopg.Connection[Any] | None = None
        self._single_mode = False
        self._single_lock = threading.RLock()
        self._reopen_lock = threading.Lock()
        self._reopen_conninfo: str | None = None
        self._pool_args: dict[str, Any] = {}
        if isinstance(target, str):
            self.location = redact_dsn(target)
            self._pool_args = {
                "conninfo": target,
                "min_size": min(pool_min_size, pool_size),
                "max_size": pool_size,
                "timeout": pool_timeout,
            }
            self._pool = self._new_pool()
            self._owns_pool = True
        elif isinstance(target, ConnectionPool):
            self._pool = target
            conninfo = target.conninfo
            self.location = redact_dsn(conninfo if isinstance(conninfo, str) else conninfo())
        elif isinstance(target, psycopg.Connection):
            if target.closed:
                raise ThreadloomError("the psycopg connection given to threadloom is closed")
            self._single = self._given = target
            self._single_mode = True
            self.location = target.info.dsn
            # Kept (password included) so a lost connection can be reopened alike.
            self._reopen_conninfo = pg_conninfo.make_conninfo(
                "",
                **{
                    opt.keyword.decode(): opt.val.decode()
                    for opt in target.pgconn.info
                    if opt.val is not None
                },
            )
        else:
            raise ThreadloomError(
                "a PostgreSQL store opens on a postgresql:// DSN, a psycopg Connection or a "
                f"psycopg_pool ConnectionPool, not {type(target).__name__}"
            )
        #: How many calls can hold a connection at once.
        self.max_concurrency = (
            1 if self._pool is None else max(1, int(getattr(self._pool, "max_size", 1)))
        )
        #: A caller's pool or connection is not configured by us: a read-only store
        #: wraps each single read in a READ ONLY transaction there.
        self._wrap_reads = read_only and not self._owns_pool
        _forks.watch(self)

    def _forked(self) -> None:
        """In a forked child: the parent's pool and sockets are its own; keep off them.

        Runs before any other code of the child, so no lock here is held by anyone:
        they are replaced, as is every thread's block state (a block open at the fork
        is the parent's transaction).
        """
        self._local = _Local()
        self._single_lock = threading.RLock()
        self._reopen_lock = threading.Lock()
        if self._pool is not None:
            if self._owns_pool:
                _forks.abandon(self._pool)  # _pool_here() opens the child's own
            else:
                self._pool_inherited = True
            self._pool = None
        if self._single is not None:
            if self._single is not self._given:
                _forks.abandon(self._single)
            self._single = None  # _single_here() connects the child's own

    # -- opening -------------------------------------------------------------------

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        """Settings for every connection threadloom opens itself."""
        conn.execute(f"SET lock_timeout = {self._lock_timeout_ms}")
        if self._synchronous_commit:
            conn.execute("SET synchronous_commit = on")
        if self.read_only:
            # The server refuses writes on the whole session: single reads need no
            # READ ONLY transaction of their own (four round trips instead of one).
            conn.execute("SET default_transaction_read_only = on")

    def _connect_seconds(self) -> int:
        # libpq counts whole seconds (and waits at least 2).
        return max(1, round(self._connect_timeout))

    def _new_pool(self) -> ConnectionPool[Any]:
        args = self._pool_args
        try:
            # One direct attempt first: a refused connection, a missing database, a
            # wrong password or a bad DSN parameter then fails at once with libpq's
            # reason. The pool would retry in the background until the timeout and
            # log a multi-line warning per attempt.
            psycopg.Connection.connect(
                args["conninfo"], autocommit=True, connect_timeout=self._connect_seconds()
            ).close()
        except psycopg.Error as exc:
            raise ThreadloomError(
                f"cannot connect to PostgreSQL at {self.location}: {_one_line(exc)}"
            ) from exc
        pool: ConnectionPool[Any] = ConnectionPool(
            args["conninfo"],
            min_size=args["min_size"],
            max_size=args["max_size"],
            timeout=args["timeout"],
            kwargs={
                "autocommit": True,
                "prepare_threshold": self._prepare_threshold,
                "connect_timeout": self._connect_seconds(),
            },
            configure=self._configure,
            name="threadloom",
            open=False,
        )
        try:
            pool.open(wait=True, timeout=max(self._connect_timeout, 1.0))
        except PoolTimeout as exc:
            pool.close()
            raise ThreadloomError(
                f"cannot connect to PostgreSQL at {self.location} within "
                f"{self._connect_timeout} s: {_one_line(exc)}"
            ) from exc
        return pool

    def _pool_here(self) -> ConnectionPool[Any]:
        pool = self._pool
        if pool is not None:
            return pool
        if self._pool_inherited:
            raise ThreadloomError(
                f"the store at {self.location} runs on a caller's ConnectionPool created "
                "before fork(): its connections belong to the parent process; open the "
                "store in the child on a pool or DSN of its own"
            )
        with self._reopen_lock:
            if self._pool is None:
                self._pool = self._new_pool()
            return self._pool

    def _single_here(self) -> psycopg.Connection[Any]:
        conn = self._single
        if conn is None or conn.closed or conn.broken:
            assert self._reopen_conninfo is not None
            try:
                conn = psycopg.Connection.connect(
                    self._reopen_conninfo,
                    autocommit=True if conn is None else conn.autocommit,
                    prepare_threshold=self._prepare_threshold
                    if conn is None
                    else conn.prepare_threshold,
                    connect_timeout=self._connect_seconds(),
                )
            except psycopg.Error as exc:
                raise ThreadloomError(
                    f"cannot reconnect to PostgreSQL at {self.location}: {_one_line(exc)}"
                ) from exc
            self._configure(conn)
            self._single = conn
        return conn

    # -- using ---------------------------------------------------------------------

    @property
    def single_connection(self) -> bool:
        """Whether calls share one connection (a caller's ``psycopg.Connection``)."""
        return self._single_mode

    @contextmanager
    def _checkout(self) -> Iterator[psycopg.Connection[Any]]:
        """This thread's connection: the open block's, or one for this call."""
        local = self._local
        if local.conn is not None:
            yield local.conn
            return
        if self._closed:
            raise ThreadloomError(f"the store at {self.location} is closed")
        if not self._single_mode:
            pool = self._pool_here()
            # pool.connection() returns a broken connection to the pool, which drops it.
            with pool.connection() as conn:
                try:
                    yield conn
                except psycopg.OperationalError:
                    # The server may have dropped every idle connection (a restart):
                    # have the pool test them now rather than fail the next calls.
                    with contextlib.suppress(Exception):
                        pool.check()
                    raise
            return
        with self._single_lock:
            yield self._single_here()

    def check_writable(self, what: str) -> None:
        """Refuse a write: in a read-only store, or inside a snapshot (nothing is sent)."""
        if self.read_only:
            raise read_only_store(what, self.location)
        if self._local.read_only:
            raise snapshot_refusal(what)

    @contextmanager
    def call(self, what: str, *, writes: bool = False) -> Iterator[psycopg.Connection[Any]]:
        """A connection for one atomic statement (autocommit, or inside the open block).

        Args:
            what: What the call does, for error messages.
            writes: The statement writes: refused inside a snapshot.

        Raises:
            ReadOnlyError: ``writes`` inside a snapshot (nothing is sent).
            ThreadloomError: As :func:`translate_errors`.
        """
        if writes:
            self.check_writable(what)
        with translate_errors(what), self._checkout() as conn:
            if (conn.autocommit and not self._wrap_reads) or self._local.depth:
                yield conn
            else:
                with conn.transaction():
                    if self._wrap_reads:
                        conn.execute("SET TRANSACTION READ ONLY")
                    yield conn

    @contextmanager
    def write(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """A transaction (a savepoint when nested); commits on success, else rolls back.

        Raises:
            ReadOnlyError: The block is inside a snapshot (nothing is sent).
            ThreadloomError: As :func:`translate_errors`.
        """
        self.check_writable(what)
        with self._block(what) as conn:
            yield conn

    @contextmanager
    def _block(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """A transaction or savepoint, for :meth:`write` and :meth:`read` alike."""
        local = self._local
        hooks: list[Callable[[], None]] = []
        local.hooks.append(hooks)
        try:
            with translate_errors(what), self._checkout() as conn:
                outer = local.depth == 0
                if outer:
                    local.conn = conn
                local.depth += 1
                try:
                    with conn.transaction():
                        yield conn
                finally:
                    local.depth -= 1
                    if outer:
                        local.conn = None
        except BaseException:
            local.hooks.pop()
            # After the rollback (and, for the outermost block, after the connection
            # went back to the pool, so a redo never waits for a second checkout).
            for hook in hooks:
                with contextlib.suppress(Exception):
                    hook()
            raise
        done = local.hooks.pop()
        if local.hooks:  # committed into the enclosing block: its rollback undoes these too
            local.hooks[-1].extend(done)

    def on_rollback(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` if the innermost open write block rolls back (no-op outside one).

        The session index uses it to re-append entries a rollback removed: entries are a
        log of names that a rolled-back ``transaction()`` does not undo, as on SQLite.
        """
        if self._local.hooks:
            self._local.hooks[-1].append(hook)

    @contextmanager
    def read(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """A repeatable-read, read-only snapshot (inside a write: the write's own view).

        Writes inside the block raise :class:`ReadOnlyError` before anything is sent;
        the transaction rolls back if the block raises.

        Raises:
            ThreadloomError: As :func:`translate_errors`.
        """
        local = self._local
        if local.depth:
            # Inside a transaction: its own view, read-only for the block's length.
            was_read_only = local.read_only
            local.read_only = True
            try:
                with translate_errors(what):
                    yield local.conn  # type: ignore[misc]
            finally:
                local.read_only = was_read_only
            return
        with self._block(what) as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            local.read_only = True
            try:
                yield conn
            finally:
                local.read_only = False

    @contextmanager
    def session(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """A connection held for several transactions (migrations), outside any block.

        Raises:
            ThreadloomError: As :func:`translate_errors`.
        """
        with translate_errors(what), self._checkout() as conn:
            yield conn

    @property
    def in_transaction(self) -> bool:
        """Whether this thread is inside :meth:`write` or :meth:`read`."""
        return self._local.depth > 0

    def close(self) -> None:
        """Close what threadloom opened in this process (an owned pool, a reopened
        connection); what a forked child inherited stays untouched."""
        self._closed = True
        if self._owns_pool and self._pool is not None:
            self._pool.close()
        with self._single_lock:
            # A connection threadloom reopened is ours to close; the caller's is not.
            single = self._single
            if single is not None and single is not self._given:
                with contextlib.suppress(psycopg.Error):
                    single.close()
