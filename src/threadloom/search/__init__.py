"""Full-text search: the query language, text normalization and snippets.

Engine-free: the backends index and query what these modules produce; the store
facade (:meth:`~threadloom.StateStore.search`) puts the pieces together.
"""

from .query import MAX_TERMS, Query, Term, matches, parse
from .snippet import make_snippet
from .text import camel_parts, fold, index_text, item_text, tokens

__all__ = [
    "MAX_TERMS",
    "Query",
    "Term",
    "camel_parts",
    "fold",
    "index_text",
    "item_text",
    "make_snippet",
    "matches",
    "parse",
    "tokens",
]
