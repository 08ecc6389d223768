"""Dependencies as pyproject.toml declares them: pins the code relies on, extras' shape."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]


def _named(requirements: list[str], name: str) -> list[str]:
    return [r for r in requirements if re.match(rf"{re.escape(name)}(\[|[<>=!~ ]|$)", r)]


def test_orjson_is_pinned_below_its_next_major_version() -> None:
    # The stored bytes are orjson's output on the fast path (golden-bytes tests).
    (orjson,) = _named(PROJECT["dependencies"], "orjson")
    assert "<4" in orjson.replace(" ", ""), orjson


def test_the_postgres_extra_does_not_force_the_binary_build() -> None:
    extra = PROJECT["optional-dependencies"]["postgres"]
    (psycopg,) = _named(extra, "psycopg")
    assert "[" not in psycopg, psycopg  # no [binary] / [c]: the installer chooses
    assert _named(extra, "psycopg-pool")
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "pip install 'threadloom[postgres]' 'psycopg[binary]'" in readme


def test_the_dev_extra_installs_a_working_psycopg() -> None:
    # make test runs the PostgreSQL tests: the dev extra keeps the binary build.
    assert _named(PROJECT["optional-dependencies"]["dev"], "psycopg")
