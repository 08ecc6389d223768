"""Choosing and opening a backend for a target: a file path, a DSN, a connection or a pool.

The facade (:meth:`threadloom.StateStore.open`) and the CLI come through here, so no
module above ``backends/`` names a backend class. PostgreSQL is imported only when a
target needs it, with a clear message when its extra is missing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..contract import Backend
from ..errors import InvalidRecord, InvalidType, ThreadloomError
from ..paths import default_state_db_path

__all__ = ["is_postgres_target", "open_backend", "redact_location", "redact_text"]

_POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def is_postgres_target(target: object) -> bool:
    """Whether ``target`` names PostgreSQL: a DSN, or an object that is not a path."""
    if isinstance(target, str):
        return target.startswith(_POSTGRES_PREFIXES)
    return target is not None and not isinstance(target, os.PathLike)


def _require_psycopg() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise ThreadloomError(
            "PostgreSQL support needs psycopg 3: pip install 'threadloom[postgres]' "
            "(or 'psycopg[binary]' for a prebuilt driver)"
        ) from exc


def open_backend(
    target: str | os.PathLike[str] | Any | None,
    *,
    durability: str,
    busy_timeout: float,
    migrate: bool,
    read_only: bool,
    **options: Any,
) -> Backend:
    """Open the backend ``target`` names (``None``: the default SQLite file).

    Raises:
        InvalidRecord: ``durability`` or ``busy_timeout`` is out of range.
        InvalidType: Options the chosen backend does not take.
        ThreadloomError: PostgreSQL support is missing, or the backend cannot open.
    """
    from .sqlite import Durability, SqliteBackend

    try:
        level = Durability(durability)
    except ValueError:
        raise InvalidRecord(f"durability must be 'normal' or 'full', got {durability!r}") from None
    if (
        isinstance(busy_timeout, bool)
        or not isinstance(busy_timeout, int | float)
        or busy_timeout < 0
    ):
        raise InvalidRecord(f"busy_timeout must be a non-negative number, got {busy_timeout!r}")
    if is_postgres_target(target):
        _require_psycopg()
        from .postgres import PostgresBackend

        return PostgresBackend.open(
            target,
            durability=level,
            busy_timeout=busy_timeout,
            migrate=migrate,
            read_only=read_only,
            **options,
        )
    if options:
        raise InvalidType(f"unexpected options for a SQLite store: {', '.join(sorted(options))}")
    path = default_state_db_path() if target is None else Path(os.fspath(target))
    return SqliteBackend(
        path, durability=level, busy_timeout=busy_timeout, migrate=migrate, read_only=read_only
    )


def redact_location(target: str) -> str:
    """A target fit to print: a DSN without its password, a path as it is."""
    if not is_postgres_target(target):
        return target
    try:
        from .postgres.connection import redact_dsn
    except ImportError:  # no psycopg to parse it
        return redact_text(target)
    return redact_dsn(target)


_URL_PASSWORD = re.compile(r"^([a-z]+://[^:@/?#]*):[^@/?#]*@", re.IGNORECASE)
_PARAM_PASSWORD = re.compile(r"([?&])password=[^&#]*&?", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(r"\bpassword\s*=\s*(?:'(?:[^'\\]|\\.)*'|\S*)\s*", re.IGNORECASE)


def redact_text(dsn: str) -> str:
    """``dsn`` without its password, by its text (a DSN libpq cannot parse, or no
    psycopg to parse it): URL credentials, ``password=`` parameters and keywords."""
    text = _URL_PASSWORD.sub(r"\1@", dsn)
    text = _PARAM_PASSWORD.sub(lambda m: m.group(1), text).rstrip("?&")
    return " ".join(_KEYWORD_PASSWORD.sub("", text).split())
