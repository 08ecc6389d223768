"""Opening the PostgreSQL backend, with a clear message when its extra is missing."""

from __future__ import annotations

from typing import Any

from ..contract import Backend
from ..errors import ThreadloomError

__all__ = ["open_postgres"]


def open_postgres(target: Any, **options: Any) -> Backend:
    """Open the PostgreSQL backend on a DSN, a psycopg connection or a psycopg_pool pool.

    Raises:
        ThreadloomError: psycopg is not installed, or ``target`` is not a DSN,
            connection or pool.
    """
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise ThreadloomError(
            "PostgreSQL support needs psycopg 3: pip install 'threadloom[postgres]'"
        ) from exc
    from .postgres import PostgresBackend

    return PostgresBackend.open(target, **options)
