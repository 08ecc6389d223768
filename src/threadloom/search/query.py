"""The search query language, parsed once and compiled by each backend.

``parse`` turns what a user types into a :class:`Query`; nothing a user types reaches
an engine's own query syntax, so no query can raise a driver error. The language:

- ``word word``: every word must match (in any order);
- ``"exact phrase"``: the words next to each other, in order (an unclosed quote runs
  to the end of the query);
- ``prefix*``: any word starting with ``prefix``;
- ``-word``, ``-"a phrase"``: messages holding it are left out;
- ``this OR that``: either (``OR`` in capitals; it binds tighter than the implicit
  AND, so ``lock sqlite OR postgres`` is ``lock AND (sqlite OR postgres)``).

Words are normalized as the index is (:mod:`.text`): case and accents fold, CJK text
matches character by character in order, and a word that splits into several tokens
(``snake_case_name``, ``src/store.py``, ``日本語``) is matched as a phrase. Anything
else (``NEAR``, ``column:``, ``^``, parentheses, NUL) is just text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InvalidRecord, InvalidType
from .text import tokens

__all__ = ["MAX_TERMS", "Query", "Term", "matches", "parse"]

#: The most terms one query may hold (a longer one is refused, not truncated).
MAX_TERMS = 64
#: The longest query text accepted, in characters.
MAX_QUERY_CHARS = 10_000


@dataclass(frozen=True, slots=True)
class Term:
    """Tokens that must appear next to each other, in order; ``prefix``: the last one
    may be the beginning of a longer token."""

    tokens: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: every group must match (a group matches when any of its terms
    does), and no excluded term may."""

    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...] = ()

    @property
    def terms(self) -> tuple[Term, ...]:
        """Every positive term (what a snippet highlights)."""
        return tuple(term for group in self.groups for term in group)


def _items(text: str) -> list[tuple[str, str, bool]]:
    """Split a query into (kind, text, prefix) items: kind is word, phrase, or, not-*."""
    items: list[tuple[str, str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        negated = ch == "-" and i + 1 < n and not text[i + 1].isspace()
        if negated:
            i += 1
            ch = text[i]
        if ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                end = n
            body = text[i + 1 : end]
            i = end + 1
            prefix = i < n and text[i] == "*"
            if prefix:
                i += 1
            items.append(("not-phrase" if negated else "phrase", body, prefix))
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] != '"':
            j += 1
        word = text[i:j]
        i = j
        if word == "OR" and not negated:
            items.append(("or", word, False))
            continue
        prefix = word.endswith("*")
        items.append(("not-word" if negated else "word", word.rstrip("*"), prefix))
    return items


def _term(text: str, prefix: bool) -> Term | None:
    found = tokens(text)
    if not found:
        return None
    return Term(tuple(found), prefix)


def parse(text: str) -> Query:
    """Parse a query.

    Raises:
        InvalidType: ``text`` is not a string.
        InvalidRecord: It holds no word to search for (empty, only punctuation or
            only exclusions), more than :data:`MAX_TERMS` terms, or more than
            10,000 characters.
    """
    if not isinstance(text, str):
        raise InvalidType(f"query must be a str, got {type(text).__name__}")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidRecord(
            f"the query is {len(text):,} characters long; at most {MAX_QUERY_CHARS:,} are searched"
        )
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    join_next = False
    last_positive = False  # OR joins two positive terms; after an exclusion it is dropped
    for kind, body, prefix in _items(text):
        if kind == "or":
            join_next = last_positive
            continue
        term = _term(body, prefix)
        if term is None:
            continue  # punctuation only ("*", "-", "::"): nothing to match
        if kind.startswith("not-"):
            excluded.append(term)
            last_positive = join_next = False
        elif join_next:
            groups[-1].append(term)
            last_positive, join_next = True, False
        else:
            groups.append([term])
            last_positive = True
    count = sum(len(g) for g in groups) + len(excluded)
    if count > MAX_TERMS:
        raise InvalidRecord(f"the query has {count} terms; at most {MAX_TERMS} are allowed")
    if not groups:
        raise InvalidRecord(
            "the query has no word to search for"
            + (" (only excluded ones)" if excluded else "")
            + ': give at least one word, "phrase" or prefix*'
        )
    return Query(tuple(tuple(g) for g in groups), tuple(excluded))


def _term_in(term: Term, field: Sequence[str]) -> bool:
    want = term.tokens
    size = len(want)
    last = size - 1
    for start in range(len(field) - last):
        if all(field[start + k] == want[k] for k in range(last)):
            token = field[start + last]
            if token == want[last] or (term.prefix and token.startswith(want[last])):
                return True
    return False


def matches(query: Query, fields: Sequence[Sequence[str]]) -> bool:
    """Whether a document (its fields' tokens) matches, as the index would answer.

    The reference evaluation: the scan used where SQLite lacks FTS5, and the model
    the property tests compare the engines with. A term matches inside one field.
    """

    def hit(term: Term) -> bool:
        return any(_term_in(term, field) for field in fields)

    return all(any(hit(t) for t in group) for group in query.groups) and not any(
        hit(t) for t in query.excluded
    )
