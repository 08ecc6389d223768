"""JSON encoding and decoding of stored values and of hashed values, in one place.

Stored JSON is written byte for byte the way the original writes it (serde_json
without ``preserve_order``): object keys sorted, no insignificant whitespace,
non-ASCII characters as they are, floats in serde_json's (ryu's) shortest form
(``1e300``, ``1e-7``, ``1000000000000000.0``, ``1e16``). Hashed JSON (workflow replay
keys) is RFC 8785 (JCS) canonical JSON, which any language can reproduce: keys in
UTF-16 order, numbers as ECMAScript prints them (``1e+30``, ``4.5``, ``1`` for
``1.0``). Both go through one encoder, :func:`_iterencode`, that differs only in how
it prints floats and orders keys; :mod:`threadloom._json_fast` is orjson's path to the
same storage bytes, taken only where it is proved to give them.
Keeping every encode and decode here lets the codec be measured and swapped without
touching the backends.
"""

from __future__ import annotations

import json
import json.encoder
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ._json_fast import encode_fast
from .errors import CorruptData, InvalidRecord

__all__ = [
    "MAX_DEPTH",
    "JSONValue",
    "decode_json",
    "decode_text",
    "encode_jcs",
    "encode_json",
    "fast_loads_for",
    "jcs_number",
    "serde_float",
]

#: A value that can be stored as JSON (checkpoint states, message items, tool schemas).
JSONValue = Any

_stdlib_decode = json.JSONDecoder().decode

#: The original (serde_json) refuses to parse JSON nested this deep: a checkpoint of
#: 127 nested arrays reads back there, 128 reads as null, and a message item or a
#: tool schema that deep fails the whole read. So we never write one.
MAX_DEPTH = 128


def _shortest_digits(value: float) -> tuple[str, int]:
    """The shortest round-trip digits of finite, nonzero ``abs(value)`` and the decimal
    point's position: ``value == 0.<digits> * 10**point``.

    ``float.__repr__`` gives the shortest digits that read back as the same float, the
    digits serde_json's ryu and ECMAScript print too; only the layout differs.
    """
    mantissa, _, exponent = float.__repr__(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    return significant.rstrip("0"), point


def _refuse_non_finite(value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")


def serde_float(value: float) -> str:
    """``value`` as serde_json (the original) writes an ``f64``: ryu's layout.

    Raises:
        ValueError: NaN or an infinity (not JSON).
    """
    _refuse_non_finite(value)
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0.0"
    digits, point = _shortest_digits(value)
    length = len(digits)
    if length <= point <= 16:
        body = digits + "0" * (point - length) + ".0"
    elif 0 < point <= 16:
        body = f"{digits[:point]}.{digits[point:]}"
    elif -5 < point <= 0:
        body = "0." + "0" * -point + digits
    else:
        body = digits[0] + (f".{digits[1:]}" if length > 1 else "") + f"e{point - 1}"
    return sign + body


#: Integers JCS can carry: RFC 8785 numbers are IEEE doubles, exact up to 2**53.
JCS_MAX_INT = 2**53


def jcs_number(value: float) -> str:
    """``value`` as RFC 8785 (JCS) writes a number: ECMAScript's ``Number.toString``.

    Raises:
        ValueError: NaN or an infinity (not JSON).
    """
    _refuse_non_finite(value)
    if value == 0:
        return "0"  # -0 too
    sign = "-" if value < 0 else ""
    digits, point = _shortest_digits(value)
    length = len(digits)
    if length <= point <= 21:
        body = digits + "0" * (point - length)
    elif 0 < point <= 21:
        body = f"{digits[:point]}.{digits[point:]}"
    elif -6 < point <= 0:
        body = "0." + "0" * -point + digits
    else:
        exponent = point - 1
        body = (
            digits[0]
            + (f".{digits[1:]}" if length > 1 else "")
            + ("e+" if exponent >= 0 else "e-")
            + str(abs(exponent))
        )
    return sign + body


def _refuse_default(value: object) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _iterencode(value: JSONValue, floatstr: Callable[[float], str], sort_keys: bool) -> str:
    """The one encoder of stored and hashed JSON: compact, non-ASCII as is.

    The stdlib's pure-Python encoder loop, which lets the float layout be chosen
    (its C loop always prints ``repr``). Everything else is the ``json`` module's:
    string escapes, int keys written as strings, tuples as lists, circular
    references and non-JSON values refused.

    Raises:
        TypeError: A value or key that is not JSON, or keys that cannot be sorted.
        ValueError: NaN or an infinity, or a circular reference.
        RecursionError: Nesting past Python's recursion limit.
    """
    chunks = json.encoder._make_iterencode(  # type: ignore[attr-defined]
        {},
        _refuse_default,
        json.encoder.py_encode_basestring,
        None,
        floatstr,
        ":",
        ",",
        sort_keys,
        False,
        True,
    )
    parts: Iterator[str] = chunks(value, 0)
    return "".join(parts)


def _storage_text(value: JSONValue) -> str:
    return _iterencode(value, serde_float, True)


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _jcs_ready(value: JSONValue, depth: int = 0) -> JSONValue:
    """A copy of ``value`` with JCS's rules applied that the encoder cannot apply.

    Objects get their keys in UTF-16 code-unit order (RFC 8785 section 3.2.3; Python
    sorts by code point, which differs past U+FFFF); integers must be exact doubles.

    Raises:
        InvalidRecord: A non-string key, or an integer beyond +-2**53.
    """
    if depth > MAX_DEPTH:
        raise InvalidRecord(f"value is nested too deeply: {MAX_DEPTH} levels or more")
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                # json.dumps would write 1, True and None keys as "1", "true", "null":
                # {1: x} and {"1": x} would then hash alike.
                raise InvalidRecord(f"hashed JSON has a non-string key {key!r}")
        return {key: _jcs_ready(value[key], depth + 1) for key in sorted(value, key=_utf16_key)}
    if isinstance(value, list | tuple):
        return [_jcs_ready(item, depth + 1) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > JCS_MAX_INT:
        raise InvalidRecord(
            f"integer {value} is beyond +-2**53: RFC 8785 numbers are IEEE doubles, so "
            "another language would read it rounded; pass it as a string"
        )
    return value


def encode_jcs(value: JSONValue) -> str:
    """Encode ``value`` as RFC 8785 (JCS) canonical JSON text.

    Raises:
        InvalidRecord: The value is not JSON (a set, an object, NaN, a non-string key),
            holds an integer beyond +-2**53, or is nested too deeply.
    """
    ready = _jcs_ready(value)
    try:
        return _iterencode(ready, jcs_number, False)
    except (TypeError, ValueError) as exc:
        raise InvalidRecord(f"value is not JSON-serializable: {exc}") from exc
    except RecursionError as exc:
        raise InvalidRecord("value is nested too deeply to encode as JSON") from exc


try:
    import orjson

    _fast_loads: Callable[[str | bytes], Any] | None = orjson.loads
    _FastError: type[Exception] = orjson.JSONDecodeError
except ImportError:  # pragma: no cover - orjson is a dependency; stay correct without it
    _fast_loads = None
    _FastError = ValueError


# Every ASCII digit to "9", every other byte to " ": a run of 19 digits is then a plain
# substring search, at C speed (a regex scan can cost more than the decode itself).
_DIGITS_TO_NINE = bytes(0x39 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_NINETEEN_DIGITS = b"9" * 19


def _long_digits(text: str) -> bool:
    return _NINETEEN_DIGITS in text.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_NINE)


def _decode(text: str) -> Any:
    # orjson decodes several times faster, and decoding dominates list_messages.
    # Whatever it refuses (NaN/Infinity literals, lone surrogate escapes, nesting past
    # 1024) goes to the stdlib decoder, so every result, and every error, is exactly
    # the stdlib's. orjson reads integers outside [-2**63, 2**64) as floats instead of
    # failing, so any run of 19+ digits (every integer of 18 digits or fewer is in
    # range) takes the stdlib path too.
    if _fast_loads is not None and not _long_digits(text):
        try:
            return _fast_loads(text)
        except _FastError:
            pass
    return _stdlib_decode(text)


def fast_loads_for(texts: str) -> Callable[[str], Any] | None:
    """orjson's ``loads`` if it reads each of ``texts`` exactly as :func:`decode_text`.

    For a read of many rows: the 19-digit scan of :func:`decode_text` runs once over
    their texts joined by a non-digit, instead of once per row. A text the returned
    function refuses (it raises ``ValueError``) goes to :func:`decode_json`, which
    gives the stdlib's answer or error, as :func:`decode_text` would.

    Returns:
        The decoder, or ``None`` (no orjson, or a run of 19+ digits somewhere).
    """
    if _fast_loads is None or _long_digits(texts):
        return None
    return _fast_loads


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
        The JSON text, keys sorted, compact, floats as serde_json writes them: the
        bytes the original stores for the same value.

    Raises:
        InvalidRecord: The value is not JSON-serializable (a set, an object, NaN or
            Infinity, mixed-type keys), or is nested MAX_DEPTH (128) levels deep or
            more (the original cannot read that back).
    """
    proved = encode_fast(value, MAX_DEPTH)
    if proved is not None:
        text, depth = proved
        if depth is None:
            depth = _depth(text) if _too_many_brackets(text) else 0
        if depth < MAX_DEPTH:
            return text
        # Too deep: the stdlib encoder below refuses it, with its own reason.
    try:
        text = _storage_text(value)
    except (TypeError, ValueError) as exc:
        raise InvalidRecord(f"{what} is not JSON-serializable: {exc}") from exc
    except RecursionError as exc:
        raise _too_deep(what) from exc
    if _too_many_brackets(text) and _depth(text) >= MAX_DEPTH:
        raise _too_deep(what)
    return text


def _too_many_brackets(text: str | bytes) -> bool:
    """Whether ``text`` has MAX_DEPTH brackets and braces, needed to nest that deep.

    Two C-level counts, skipped for texts too short to hold them.
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
