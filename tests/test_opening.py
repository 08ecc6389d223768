"""Choosing a backend for a target, and printing a target without its password."""

from __future__ import annotations

import pytest

from threadloom.backends.opening import is_postgres_target, redact_text


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://me:s3cret@db:5432/app", "postgresql://me@db:5432/app"),
        ("postgres://me:s3cret@db/app?sslmode=require", "postgres://me@db/app?sslmode=require"),
        (
            "postgresql://me@db/app?password=s3cret&sslmode=off",
            "postgresql://me@db/app?sslmode=off",
        ),
        ("postgresql://db/app?password=s3cret", "postgresql://db/app"),
    ],
)
def test_a_password_never_survives_redaction_by_text(dsn: str, shown: str) -> None:
    # The path taken without psycopg, and for a DSN libpq cannot parse.
    assert redact_text(dsn) == shown
    assert "s3cret" not in redact_text(dsn)


def test_postgres_targets_are_dsns_or_objects_and_paths_are_not() -> None:
    assert is_postgres_target("postgresql://x/y") and is_postgres_target("postgres://x/y")
    assert is_postgres_target(object())
    assert not is_postgres_target("state.db") and not is_postgres_target(None)
