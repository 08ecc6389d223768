"""JSON encoding and decoding of stored values, in one place.

Stored JSON is written the way the original writes it (serde_json without
``preserve_order``): object keys sorted, no insignificant whitespace, non-ASCII
characters as they are. Keeping every encode and decode here lets the codec be
measured and swapped without touching the backends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .errors import CorruptData, InvalidRecord

__all__ = ["JSONValue", "decode_json", "decode_text", "encode_json"]

#: A value that can be stored as JSON (checkpoint states, message items, tool schemas).
JSONValue = Any

_encoder = json.JSONEncoder(
    ensure_ascii=False,
    allow_nan=False,
    sort_keys=True,
    separators=(",", ":"),
)
_stdlib_decode = json.JSONDecoder().decode

try:
    import orjson

    _fast_loads: Callable[[str | bytes], Any] | None = orjson.loads
    _FastError: type[Exception] = orjson.JSONDecodeError
except ImportError:  # pragma: no cover - orjson is a dependency; stay correct without it
    _fast_loads = None
    _FastError = ValueError


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


def decode_text(text: str) -> Any:
    """Decode JSON text; the bare codec for row mappers, which wrap errors themselves.

    Raises:
        ValueError: The text is not valid JSON (``json.JSONDecodeError``).
        RecursionError: The text is nested too deeply for the stdlib decoder.
    """
    return _decode(text)


def encode_json(value: JSONValue, what: str) -> str:
    """Encode ``value`` as canonical JSON text.

    Args:
        value: Any JSON-serializable value (dict keys must be strings).
        what: What the value is, for the error message (``"message item"``).

    Returns:
        The JSON text, keys sorted, compact.

    Raises:
        InvalidRecord: The value is not JSON-serializable (a set, an object, NaN or
            Infinity, mixed-type keys), or is nested too deeply to encode.
    """
    try:
        return _encoder.encode(value)
    except (TypeError, ValueError) as exc:
        raise InvalidRecord(f"{what} is not JSON-serializable: {exc}") from exc
    except RecursionError as exc:
        raise InvalidRecord(f"{what} is nested too deeply to encode as JSON") from exc


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
