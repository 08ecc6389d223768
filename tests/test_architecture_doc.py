"""The README's architecture map names what the tree holds, and nothing it does not."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "threadloom"


def _map() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```text\n", 1)[1].split("```", 1)[0]


def test_every_top_level_module_and_package_is_on_the_map() -> None:
    text = _map()
    missing = [
        entry.name
        for entry in sorted(PACKAGE.iterdir())
        if (entry.suffix == ".py" and entry.name != "__init__.py")
        or (entry.is_dir() and (entry / "__init__.py").exists())
        if (entry.name + ("/" if entry.is_dir() else "")) not in text
    ]
    assert missing == []


def test_every_module_of_the_contract_and_backends_is_on_the_map() -> None:
    text = _map()
    missing = [
        str(path.relative_to(PACKAGE))
        for folder in ("contract", "backends")
        for path in sorted((PACKAGE / folder).rglob("*.py"))
        if path.name != "__init__.py" and path.name not in text
    ]
    assert missing == []


def test_every_module_the_map_names_exists() -> None:
    named = set(re.findall(r"[a-z_]+\.py", _map()))
    present = {path.name for path in PACKAGE.rglob("*.py")}
    assert sorted(named - present) == []
