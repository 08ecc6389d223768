"""CI switches: a test that cannot run on this machine skips, unless CI says it must run.

A skipped test proves nothing, and a skip that nobody reads hides a test that never
runs. Each kind of test that depends on the machine has a switch; ``.ci/run`` sets
them all, so in CI a missing prerequisite fails the test instead of skipping it.
PostgreSQL and ``../shared/`` have their own switches (``tests/support/pg.py``,
``tests/support/shared.py``), which follow the same rule.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = [
    "BROWSER",
    "ENV_FAULTS",
    "FRAMEWORKS",
    "PEERS",
    "PGBOUNCER",
    "REPLICATION",
    "SWITCHES",
    "required",
    "skip_unless_required",
]

#: Mounting a tmpfs (full disk, read-only media) and dropping root to ``nobody``.
ENV_FAULTS = "THREADLOOM_REQUIRE_ENV_FAULTS"
#: The benchmark's peer libraries (the ``bench`` extra) for the peer smoke tests.
PEERS = "THREADLOOM_REQUIRE_PEERS"
#: The frameworks of the adapters (extras ``langgraph``, ``agents``, ``adk``) and the
#: LangGraph conformance suite, for the adapters' tests.
FRAMEWORKS = "THREADLOOM_REQUIRE_FRAMEWORKS"
#: A ``pgbouncer`` binary for the contract suite through a real pooler.
PGBOUNCER = "THREADLOOM_REQUIRE_PGBOUNCER"
#: PostgreSQL's server binaries (``initdb``, ``pg_basebackup``, ``pg_ctl``) for the
#: replica and failover tests, which build clusters of their own.
REPLICATION = "THREADLOOM_REQUIRE_REPLICATION"
#: The viewer's browser tests: Playwright (the ``browser`` extra) and Debian's Chromium.
BROWSER = "THREADLOOM_REQUIRE_BROWSER"

#: Every switch CI must set (``tests/test_ci_switches.py`` checks ``.ci/run``).
SWITCHES = (
    "THREADLOOM_REQUIRE_POSTGRES",
    "THREADLOOM_REQUIRE_SHARED",
    ENV_FAULTS,
    PEERS,
    FRAMEWORKS,
    PGBOUNCER,
    REPLICATION,
    BROWSER,
)


def required(switch: str) -> bool:
    """Whether ``switch`` is set to ``1`` (tests under it must run)."""
    return os.environ.get(switch) == "1"


def skip_unless_required(switch: str, reason: str) -> NoReturn:
    """Skip with ``reason``; fail instead when ``switch`` is set to ``1`` (CI)."""
    if required(switch):
        pytest.fail(f"{reason}; {switch}=1 forbids skipping")
    pytest.skip(reason)
