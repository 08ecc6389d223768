"""PostgreSQL test support: a fresh schema per test, skipping cleanly without a server.

``BACKENDS`` adds two contract-suite backends to ``tests/conftest.py``:

- ``postgres``: the store on one caller-owned ``psycopg.Connection``;
- ``postgres-pool``: the store on a DSN (a pool threadloom opens and owns).

Each ``make()`` creates a schema ``test_<uuid>`` and points the connection's
``search_path`` at it; the schemas are dropped after the test. Without a server the
tests skip with the reason; ``THREADLOOM_REQUIRE_POSTGRES=1`` (CI) makes that a failure.
The server is ``THREADLOOM_PG_DSN`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from threadloom import StateStore

__all__ = [
    "BACKENDS",
    "DSN",
    "admin_connection",
    "drop_schema",
    "new_schema",
    "require_postgres",
    "schema_dsn",
]

DSN = os.environ.get("THREADLOOM_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
_REQUIRED = os.environ.get("THREADLOOM_REQUIRE_POSTGRES") == "1"
_unreachable: str | None = None
_checked = False

StoreFactory = Callable[..., StateStore]


def require_postgres() -> None:
    """Skip the test (fail under ``THREADLOOM_REQUIRE_POSTGRES=1``) without a server."""
    global _checked, _unreachable
    if not _checked:
        _checked = True
        try:
            import psycopg

            with psycopg.connect(DSN, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except ImportError:
            _unreachable = "psycopg is not installed (pip install 'threadloom[postgres]')"
        except Exception as exc:
            _unreachable = f"PostgreSQL is not reachable at {DSN}: {str(exc).strip()}"
    if _unreachable is not None:
        if _REQUIRED:
            pytest.fail(_unreachable + "; THREADLOOM_REQUIRE_POSTGRES=1 forbids skipping")
        pytest.skip(_unreachable)


def admin_connection() -> Any:
    """An autocommit connection to the test database (for schemas and inspection)."""
    import psycopg

    return psycopg.connect(DSN, autocommit=True)


def new_schema() -> str:
    """Create a fresh ``test_<uuid>`` schema; its name."""
    name = f"test_{uuid.uuid4().hex}"
    with admin_connection() as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return name


def drop_schema(name: str) -> None:
    """Drop a test schema and everything in it."""
    with admin_connection() as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def schema_dsn(schema: str) -> str:
    """The test DSN with ``search_path`` set to ``schema``."""
    sep = "&" if "?" in DSN else "?"
    return f"{DSN}{sep}options=-csearch_path%3D{schema}"


def _factory(pooled: bool) -> Callable[[Path], Iterator[StoreFactory]]:
    def backend(tmp_path: Path) -> Iterator[StoreFactory]:
        require_postgres()
        import psycopg

        schemas: list[str] = []
        opened: list[StateStore] = []
        connections: list[psycopg.Connection[Any]] = []

        def make(**options: Any) -> StateStore:
            schema = new_schema()
            schemas.append(schema)
            target: Any
            if pooled:
                options.setdefault("pool_size", 4)
                target = schema_dsn(schema)
            else:
                conn = psycopg.connect(schema_dsn(schema), autocommit=True)
                connections.append(conn)
                target = conn
            store = StateStore.open(target, **options)
            opened.append(store)
            return store

        try:
            yield make
        finally:
            for store in opened:
                with contextlib.suppress(Exception):
                    store.close()
            for conn in connections:
                with contextlib.suppress(Exception):
                    conn.close()
            for schema in schemas:
                drop_schema(schema)

    return backend


#: Backends for the contract suite (merged into ``tests.conftest.BACKENDS``).
BACKENDS: dict[str, Callable[[Path], Iterator[StoreFactory]]] = {
    "postgres": _factory(pooled=False),
    "postgres-pool": _factory(pooled=True),
}
