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
    if not spans:
        return None
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
