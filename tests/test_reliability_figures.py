"""The figures docs/reliability.md quotes are measured, never written into a test.

Every reliability test reports its figures with ``record(scenario, **figures)``. A
figure such as ``losses=0`` or ``hangs=0`` typed as a constant would be printed as if
it had been counted; this test reads the suite's source and refuses that. Only the
scenario's parameters (how many processes, the timeout...) may be constants.
"""

from __future__ import annotations

import ast
from pathlib import Path

RELIABILITY = Path(__file__).resolve().parent / "reliability"

#: Inputs of a scenario, set by the test rather than measured by it.
PARAMETERS = {
    "appender_processes",
    "busy_timeout_s",
    "compactor_processes",
    "corrupt_line_kinds",
    "disk_bytes",
    "oracle_processes",
    "reader_processes",
    "threadloom_processes",
    "writer_processes",
}


def _constant(node: ast.expr) -> bool:
    """Whether ``node`` is computed from literals and ALL_CAPS module constants only."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id.isupper()
    if isinstance(node, ast.BinOp):
        return _constant(node.left) and _constant(node.right)
    if isinstance(node, ast.UnaryOp):
        return _constant(node.operand)
    return False


def _figures_written_as_constants() -> list[str]:
    found: list[str] = []
    for path in sorted(RELIABILITY.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "record"):
                continue
            for keyword in node.keywords:
                if keyword.arg is None or keyword.arg in PARAMETERS:
                    continue
                if _constant(keyword.value):
                    found.append(f"{path.name}:{node.lineno} {keyword.arg}")
    return found


def test_reliability_figures_are_measured_not_written() -> None:
    assert _figures_written_as_constants() == []


def test_the_check_sees_a_constant_figure() -> None:
    tree = ast.parse("record('x', losses=0, hangs=ROUNDS * 2, kills=len(k), writers=WRITERS)")
    call = tree.body[0].value  # type: ignore[attr-defined]
    flagged = [k.arg for k in call.keywords if _constant(k.value)]
    assert flagged == ["losses", "hangs", "writers"]
