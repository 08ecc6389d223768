"""Fixtures of the PostgreSQL-specific tests: a fresh schema and its DSN."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.pg import drop_schema, new_schema, require_postgres, schema_dsn


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh ``test_<uuid>`` schema, dropped afterwards (skips without a server)."""
    require_postgres()
    name = new_schema()
    try:
        yield name
    finally:
        drop_schema(name)


@pytest.fixture
def pg_dsn(pg_schema: str) -> str:
    """A DSN on the fresh schema, tagged with a unique ``application_name``."""
    return f"{schema_dsn(pg_schema)}&application_name=tl_{uuid.uuid4().hex[:12]}"
