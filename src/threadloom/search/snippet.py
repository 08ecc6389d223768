"""Snippets: a short window of a hit's text around the first match, matches marked.

Made in Python from the stored text for the few hits a page shows, so both backends
give the same snippet for the same message (PostgreSQL's ``ts_headline`` and FTS5's
``snippet()`` would each see only their own view of the normalized text).
"""

from __future__ import annotations

import re

from .query import Query
from .text import camel_parts, raw_tokens

__all__ = ["SCAN_CHARS", "make_snippet"]

#: How far into a text a match is looked for (a 1 MiB tool output is not walked whole).
SCAN_CHARS = 200_000
_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


def _wanted(query: Query) -> tuple[frozenset[str], tuple[str, ...]]:
    exact: set[str] = set()
    prefixes: list[str] = []
    for term in query.terms:
        exact.update(term.tokens)
        if term.prefix:
            prefixes.append(term.tokens[-1])
    return frozenset(exact), tuple(prefixes)


def make_snippet(
    text: str, query: Query, width: int = 160
) -> tuple[str, tuple[tuple[int, int], ...]] | None:
    """A window of about ``width`` characters of ``text`` around its first match.

    Whitespace and control characters become single spaces; a cut end gets ``…``.

    Returns:
        The snippet and the ``(start, end)`` offsets of each matched word in it, or
        ``None`` when ``text`` holds no token of the query (within
        :data:`SCAN_CHARS`).
    """
    flat = _SPACE.sub(" ", text[:SCAN_CHARS])
    exact, prefixes = _wanted(query)
    spans = _ascii_spans(flat, exact, prefixes, width) if flat.isascii() else []
    if not spans:
        spans = _spans(flat, exact, prefixes, width)
    if not spans:
        return None
    return _window(text, flat, spans, width)


def _ascii_spans(
    flat: str, exact: frozenset[str], prefixes: tuple[str, ...], width: int
) -> list[tuple[int, int]]:
    """Matches in ASCII text, by one regular expression over its lower-cased copy."""
    words = [re.escape(w) for w in sorted(exact) if w.isascii()]
    words += [re.escape(p) + "[a-z0-9]*" for p in prefixes if p.isascii()]
    if not words:
        return []
    pattern = re.compile(r"(?<![a-z0-9])(?:" + "|".join(words) + r")(?![a-z0-9])")
    spans: list[tuple[int, int]] = []
    limit = None
    for match in pattern.finditer(flat.lower()):
        if limit is not None and match.start() >= limit:
            break
        spans.append(match.span())
        if limit is None:
            limit = max(match.start() - width // 3, 0) + width
    return spans


def _spans(
    flat: str, exact: frozenset[str], prefixes: tuple[str, ...], width: int
) -> list[tuple[int, int]]:
    """Matches token by token (any script; camelCase parts count)."""
    spans: list[tuple[int, int]] = []
    limit = None
    for start, end, toks in raw_tokens(flat):
        if limit is not None and start >= limit:
            break
        if any(t in exact or t.startswith(prefixes) for t in toks) or (
            len(toks) == 1 and any(p in exact for p in camel_parts(flat[start:end]))
        ):
            spans.append((start, end))
            if limit is None:
                limit = max(start - width // 3, 0) + width
    return spans


def _window(
    text: str, flat: str, spans: list[tuple[int, int]], width: int
) -> tuple[str, tuple[tuple[int, int], ...]]:
    first = spans[0][0]
    begin = max(first - width // 3, 0)
    if begin > 0:
        space = flat.find(" ", begin, first)
        begin = space + 1 if space >= 0 else begin
    stop = min(begin + width, len(flat))
    stop = max(stop, spans[0][1])
    if stop < len(flat):
        space = flat.rfind(" ", spans[0][1], stop)
        stop = space if space > 0 else stop
    lead = "…" if begin > 0 else ""
    tail = "…" if stop < len(flat) or len(text) > SCAN_CHARS else ""
    body = flat[begin:stop]
    shift = len(lead) - begin
    marks = tuple((s + shift, e + shift) for s, e in spans if s >= begin and e <= stop)
    return lead + body + tail, marks
