"""Fixtures of the lifecycle tests: a database target (a file path or a DSN) per backend,
for tests that open it from several processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pg import drop_schema, new_schema, require_postgres, schema_dsn


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a fresh database lives: a SQLite file path or a DSN on a fresh schema."""
    if request.param == "sqlite":
        yield str(tmp_path / "state.db")
        return
    require_postgres()
    schema = new_schema()
    try:
        yield schema_dsn(schema)
    finally:
        drop_schema(schema)
