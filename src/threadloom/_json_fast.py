"""orjson's encoding of a value, when it is provably the stdlib encoder's.

Stored JSON must be the bytes the stdlib encoder (with serde_json's float layout)
writes. orjson writes the same canonical text for plain JSON values and is several
times faster; on a checkpoint state of the original's size that is a large share of
``save_checkpoint`` (``python -m bench.internals``; figures in docs/benchmarks.md,
"Design measurements"). This module proves, per value, that orjson's text is the
stdlib's; :func:`threadloom._json.encode_json` uses the stdlib for anything else.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from typing import Any

__all__ = ["encode_fast"]

_dumps: Callable[..., bytes] | None
_loads: Callable[[bytes], Any] | None
try:
    import orjson

    _dumps, _loads = orjson.dumps, orjson.loads
    # Whatever orjson would serialize differently from the stdlib encoder goes to
    # ``default`` (which refuses it) and so to the stdlib path: dataclasses and
    # datetimes (which the stdlib rejects), subclasses of str/int/list/dict (which it
    # accepts). numpy values go to ``default`` too without OPT_SERIALIZE_NUMPY.
    _OPTIONS = (
        orjson.OPT_SORT_KEYS
        | orjson.OPT_PASSTHROUGH_SUBCLASS
        | orjson.OPT_PASSTHROUGH_DATACLASS
        | orjson.OPT_PASSTHROUGH_DATETIME
    )
except ImportError:  # pragma: no cover - orjson is a dependency; stay correct without it
    _dumps = _loads = None
    _OPTIONS = 0

#: Texts shorter than this are proved by a decode and compare, longer ones by a walk
#: of the value's types (a decode would cost more than the walk there).
_DECODE_LIMIT = 1024

#: A float printed with a positive exponent (or a string that looks like one).
_POSITIVE_EXPONENT = re.compile(rb"[0-9]e\+")

_PLAIN_TYPES = frozenset({dict, list, tuple, str, int, float, bool, type(None)})
_CONTAINERS = frozenset({dict, list, tuple})
_get_referents = gc.get_referents


def _refuse(value: object) -> Any:
    raise TypeError(f"{type(value).__name__} takes the stdlib path")


def encode_fast(value: Any, max_depth: int) -> tuple[str, int | None] | None:
    """orjson's text for ``value`` and its nesting depth, if the text is the stdlib's.

    orjson writes the stdlib's canonical text (sorted keys, compact, non-ASCII as
    is), except: NaN and Infinity become ``null`` (the stdlib refuses them); UUIDs,
    plain Enum members and ``orjson.Fragment`` are serialized natively (the stdlib
    refuses them); integers past 64 bits and non-str keys raise (the stdlib accepts
    them); a positive exponent is written ``e+16`` where serde_json writes ``e16``.
    Each of these gives ``None``: the stdlib encoder then decides.

    Args:
        value: The value to encode.
        max_depth: Nesting at which the type walk stops (the caller's limit).

    Returns:
        ``None``, or the text and how deep the value nests: counted up to
        ``max_depth`` by the type walk, or ``None`` when the proof was a decode (the
        caller measures the text then).
    """
    if _dumps is None or _loads is None:
        return None
    try:
        data = _dumps(value, default=_refuse, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError, including nesting past 255
        return None
    if len(data) < _DECODE_LIMIT:
        if b"e+" in data and _POSITIVE_EXPONENT.search(data):
            return None
        # ``null != nan``, ``"..." != UUID(...)``, ``"a" != E.A``.
        return (data.decode(), None) if _loads(data) == value else None
    depth = _plain_depth(value, data, max_depth)
    return None if depth is None else (data.decode(), depth)


def _plain_depth(value: Any, data: bytes, max_depth: int) -> int | None:
    """How deep ``value`` nests (up to ``max_depth``), or ``None`` if orjson's ``data``
    for it may hold something the stdlib would refuse.

    The value's objects are listed level by level through ``gc.get_referents`` (the
    items of lists and tuples, the keys and values of dicts, at C speed) and must all
    be of the plain JSON types, exactly; with a float among them, a ``null`` in the
    text may be a NaN and an ``e+`` an exponent serde_json writes without ``+``, so
    then the text must have neither. orjson has refused cycles (it
    stops at depth 255), so the walk ends.
    """
    depth = 0
    has_float = False
    level: list[Any] = [value]
    while level:
        kinds = set(map(type, level))
        if not kinds <= _PLAIN_TYPES:
            return None
        has_float = has_float or float in kinds
        if kinds.isdisjoint(_CONTAINERS):
            break
        depth += 1
        if depth >= max_depth:
            break
        level = _get_referents(*level)
    # Only a float can print a NaN as ``null`` or an exponent as ``e+``: a long text
    # of prose is scanned for neither (the scan costs more than the encoding).
    if has_float and (b"null" in data or (b"e+" in data and _POSITIVE_EXPONENT.search(data))):
        return None
    return depth
