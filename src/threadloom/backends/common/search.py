"""What both backends' search share: a message as an index document, the reference
match used by scans, and the filters as SQL.

A document has three fields: the message's content, the text inside its ``item``
(tool calls, tool output) and the parts of camelCase identifiers found in either, each
normalized by :mod:`threadloom.search.text`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...contract.search import SearchFilters
from ...search.query import Query, matches
from ...search.text import camel_parts, index_text, item_text

__all__ = ["Document", "FilterSql", "filter_sql", "message_document", "row_matches"]

#: A message's fields as the index stores them: content, item text, identifier parts.
Document = tuple[str, str, str]


def _item_text(item_json: str | None) -> str:
    if item_json is None:
        return ""
    try:
        value = json.loads(item_json)
    except ValueError:
        return item_json  # unparsable: its characters are still text worth finding
    return item_text(value)


def _as_indexed(text: str, ascii_as_is: bool) -> str:
    return text if ascii_as_is and text.isascii() else index_text(text)


def message_document(content: str, item_json: str | None, *, ascii_as_is: bool = False) -> Document:
    """The index document of a message (what both engines index for it).

    Args:
        ascii_as_is: Leave ASCII text unnormalized, for an engine whose tokenizer
            splits and lower-cases ASCII exactly as :func:`~threadloom.search.text.tokens`
            does (FTS5's unicode61): the same tokens, without the Python work.
    """
    item = _item_text(item_json)
    parts = camel_parts(content)
    if item:
        parts += camel_parts(item)
    return _as_indexed(content, ascii_as_is), _as_indexed(item, ascii_as_is), " ".join(parts)


def row_matches(query: Query, content: str, item_json: str | None) -> bool:
    """Whether a message matches ``query``, decided in Python as the index would."""
    doc = message_document(content, item_json)
    return matches(query, [field.split() for field in doc])


@dataclass(frozen=True, slots=True)
class FilterSql:
    """``AND ...`` conditions on ``m`` (messages) and ``t`` (threads), with parameters."""

    messages: str
    message_params: tuple[Any, ...]
    threads: str
    thread_params: tuple[Any, ...]


def filter_sql(
    filters: SearchFilters, param: str, key: Callable[[str], str] = lambda s: s
) -> FilterSql:
    """The filters as SQL conditions in a dialect (``param`` is its placeholder)."""
    msg: list[str] = []
    mp: list[Any] = []
    thr: list[str] = []
    tp: list[Any] = []
    if filters.thread_id is not None:
        msg.append(f"m.thread_id = {param}")
        mp.append(key(filters.thread_id))
        thr.append(f"t.id = {param}")
        tp.append(key(filters.thread_id))
    if filters.role is not None:
        msg.append(f"m.role = {param}")
        mp.append(key(filters.role))
    if filters.since is not None:
        msg.append(f"m.created_at >= {param}")
        mp.append(filters.since)
        thr.append(f"t.updated_at >= {param}")
        tp.append(filters.since)
    if filters.until is not None:
        msg.append(f"m.created_at <= {param}")
        mp.append(filters.until)
        thr.append(f"t.updated_at <= {param}")
        tp.append(filters.until)
    if not filters.include_archived:
        msg.append("t.archived = 0")
        thr.append("t.archived = 0")
    return FilterSql(
        "".join(f" AND {c}" for c in msg),
        tuple(mp),
        "".join(f" AND {c}" for c in thr),
        tuple(tp),
    )
