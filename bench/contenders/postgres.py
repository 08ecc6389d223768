"""threadloom on PostgreSQL: the same workloads through the same API, on a server.

Each run gets the workload's SQLite fixture copied into a fresh schema with
:func:`threadloom.transfer.copy_store` (untimed). Fixtures that no workload changes
(``read_branch``, ``list_threads``, ``name_lookup``, ``resume``) are copied once per
run of the suite and reused. ``concurrent@1/2/4/8`` runs that many writer processes,
each with its own pool, appending to its own thread.

The server is ``THREADLOOM_BENCH_PG_DSN`` (else ``THREADLOOM_PG_DSN``, else
``postgresql://postgres@127.0.0.1:5432/test``); without psycopg or a server there is no
PostgreSQL column.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from threadloom import StateStore
from threadloom.transfer import copy_store

from ..concurrency import run_writers
from ..workloads import BASE_TIME, CONTENT, Fixtures, Sample, Workload, message_item
from .library import ThreadloomContender, fixture_for

__all__ = ["PostgresContender", "available_postgres"]

DSN = os.environ.get(
    "THREADLOOM_BENCH_PG_DSN",
    os.environ.get("THREADLOOM_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
)
_READ_ONLY = {"read_branch", "list_threads", "name_lookup", "resume"}


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(DSN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)


def _schema_dsn(schema: str) -> str:
    sep = "&" if "?" in DSN else "?"
    return f"{DSN}{sep}options=-csearch_path%3D{schema}"


class PostgresContender:
    """threadloom on PostgreSQL through a pool it owns (``StateStore.open(dsn)``)."""

    durability = "normal"

    def __init__(self, pool_size: int = 4) -> None:
        self.name = "threadloom postgres"
        self._pool_size = pool_size
        self._cached: dict[tuple[str, int], str] = {}
        self._schemas: list[str] = []
        atexit.register(self.drop_all)

    def supports(self, workload: Workload) -> bool:
        # The database-size points would copy up to a million messages into a schema
        # per repetition; they are about the SQLite curve.
        return workload.group != "scale"

    def _new_schema(self, sqlite_db: Path) -> str:
        schema = f"bench_{uuid.uuid4().hex[:16]}"
        _admin(f"CREATE SCHEMA {schema}")
        self._schemas.append(schema)
        with StateStore.open(sqlite_db) as src, StateStore.open(_schema_dsn(schema)) as dst:
            copy_store(src, dst, batch_size=2000)
        return schema

    def _drop(self, schema: str) -> None:
        with contextlib.suppress(Exception):
            _admin(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        if schema in self._schemas:
            self._schemas.remove(schema)

    def drop_all(self) -> None:
        """Drop every schema this contender made (also at exit)."""
        for schema in list(self._schemas):
            self._drop(schema)
        self._cached.clear()

    def run(self, workload: Workload, fixtures: Fixtures, workdir: Path) -> Sample:
        key = (workload.family, workload.size)
        reuse = workload.family in _READ_ONLY
        if reuse and key in self._cached:
            schema = self._cached[key]
        else:
            schema = self._new_schema(fixture_for(workload, fixtures, workdir))
            if reuse:
                self._cached[key] = schema
        dsn = _schema_dsn(schema)
        try:
            if workload.family == "concurrent":
                return run_writers(_open_writer(dsn), Path(dsn), workload.size, workload.ops)
            if workload.family == "pg_threads":
                return _thread_writers(dsn, workload.size, workload.ops)
            store = StateStore.open(dsn, pool_size=self._pool_size, clock=lambda: BASE_TIME)
            try:
                return ThreadloomContender._run(store, workload)
            finally:
                store.close()
        finally:
            if not reuse:
                self._drop(schema)


def _open_writer(dsn: str) -> Any:
    def open_writer(_db: Path, thread_id: str) -> tuple[object, object]:
        store = StateStore.open(dsn, pool_size=1)

        def append(i: int) -> object:
            return store.append_message(thread_id, "user", CONTENT, message_item(i))

        return append, store.close

    return open_writer


def _thread_writers(dsn: str, writers: int, per_writer: int) -> Sample:
    """``writers`` threads of one process append to threads ``t0..`` through one store
    (a pool of ``writers`` connections); cost is 1 / total throughput, as ``concurrent``."""
    store = StateStore.open(dsn, pool_size=writers, pool_min_size=writers)
    barrier = threading.Barrier(writers)
    spans: list[tuple[float, float]] = []
    failures: list[str] = []
    done: list[int] = []

    def writer(w: int) -> None:
        thread_id = f"t{w}"
        store.append_message(thread_id, "user", CONTENT, message_item(0))  # warm the pool
        barrier.wait()
        start = time.perf_counter()
        ok = 0
        for i in range(per_writer):
            try:
                store.append_message(thread_id, "user", CONTENT, message_item(i))
                ok += 1
            except Exception as exc:  # counted, not fatal: the report shows errors
                failures.append(f"{type(exc).__name__}: {exc}")
        spans.append((start, time.perf_counter()))
        done.append(ok)

    try:
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        store.close()
    extra: dict[str, object] = {"writers": writers}
    if failures:
        extra["first_error"] = failures[0]
    seconds = max(end for _, end in spans) - min(start for start, _ in spans)
    return Sample(ops=sum(done), seconds=seconds, errors=len(failures), extra=extra)


def available_postgres() -> list[PostgresContender]:
    """The PostgreSQL column, if psycopg is installed and the server answers."""
    try:
        _admin("SELECT 1")
    except Exception:
        return []
    return [PostgresContender()]
