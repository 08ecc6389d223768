"""PostgreSQL clusters of the tests' own: a primary and a streaming replica on free ports.

Built with ``initdb`` and ``pg_basebackup -R`` in a temp dir, run as ``postgres`` when
the tests run as root (the server refuses root), and removed afterwards. The test
server on 5432 is never touched. Settings favour speed (``fsync=off``: stopping a
server with ``-m immediate`` loses nothing the OS already has), small memory, and
``synchronous_standby_names='*'`` when asked for synchronous replication.

``BACKENDS`` adds ``postgres-replica`` to the contract suite: the store on the
primary with ``read_dsn`` on the replica of one session-wide asynchronous pair.

Without the server binaries the tests skip, unless ``THREADLOOM_REQUIRE_REPLICATION=1``
(CI) makes that a failure.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from threadloom import StateStore

from . import require
from .pgbouncer import free_port

__all__ = ["BACKENDS", "Pair", "bin_dir", "replica_pair", "schema_dsn", "stop_all"]

StoreFactory = Callable[..., StateStore]


def bin_dir() -> Path:
    """The directory of ``initdb``/``pg_ctl``/``pg_basebackup`` (skips without them)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_basebackup"))
    on_path = shutil.which("pg_basebackup")
    if found:
        return Path(found[-1]).parent
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    require.skip_unless_required(
        require.REPLICATION, "PostgreSQL's server binaries (initdb, pg_basebackup) are missing"
    )


def _as_server_user(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


class Pair:
    """A primary and one streaming replica (``synchronous``: commits wait for it)."""

    def __init__(self, *, synchronous: bool) -> None:
        self.bin = bin_dir()
        self.dir = Path(tempfile.mkdtemp(prefix="tl-cluster-"))
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.primary_port = free_port()
        self.replica_port = free_port()
        self.primary_dir = self.dir / "primary"
        self.replica_dir = self.dir / "replica"
        self._started: list[Path] = []
        try:
            self._run("initdb", "-D", str(self.primary_dir), "-U", "postgres", "-A", "trust")
            settings = [
                f"port = {self.primary_port}",
                "listen_addresses = '127.0.0.1'",
                f"unix_socket_directories = '{self.dir}'",
                "fsync = off",
                "full_page_writes = off",
                "shared_buffers = 16MB",
                "max_connections = 40",
                "wal_level = replica",
                "max_wal_senders = 4",
                "hot_standby = on",
                "hot_standby_feedback = on",
                "wal_receiver_status_interval = 1s",
            ]
            if synchronous:
                settings.append("synchronous_standby_names = '*'")
            with (self.primary_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
                conf.write("\n".join(settings) + "\n")
            self._start(self.primary_dir)
            self._run(
                "pg_basebackup",
                *("-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres"),
                *("-D", str(self.replica_dir), "-R", "-X", "stream", "-c", "fast"),
            )
            with (self.replica_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
                # Promoted, it has no standby of its own: a synchronous_standby_names
                # copied from the primary would make every commit wait forever.
                conf.write(f"port = {self.replica_port}\nsynchronous_standby_names = ''\n")
            self._start(self.replica_dir)
            self.wait_streaming()
        except BaseException:
            self.close()
            raise

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            _as_server_user([str(self.bin / tool), *args]),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )

    def _start(self, data: Path) -> None:
        self._run("pg_ctl", "-D", str(data), "-l", str(data / "server.log"), "-w", "start")
        self._started.append(data)

    def dsn(self, port: int, **params: str) -> str:
        """A DSN to database ``postgres`` on ``port``."""
        extra = "".join(f"&{k}={v}" for k, v in params.items())
        return f"postgresql://postgres@127.0.0.1:{port}/postgres?connect_timeout=3{extra}"

    @property
    def primary(self) -> str:
        """The primary's DSN."""
        return self.dsn(self.primary_port)

    @property
    def replica(self) -> str:
        """The replica's DSN."""
        return self.dsn(self.replica_port)

    def both(self) -> str:
        """A multi-host DSN that finds whichever of the two accepts writes."""
        return (
            f"postgresql://postgres@127.0.0.1:{self.primary_port},127.0.0.1:{self.replica_port}"
            "/postgres?connect_timeout=3&target_session_attrs=read-write"
        )

    def wait_streaming(self) -> None:
        """Wait until the primary has a streaming standby (sync or async)."""
        import time

        import psycopg

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with psycopg.connect(self.primary, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
                ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.1)
        raise RuntimeError("the replica did not start streaming")

    def stop_primary(self) -> None:
        """Stop the primary at once (``-m immediate``: as if it crashed)."""
        self._run("pg_ctl", "-D", str(self.primary_dir), "-m", "immediate", "-w", "stop")
        self._started.remove(self.primary_dir)

    def promote(self) -> None:
        """Promote the replica to primary (waits until it accepts writes)."""
        self._run("pg_ctl", "-D", str(self.replica_dir), "-w", "promote")

    def close(self) -> None:
        """Stop both servers and remove the directory."""
        for data in reversed(self._started):
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        self._started.clear()
        shutil.rmtree(self.dir, ignore_errors=True)


_pairs: dict[str, Pair] = {}


def replica_pair() -> Pair:
    """The test session's asynchronous primary+replica (started on first use)."""
    if "async" not in _pairs:
        _pairs["async"] = Pair(synchronous=False)
    return _pairs["async"]


def stop_all() -> None:
    """Stop every cluster this session started."""
    while _pairs:
        _pairs.popitem()[1].close()


def schema_dsn(dsn: str, schema: str) -> str:
    """``dsn`` with ``search_path`` set to ``schema``."""
    return f"{dsn}&options=-csearch_path%3D{schema}"


def _replica_backend(tmp_path: Path) -> Iterator[StoreFactory]:
    import psycopg

    pair = replica_pair()
    schemas: list[str] = []
    opened: list[StateStore] = []

    def make(**options: Any) -> StateStore:
        schema = f"test_{uuid.uuid4().hex}"
        with psycopg.connect(pair.primary, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        schemas.append(schema)
        options.setdefault("pool_size", 4)
        store = StateStore.open(
            schema_dsn(pair.primary, schema),
            read_dsn=schema_dsn(pair.replica, schema),
            **options,
        )
        opened.append(store)
        return store

    try:
        yield make
    finally:
        for store in opened:
            with contextlib.suppress(Exception):
                store.close()
        with psycopg.connect(pair.primary, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


#: The contract suite with reads on a streaming replica (``tests/conftest.py``).
BACKENDS: dict[str, Callable[[Path], Iterator[StoreFactory]]] = {
    "postgres-replica": _replica_backend,
}
