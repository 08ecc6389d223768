"""Argument checks of the workflow facade: every check runs before anything is written."""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Iterable
from typing import Final, TypeVar

from .._json import JSONValue, encode_json
from ..errors import InvalidRecord
from ..records import check_enum, check_i64, check_str

__all__ = [
    "UNSET",
    "Unset",
    "check_children",
    "check_limit",
    "check_opt_str",
    "check_passed",
    "check_score",
    "check_str",
    "check_time",
    "encode",
    "enum_value",
    "new_id",
]


class Unset(enum.Enum):
    """Marks an argument that was not given (``None`` is a value: JSON null, or SQL NULL)."""

    UNSET = "unset"


UNSET: Final = Unset.UNSET

_E = TypeVar("_E", bound=enum.StrEnum)


def new_id() -> str:
    """A fresh row id (random, so processes recording one run never collide)."""
    return uuid.uuid4().hex


def check_opt_str(value: object, name: str) -> str | None:
    """``None`` or a string."""
    return None if value is None else check_str(value, name)


def enum_value(value: object, enum_type: type[_E], name: str) -> str:
    """The stored text of a status or kind given as a member or its string.

    Raises:
        InvalidRecord: Not one of the enum's values (``InvalidRecord`` is a ``ValueError``).
    """
    return check_enum(value, enum_type, name).value


def check_time(value: object, name: str) -> int:
    """A Unix time in seconds (a 64-bit integer)."""
    return check_i64(value, name)


def check_limit(value: object, name: str) -> int:
    """A non-negative integer.

    Raises:
        InvalidRecord: Negative, or not an integer.
    """
    number = check_i64(value, name)
    if number < 0:
        raise InvalidRecord(f"{name} must not be negative, got {number}")
    return number


def check_score(value: object) -> float | None:
    """``None`` or a finite number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRecord(f"score must be a number or None, got {type(value).__name__}")
    score = float(value)
    if not math.isfinite(score):
        # SQLite would store NaN as NULL: refuse rather than lose it silently.
        raise InvalidRecord(f"score must be finite, got {value!r}")
    return score


def check_passed(value: object) -> int | None:
    """``None`` or a bool, as the column's 0/1."""
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidRecord(f"passed must be a bool or None, got {type(value).__name__}")
    return int(value)


def check_children(value: object) -> list[str]:
    """Selected children: node ids, as a list of strings."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidRecord("selected_children must be a sequence of node ids")
    children = list(value)
    for child in children:
        check_str(child, "selected_children item")
    return children


def encode(value: JSONValue, what: str) -> str:
    """Canonical JSON text of ``value``.

    Raises:
        InvalidRecord: Not JSON-serializable.
    """
    return encode_json(value, what)
