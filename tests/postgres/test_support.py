"""The PostgreSQL test support skips without a server, and fails instead under CI."""

from __future__ import annotations

import pytest

from tests.support import pg


def _unreachable(monkeypatch: pytest.MonkeyPatch, required: bool) -> None:
    monkeypatch.setattr(pg, "DSN", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setattr(pg, "_checked", False)
    monkeypatch.setattr(pg, "_unreachable", None)
    monkeypatch.setattr(pg, "_REQUIRED", required)


def test_skips_with_a_reason_without_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    _unreachable(monkeypatch, required=False)
    with pytest.raises(pytest.skip.Exception, match="not reachable at postgresql://nobody"):
        pg.require_postgres()


def test_fails_when_postgres_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    _unreachable(monkeypatch, required=True)
    with pytest.raises(pytest.fail.Exception, match="THREADLOOM_REQUIRE_POSTGRES=1"):
        pg.require_postgres()
