"""The README's viewer section shows screenshots the browser tests make, and they exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_screenshot_in_the_readme_exists_and_is_made_by_a_test() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    shown = set(re.findall(r"docs/screenshots/([\w-]+)\.png", readme))
    made = set(
        re.findall(
            r"shot\(shots, \"([\w-]+)\"\)",
            (ROOT / "tests" / "server" / "test_browser.py").read_text("utf-8"),
        )
    )
    assert shown and shown <= made, sorted(shown - made)
    missing = [
        name
        for name in sorted(shown)
        if not (ROOT / "docs" / "screenshots" / f"{name}.png").is_file()
    ]
    assert missing == []
    # Every view the viewer has is shown.
    views = {"sessions", "search", "conversation", "tree", "diff", "checkpoints", "goal"}
    assert views | {"jobs", "tools", "workflow-run"} <= shown
