"""Locating ``../shared/`` (seed, oracle, fixtures) and skipping cleanly without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["FIXTURES", "ORACLE", "SHARED", "require_fixtures", "require_oracle"]

_ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("THREADLOOM_SHARED", _ROOT.parent / "shared"))
ORACLE = SHARED / "oracle" / "seed-oracle"
FIXTURES = SHARED / "fixtures"

# CI sets THREADLOOM_REQUIRE_SHARED=1 so that a missing ../shared/ fails loudly
# instead of skipping the parity and differential tests.
_REQUIRED = os.environ.get("THREADLOOM_REQUIRE_SHARED") == "1"


def _missing(what: str, path: Path) -> None:
    message = f"{what} not found at {path} (../shared/ is not beside this checkout)"
    if _REQUIRED:
        pytest.fail(message + "; THREADLOOM_REQUIRE_SHARED=1 forbids skipping")
    pytest.skip(message)


def require_oracle() -> Path:
    """The oracle binary, or skip (fail under THREADLOOM_REQUIRE_SHARED=1)."""
    if not os.access(ORACLE, os.X_OK):
        _missing("the seed oracle", ORACLE)
    return ORACLE


def require_fixtures() -> Path:
    """The fixtures folder, or skip (fail under THREADLOOM_REQUIRE_SHARED=1)."""
    if not (FIXTURES / "seed_v3" / "ops.jsonl").exists():
        _missing("the seed fixtures", FIXTURES)
    return FIXTURES
