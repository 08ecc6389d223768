"""Fixtures of the server tests: a store on each backend with its ``--db`` text, the
app over it, and an HTTP client that speaks to the app in-process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.support.pg import drop_schema, new_schema, require_postgres, schema_dsn
from tests.support.seed import seed_viewer_demo
from threadloom import StateStore
from threadloom.server import ServerOptions, create_app

#: Where the in-process client says it is: a loopback host, as a browser would.
BASE = "http://127.0.0.1:8765"


@dataclass
class Served:
    """A seeded store, the ``--db`` text that opens it, and the ids the seed wrote."""

    db: str
    store: StateStore
    ids: dict[str, str]

    def client(self, **options: object) -> TestClient:
        """An HTTP client on a fresh app over the store (``ServerOptions`` keywords)."""
        app = create_app(self.store, ServerOptions(**options))  # type: ignore[arg-type]
        return TestClient(app, base_url=BASE)


@pytest.fixture(params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    """The viewer's demo data on SQLite and on PostgreSQL."""
    yield from serve_on(request.param, tmp_path)


def serve_on(backend: str, tmp_path: Path) -> Iterator[Served]:
    """The viewer's demo data on ``backend`` ("sqlite" or "postgres")."""
    schema = None
    if backend == "sqlite":
        db = str(tmp_path / "state.db")
    else:
        require_postgres()
        schema = new_schema()
        db = schema_dsn(schema)
    store = StateStore.open(db)
    try:
        ids = seed_viewer_demo(store, now=1_750_000_000)
        yield Served(db, store, ids)
    finally:
        store.close()
        if schema is not None:
            drop_schema(schema)


@pytest.fixture
def client(served: Served) -> Iterator[TestClient]:
    """A read-only client (the default server)."""
    with served.client() as c:
        yield c
