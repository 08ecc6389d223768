"""The seam: above ``backends/`` only the contract is spoken.

No module outside ``src/threadloom/backends/`` may import a backend package or a
database driver, name a backend class, check a backend's type, or run a statement.
Checked on the syntax tree, so a code sample inside a string does not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "threadloom"
ABOVE_BACKENDS = sorted(
    path for path in PACKAGE.rglob("*.py") if "backends" not in path.relative_to(PACKAGE).parts
)
DRIVERS = {"sqlite3", "psycopg", "psycopg_pool"}
# What a module above the seam may take from backends/: choosing a backend for a target.
ALLOWED_FROM_BACKENDS = {"threadloom.backends.opening"}
STATEMENT_CALLS = {"execute", "executemany", "executescript", "cursor"}


def _absolute(module: str | None, level: int, path: Path) -> str:
    if level == 0:
        return module or ""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    base = parts[: len(parts) - level]
    return ".".join(base + ([module] if module else []))


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node.module, node.level, path)
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
            if module.startswith("threadloom.backends") and module not in ALLOWED_FROM_BACKENDS:
                found.append(f"line {node.lineno}: imports {module}")
        else:
            names = []
        for name in names:
            if name.split(".")[0] in DRIVERS:
                found.append(f"line {line}: imports the driver {name}")
            if name.startswith("threadloom.backends.") and name.split(".")[2] in (
                "sqlite",
                "postgres",
            ):
                found.append(f"line {line}: imports {name}")
        if isinstance(node, ast.Name) and node.id in ("SqliteBackend", "PostgresBackend"):
            found.append(f"line {node.lineno}: names {node.id}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in STATEMENT_CALLS
        ):
            found.append(f"line {node.lineno}: calls .{node.func.attr}()")
    return sorted(set(found))


@pytest.mark.parametrize("path", ABOVE_BACKENDS, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_above_the_backends_speak_only_the_contract(path: Path) -> None:
    assert _violations(path) == []


def test_the_check_catches_what_it_forbids(tmp_path: Path) -> None:
    # The rule itself must be able to fail: a module breaking each clause is caught.
    bad = PACKAGE / "_layering_probe.py"
    bad.write_text(
        "import sqlite3\n"
        "from .backends.sqlite import SqliteBackend\n"
        "def f(store):\n"
        "    if isinstance(store.backend, SqliteBackend):\n"
        "        store.backend.connection().execute('SELECT 1')\n"
    )
    try:
        found = _violations(bad)
    finally:
        bad.unlink()
    assert any("driver sqlite3" in v for v in found)
    assert any("imports threadloom.backends.sqlite" in v for v in found)
    assert any("names SqliteBackend" in v for v in found)
    assert any(".execute()" in v for v in found)
