"""A real PgBouncer for the tests: our own process, on a free 127.0.0.1 port, in a temp dir.

``Bouncer`` starts ``pgbouncer`` (transaction or session pooling) in front of the test
server (``tests.support.pg.DSN``). Each test gets a login role and an empty schema of
the role's name, which the default ``search_path`` (``"$user", public``) finds: PgBouncer
1.18 refuses the ``options`` startup parameter the direct tests use, and a ``SET`` from
a client would leak to whichever client gets that server connection next. PgBouncer
pools per role and finds roles through ``auth_query``, so its config never changes;
roles are reused test after test (with a new schema each time), so their pools and
server connections are too, and are dropped when PgBouncer stops.

``BACKENDS`` adds ``pgbouncer-transaction`` and ``pgbouncer-session`` to the contract
suite (``tests/conftest.py``). Without ``pgbouncer`` on the PATH (or ``/usr/sbin``) the
tests skip, unless ``THREADLOOM_REQUIRE_PGBOUNCER=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from threadloom import StateStore

from . import pg, require

__all__ = [
    "BACKENDS",
    "Bouncer",
    "bouncer",
    "free_port",
    "pgbouncer_binary",
    "run_as_args",
    "stop_all",
]

StoreFactory = Callable[..., StateStore]


def pgbouncer_binary() -> str:
    """The ``pgbouncer`` executable (skips, or fails under the CI switch, without it)."""
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/bin")
    if found is None:
        require.skip_unless_required(
            require.PGBOUNCER, "pgbouncer is not installed (apt-get install pgbouncer)"
        )
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_as_args() -> tuple[list[str], Callable[[Path], None]]:
    """How to start a server that refuses root: ``-u postgres`` as root, nothing else.

    Returns the extra arguments and a function that hands a directory to that user.
    """
    if os.geteuid() != 0:
        return [], lambda _path: None
    import pwd

    user = pwd.getpwnam("postgres")

    def give(path: Path) -> None:
        os.chown(path, user.pw_uid, user.pw_gid)
        for child in path.rglob("*"):
            os.chown(child, user.pw_uid, user.pw_gid)

    return ["-u", "postgres"], give


class Bouncer:
    """One PgBouncer process in ``pool_mode`` in front of the test server."""

    def __init__(self, pool_mode: str, *, pool_size: int = 8) -> None:
        import psycopg
        from psycopg import conninfo

        binary = pgbouncer_binary()
        pg.require_postgres()
        self.pool_mode = pool_mode
        self._roles: list[str] = []
        self._free: list[str] = []
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"tl-pgbouncer-{pool_mode}-"))
        server = conninfo.conninfo_to_dict(pg.DSN)
        self._server = (
            f"host={server.get('host', '127.0.0.1')} port={server.get('port', 5432)} "
            f"dbname={server.get('dbname', 'test')}"
        )
        extra, give = run_as_args()
        self.ini = self.dir / "pgbouncer.ini"
        self._settings = (
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            f"unix_socket_dir = {self.dir}\n"
            # Any role of the server, no password (the test server trusts 127.0.0.1):
            # PgBouncer looks the role up through auth_query as postgres.
            "auth_type = trust\n"
            f"auth_file = {self.dir}/users.txt\n"
            "auth_user = postgres\n"
            "admin_users = postgres\n"
            f"pool_mode = {pool_mode}\n"
            f"default_pool_size = {pool_size}\n"
            "max_client_conn = 500\n"
            "max_db_connections = 16\n"
            "server_idle_timeout = 10\n"
            "server_check_delay = 0\n"
            f"logfile = {self.dir}/pgbouncer.log\n"
            f"pidfile = {self.dir}/pgbouncer.pid\n"
            # psycopg sends none of these by default; an application may.
            "ignore_startup_parameters = extra_float_digits\n"
        )
        (self.dir / "users.txt").write_text('"postgres" ""\n', encoding="utf-8")
        self._write()
        give(self.dir)
        # Its log goes to the logfile; stderr (a copy of it) to nowhere: a pipe nobody
        # reads would fill up and stop PgBouncer mid-run.
        self.proc = subprocess.Popen(
            [binary, *extra, "-q", str(self.ini)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                psycopg.connect(self.dsn("test"), connect_timeout=2).close()
                break
            except psycopg.Error:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(f"pgbouncer did not start: {self.log()}") from None
                time.sleep(0.05)

    def _write(self) -> None:
        self.ini.write_text(f"[databases]\ntest = {self._server}\n\n{self._settings}", "utf-8")

    def log(self) -> str:
        """The tail of PgBouncer's log (for failure messages)."""
        try:
            return (self.dir / "pgbouncer.log").read_text(encoding="utf-8")[-2000:]
        except OSError:
            return "(no log)"

    def dsn(self, database: str, *, user: str = "postgres", **params: str) -> str:
        """A DSN to ``database`` through this PgBouncer."""
        extra = "".join(f"&{k}={v}" for k, v in params.items())
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}?connect_timeout=5{extra}"

    def admin(self, command: str) -> None:
        """Run a command on PgBouncer's admin console."""
        import psycopg

        with psycopg.connect(self.dsn("pgbouncer"), autocommit=True) as conn:
            conn.execute(command)

    def fresh_schema(self) -> str:
        """A login role with an empty schema of its own name; a DSN as that role.

        The schema is found through the default ``search_path`` (``"$user", public``).
        Roles are reused (:meth:`release`), so PgBouncer's pool for a role, and its
        server connections, serve one test after another.
        """
        import psycopg

        role = self._free.pop() if self._free else f"tl_pgb{self.port}_{len(self._roles)}"
        with pg.admin_connection() as conn:
            if role not in self._roles:
                # Superuser: the maintenance tests plant broken rows with
                # session_replication_role, as on a direct connection.
                with contextlib.suppress(psycopg.errors.DuplicateObject):
                    conn.execute(f"CREATE ROLE {role} LOGIN SUPERUSER")
                self._roles.append(role)
            conn.execute(f"DROP SCHEMA IF EXISTS {role} CASCADE")
            conn.execute(f"CREATE SCHEMA {role} AUTHORIZATION {role}")
        return role

    def release(self, role: str) -> None:
        """Drop the role's schema; the role serves the next test."""
        with pg.admin_connection() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {role} CASCADE")
        self._free.append(role)

    def close(self) -> None:
        """Stop PgBouncer and remove its directory."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        with contextlib.suppress(Exception), pg.admin_connection() as conn:
            for role in self._roles:
                conn.execute(f"DROP SCHEMA IF EXISTS {role} CASCADE")
                conn.execute(f"DROP ROLE IF EXISTS {role}")
        self._roles.clear()


_running: dict[str, Bouncer] = {}


def bouncer(pool_mode: str) -> Bouncer:
    """The test session's PgBouncer in ``pool_mode`` (started on first use).

    ``tests/conftest.py`` stops them at the end of the session.
    """
    if pool_mode not in _running:
        _running[pool_mode] = Bouncer(pool_mode)
    return _running[pool_mode]


def stop_all() -> None:
    """Stop every PgBouncer this session started."""
    while _running:
        _running.popitem()[1].close()


def _factory(pool_mode: str) -> Callable[[Path], Iterator[StoreFactory]]:
    def backend(tmp_path: Path) -> Iterator[StoreFactory]:
        the_bouncer = bouncer(pool_mode)
        roles: list[str] = []
        opened: list[StateStore] = []

        def make(**options: Any) -> StateStore:
            role = the_bouncer.fresh_schema()
            roles.append(role)
            options.setdefault("pool_size", 4)
            store = StateStore.open(the_bouncer.dsn("test", user=role), **options)
            opened.append(store)
            return store

        try:
            yield make
        finally:
            for store in opened:
                with contextlib.suppress(Exception):
                    store.close()
            for role in roles:
                the_bouncer.release(role)

    return backend


#: Backends for the contract suite (merged into ``tests.conftest.BACKENDS``).
BACKENDS: dict[str, Callable[[Path], Iterator[StoreFactory]]] = {
    "pgbouncer-transaction": _factory("transaction"),
    "pgbouncer-session": _factory("session"),
}
