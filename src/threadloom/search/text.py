"""Text as the search index sees it: folded, split into tokens, the same on both backends.

Both engines index text this module has already normalized (lower case, accents
removed, CJK characters one token each, code identifiers split), and queries go
through the same functions, so SQLite's FTS5 and PostgreSQL's ``simple`` parser only
ever see space-separated runs of letters and digits and cannot disagree about what a
word is.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterator
from functools import cache

__all__ = [
    "NORMALIZER_VERSION",
    "camel_parts",
    "fold",
    "index_text",
    "item_text",
    "raw_tokens",
    "tokens",
]

#: Bumped when index_text changes: an index built by another version is rebuilt.
NORMALIZER_VERSION = 1

# Scripts written without spaces between words: each character is a token of its own
# (unigrams), and a query word in them becomes a phrase of its characters.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0002ffff"
# (A letter of those scripts: the ranges hold unassigned code points too.)
_TOKEN = re.compile(rf"(?=[^\W_])[{_CJK}]|[^\W_{_CJK}]+")
_ASCII_SEPARATORS = re.compile(r"[^a-z0-9]+")
# An ASCII identifier with a lower-to-upper hump (camelCase) or an acronym before a
# word (HTTPServer): its parts are indexed too, so "camel" finds "camelCase".
_CAMEL = re.compile(r"\b[A-Za-z0-9]*(?:[a-z0-9][A-Z]|[A-Z][A-Z][a-z])[A-Za-z0-9]*")
_CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
# The cheap test first (a hump's capital, found by a character-class scan): most prose
# has none, and the full pattern backtracks at every word.
_HUMP = re.compile(r"[A-Z](?:(?<=[a-z0-9][A-Z])|(?<=[A-Z][A-Z])(?=[a-z]))")


@cache
def _strip_marks() -> dict[int, None]:
    """A ``str.translate`` table deleting every combining mark (built once, lazily)."""
    return {code: None for code in range(sys.maxunicode + 1) if unicodedata.combining(chr(code))}


def fold(text: str) -> str:
    """Lower case without accents: ``"Résumé"`` → ``"resume"``, ``"Straße"`` → ``"strasse"``."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKD", text).translate(_strip_marks()).casefold()


def tokens(text: str) -> list[str]:
    """The folded tokens of ``text``, in order (what the index holds for it)."""
    folded = fold(text)
    if folded.isascii():
        return _ASCII_SEPARATORS.sub(" ", folded).split()
    return _TOKEN.findall(folded)


def raw_tokens(text: str) -> Iterator[tuple[int, int, list[str]]]:
    """Spans of ``text`` with the folded tokens each holds (for highlighting snippets)."""
    for match in _TOKEN.finditer(text):
        yield match.start(), match.end(), tokens(match.group())


def camel_parts(text: str) -> list[str]:
    """The parts of every camelCase identifier in ``text``, folded."""
    parts: list[str] = []
    if _HUMP.search(text) is None:
        return parts
    for word in _CAMEL.findall(text):
        parts.extend(p.lower() for p in _CAMEL_PART.findall(word))
    return parts


def index_text(text: str) -> str:
    """``text`` as the index stores it: folded tokens separated by single spaces."""
    return " ".join(tokens(text))


def item_text(value: object, limit: int = 1 << 20) -> str:
    """The strings inside a decoded message ``item`` (tool calls, tool output), joined.

    Keys are left out (every tool call has ``"type"`` and ``"name"`` keys); values
    that are strings, at any depth, are kept, up to ``limit`` characters.
    """
    out: list[str] = []
    size = 0
    stack = [value]
    while stack and size < limit:
        current = stack.pop()
        if isinstance(current, str):
            out.append(current)
            size += len(current) + 1
        elif isinstance(current, dict):
            stack.extend(reversed(list(current.values())))
        elif isinstance(current, list):
            stack.extend(reversed(current))
    return "\n".join(out)[:limit]
