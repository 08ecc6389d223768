"""No test skips silently: every skip goes through a switch that CI sets.

A test that skips where its prerequisite is missing is fine on a laptop; in CI the same
skip would hide a test that never runs. So each machine-dependent skip is behind a
``THREADLOOM_REQUIRE_*`` switch (``tests/support/require.py``) and ``.ci/run`` sets them
all.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.reliability import test_environment_faults
from tests.support import require

ROOT = Path(__file__).resolve().parents[1]

#: Files allowed to call ``pytest.skip`` or ``importorskip`` directly, and why.
SKIPPERS = {
    # The switch helpers themselves.
    "tests/support/require.py": "THREADLOOM_REQUIRE_ENV_FAULTS / _PEERS",
    "tests/support/pg.py": "THREADLOOM_REQUIRE_POSTGRES",
    "tests/support/shared.py": "THREADLOOM_REQUIRE_SHARED",
    # numpy comes with the dev extra, which `make test` always installs.
    "tests/test_json_codec.py": "numpy is a dev dependency",
}

_SKIP_CALL = re.compile(r"pytest\.skip\(|importorskip\(|mark\.skip\b|mark\.skipif\b")


def test_no_test_skips_outside_a_ci_switch() -> None:
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("*.py")
        if _SKIP_CALL.search(path.read_text(encoding="utf-8"))
        and str(path.relative_to(ROOT)) not in SKIPPERS
    )
    assert offenders == [], "skips that CI cannot turn into failures"


def test_ci_sets_every_switch_and_installs_the_peers() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for switch in require.SWITCHES:
        assert f"export {switch}=1" in script, switch
    assert "pip install --quiet -e '.[bench]'" in script
    # The extra must still be installed before the tests run.
    assert script.index("'.[bench]'") < script.rindex("\nmake test")
    # So must PgBouncer (the contract suite runs through it).
    assert script.index("apt-get install -y -qq pgbouncer") < script.rindex("\nmake test")


def test_a_switch_turns_a_skip_into_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(require.ENV_FAULTS, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no tmpfs"):
        require.skip_unless_required(require.ENV_FAULTS, "no tmpfs")
    monkeypatch.setenv(require.ENV_FAULTS, "1")
    with pytest.raises(pytest.fail.Exception, match="THREADLOOM_REQUIRE_ENV_FAULTS=1 forbids"):
        require.skip_unless_required(require.ENV_FAULTS, "no tmpfs")


@pytest.mark.parametrize("switch", ["0", "1"])
def test_tmpfs_without_root_fails_under_the_switch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, switch: str
) -> None:
    # As a user who may not mount: the full-disk and read-only-media tests cannot run.
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv(require.ENV_FAULTS, switch)
    expected = pytest.fail.Exception if switch == "1" else pytest.skip.Exception
    with pytest.raises(expected, match="mounting a tmpfs needs root"):
        test_environment_faults.mount_tmpfs(tmp_path)
    assert list(tmp_path.iterdir()) == []
