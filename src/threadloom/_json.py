"""JSON encoding and decoding of stored values, in one place.

Stored JSON is written the way the original writes it (serde_json without
``preserve_order``): object keys sorted, no insignificant whitespace, non-ASCII
characters as they are. Keeping every encode and decode here lets the codec be
measured and swapped without touching the backends.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Callable
from typing import Any

from .errors import CorruptData, InvalidRecord

__all__ = ["MAX_DEPTH", "JSONValue", "decode_json", "decode_text", "encode_json"]

#: A value that can be stored as JSON (checkpoint states, message items, tool schemas).
JSONValue = Any

_encoder = json.JSONEncoder(
    ensure_ascii=False,
    allow_nan=False,
    sort_keys=True,
    separators=(",", ":"),
)
_stdlib_decode = json.JSONDecoder().decode

#: The original (serde_json) refuses to parse JSON nested this deep: a checkpoint of
#: 127 nested arrays reads back there, 128 reads as null, and a message item or a
#: tool schema that deep fails the whole read. So we never write one.
MAX_DEPTH = 128

_fast_dumps: Callable[..., bytes] | None
try:
    import orjson

    _fast_loads: Callable[[str | bytes], Any] | None = orjson.loads
    _FastError: type[Exception] = orjson.JSONDecodeError
    _fast_dumps = orjson.dumps
    # Whatever orjson would serialize differently from the stdlib encoder goes to
    # ``default`` (which refuses it) and so to the stdlib path: dataclasses and
    # datetimes (which the stdlib rejects), subclasses of str/int/list/dict (which it
    # accepts). numpy values go to ``default`` too without OPT_SERIALIZE_NUMPY.
    _FAST_OPTIONS = (
        orjson.OPT_SORT_KEYS
        | orjson.OPT_PASSTHROUGH_SUBCLASS
        | orjson.OPT_PASSTHROUGH_DATACLASS
        | orjson.OPT_PASSTHROUGH_DATETIME
    )
except ImportError:  # pragma: no cover - orjson is a dependency; stay correct without it
    _fast_loads = None
    _FastError = ValueError
    _fast_dumps = None
    _FAST_OPTIONS = 0


def _refuse(value: object) -> Any:
    raise TypeError(f"{type(value).__name__} takes the stdlib path")


# Every ASCII digit to "9", every other byte to " ": a run of 19 digits is then a plain
# substring search. A regex scan costs 149 us on a 9.8 KB checkpoint state (more than
# the stdlib decode); this costs 13 us.
_DIGITS_TO_NINE = bytes(0x39 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_NINETEEN_DIGITS = b"9" * 19


def _long_digits(text: str) -> bool:
    return _NINETEEN_DIGITS in text.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_NINE)


def _decode(text: str) -> Any:
    # orjson decodes ~5x faster (200 message items: 789 -> 149 us), and decoding
    # dominates list_messages. Whatever it refuses (NaN/Infinity literals, lone
    # surrogate escapes, nesting past 1024) goes to the stdlib decoder, so every
    # result, and every error, is exactly the stdlib's. orjson reads integers outside
    # [-2**63, 2**64) as floats instead of failing, so any run of 19+ digits (every
    # integer of 18 digits or fewer is in range) takes the stdlib path too.
    if _fast_loads is not None and not _long_digits(text):
        try:
            return _fast_loads(text)
        except _FastError:
            pass
    return _stdlib_decode(text)


#: Decode JSON text, raising ``ValueError`` (``json.JSONDecodeError``) or
#: ``RecursionError``: the bare codec for row mappers, which wrap errors themselves
#: (one call less per row than a wrapper function).
decode_text: Callable[[str], Any] = _decode


def encode_json(value: JSONValue, what: str) -> str:
    """Encode ``value`` as canonical JSON text.

    Args:
        value: Any JSON-serializable value (dict keys must be strings).
        what: What the value is, for the error message (``"message item"``).

    Returns:
        The JSON text, keys sorted, compact.

    Raises:
        InvalidRecord: The value is not JSON-serializable (a set, an object, NaN or
            Infinity, mixed-type keys), or is nested MAX_DEPTH (128) levels deep or
            more (the original cannot read that back).
    """
    text = _encode_fast(value)
    if text is not None:
        return text  # checked for depth already
    try:
        text = _encoder.encode(value)
    except (TypeError, ValueError) as exc:
        raise InvalidRecord(f"{what} is not JSON-serializable: {exc}") from exc
    except RecursionError as exc:
        raise _too_deep(what) from exc
    if _too_many_brackets(text) and _depth(text) >= MAX_DEPTH:
        raise _too_deep(what)
    return text


def _too_many_brackets(text: str | bytes) -> bool:
    """Whether ``text`` has MAX_DEPTH brackets and braces, needed to nest that deep.

    Two C-level counts (0.3 ns a byte), skipped for texts too short to hold them.
    """
    if len(text) < 2 * MAX_DEPTH:
        return False
    if isinstance(text, str):
        return text.count("[") + text.count("{") >= MAX_DEPTH
    return text.count(b"[") + text.count(b"{") >= MAX_DEPTH


def _too_deep(what: str) -> InvalidRecord:
    return InvalidRecord(
        f"{what} is nested too deeply to store: {MAX_DEPTH} or more levels of arrays "
        f"and objects, and the original cannot read JSON nested {MAX_DEPTH} deep"
    )


def _encode_fast(value: JSONValue) -> str | None:
    """orjson's encoding of ``value`` if it is provably the stdlib's and not too deep.

    orjson is 13x faster than the stdlib encoder (9.8 KB state: 75 -> 5.9 us) and
    writes the same canonical text (sorted keys, compact, non-ASCII as is), except:
    NaN and Infinity become ``null`` (the stdlib refuses them); UUIDs, plain Enum
    members and ``orjson.Fragment`` are serialized natively, without ``default`` (the
    stdlib refuses them); integers past 64 bits and non-str keys raise (the stdlib
    accepts them). Raising catches the last ones; :func:`_plain_depth` the others;
    either way (and for values nested MAX_DEPTH deep) the stdlib encoder then
    decides. Floats may be formatted differently only where both texts decode to the
    same float (``1e-7`` and ``1e-07``).
    """
    if _fast_dumps is None:
        return None
    try:
        data = _fast_dumps(value, default=_refuse, option=_FAST_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError, including nesting past 255
        return None
    depth = _plain_depth(value, data)
    if depth is None or depth >= MAX_DEPTH:
        return None
    return data.decode()


_PLAIN_TYPES = frozenset({dict, list, tuple, str, int, float, bool, type(None)})
_CONTAINERS = frozenset({dict, list, tuple})
_get_referents = gc.get_referents


def _plain_depth(value: JSONValue, data: bytes) -> int | None:
    """How deep ``value`` nests, or ``None`` if orjson's ``data`` for it may hold
    something the stdlib would refuse.

    Two proofs, the cheaper for the size. A short text is decoded and compared with
    the value (``null != nan``, ``"..." != UUID(...)``, ``"a" != E.A``): 0.4 us for a
    message item. A long one would take 19 us so (9.8 KB state); instead the value's
    objects are listed level by level through ``gc.get_referents`` (the items of
    lists and tuples, the keys and values of dicts, at C speed: 9 us) and must all be
    of the plain JSON types, exactly; with a float among them, a ``null`` in the
    text may be a NaN, so then the text must have none. The levels holding a
    container give the depth for free. orjson has refused cycles (it stops at depth
    255), so the walk ends.
    """
    if len(data) < 1024 and _fast_loads is not None:
        if _fast_loads(data) != value:
            return None
        return _depth(data.decode()) if _too_many_brackets(data) else 0
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
        if depth >= MAX_DEPTH:
            break
        level = _get_referents(*level)
    if has_float and b"null" in data:
        return None
    return depth


# Every byte to " " except brackets, braces, the quote and the backslash.
_STRUCTURE = bytes(b if b in b'[]{}"\\' else 0x20 for b in range(256))
_INNERMOST = re.compile(rb"\[\]|\{\}")


def _depth(text: str, cap: int = MAX_DEPTH) -> int:
    """How deep arrays and objects nest in JSON ``text`` (counting at most ``cap``).

    Brackets inside strings do not count. Everything runs at C speed: reduce the text
    to its brackets and quotes, drop escaped backslashes and quotes, drop what lies
    between quotes (the strings), then peel the innermost pairs one level per pass.
    """
    skeleton = text.encode("utf-8", "surrogatepass").translate(_STRUCTURE)
    skeleton = skeleton.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = b"".join(skeleton.split(b'"')[::2]).replace(b" ", b"")
    depth = 0
    while skeleton and depth < cap:
        # One left-to-right pass removes the pairs that were innermost before it.
        skeleton = _INNERMOST.sub(b"", skeleton)
        depth += 1
    return depth


def decode_json(text: str | bytes, *, table: str, row: str, column: str) -> JSONValue:
    """Decode JSON text read from ``table``.

    Raises:
        CorruptData: The text is not valid JSON; the message names table, row and column.
    """
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return _decode(text)
    except (ValueError, RecursionError) as exc:
        raise CorruptData(
            f"stored {column} in {table} ({row}) is not valid JSON: {exc}",
            table=table,
            row=row,
        ) from exc
