"""The adapters' tests: each needs its framework, behind the FRAMEWORKS switch."""

from __future__ import annotations

import importlib
from types import ModuleType

from tests.support.require import FRAMEWORKS, skip_unless_required


def need(module: str, extra: str) -> ModuleType:
    """Import a framework module, or skip (fail in CI) naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        skip_unless_required(FRAMEWORKS, f"{module} is not installed (pip install -e '.[{extra}]')")
