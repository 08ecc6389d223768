"""Each framework's example runs as a fresh clone would run it (a script, its own process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integrations.conftest import need

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "module", "extra", "expected"),
    [
        ("langgraph_checkpointer.py", "langgraph.graph", "adapters-test", "['support-chat']"),
        ("agents_session.py", "agents", "agents", "by-the-river"),
        ("adk_session_service.py", "google.adk.runners", "adk", "This is turn 2."),
    ],
)
def test_example_runs(script: str, module: str, extra: str, expected: str) -> None:
    need(module, extra)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=300,
    )
    assert expected in proc.stdout
