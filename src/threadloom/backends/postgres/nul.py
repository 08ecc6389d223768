"""Lossless storage of NUL characters in PostgreSQL ``text`` columns.

PostgreSQL cannot store U+0000 in ``text`` (nor in ``jsonb``), while SQLite and the
original store it. threadloom writes NUL as a two-character escape built on U+FDD0, a
Unicode *noncharacter* (reserved by the standard for a program's internal use, so
real text almost never holds it):

=============  ==========================
stored         means
=============  ==========================
U+FDD0 ``0``   U+0000
U+FDD0 ``1``   U+FDD0 (the escape itself)
=============  ==========================

Escaping the escape character keeps the mapping injective, so every string
round-trips, including ones that already hold U+FDD0. Strings holding neither
character (nearly all) are stored unchanged and cost two substring checks.

The escape leaves ASCII letters alone, so equality and ASCII-case-insensitive
comparisons in SQL give the same answers on escaped text as on the original text.

JSON columns need no escape: they are ``json`` (not ``jsonb``) columns holding the
canonical JSON text exactly as written, where NUL is the six characters ``\\u0000``,
which ``json`` accepts (``jsonb`` rejects it, and would also reorder keys and turn
``1e300`` into a 301-digit integer).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = ["ESCAPE", "escape", "escape_opt", "unescape", "unescape_row"]

#: The escape character: U+FDD0, a noncharacter.
ESCAPE = "\ufdd0"
_NUL = "\x00"
_PATTERN = re.compile(ESCAPE + "([01])")


def escape(text: str) -> str:
    """``text`` as PostgreSQL can store it (unchanged unless it holds NUL or U+FDD0)."""
    if _NUL not in text and ESCAPE not in text:
        return text
    return text.replace(ESCAPE, ESCAPE + "1").replace(_NUL, ESCAPE + "0")


def escape_opt(text: str | None) -> str | None:
    """:func:`escape`, passing ``None`` through."""
    return None if text is None else escape(text)


def _unescape_match(match: re.Match[str]) -> str:
    return _NUL if match.group(1) == "0" else ESCAPE


def unescape(text: str) -> str:
    """The original of an :func:`escape`-d string."""
    if ESCAPE not in text:
        return text
    return _PATTERN.sub(_unescape_match, text)


def unescape_row(row: Sequence[Any], keep: tuple[int, ...] = ()) -> tuple[Any, ...]:
    """``row`` with every text value :func:`unescape`-d, except the JSON columns at ``keep``."""
    values = tuple(row)
    for index, value in enumerate(values):
        if type(value) is str and ESCAPE in value and index not in keep:
            return tuple(
                unescape(v) if type(v) is str and i not in keep else v for i, v in enumerate(values)
            )
    return values
