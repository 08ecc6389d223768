"""Canonical hashing of a leaf's inputs, the key replay looks up.

Two runs must give a leaf the same hash exactly when its inputs are equal, whatever
order a caller built its dicts in. So the hash is taken over canonical JSON: object
keys sorted, no insignificant whitespace, non-ASCII text as UTF-8 (not ``\\u``
escapes), ``NaN``/``Infinity`` refused (they are not JSON).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from .._json import JSONValue
from ..errors import InvalidRecord

__all__ = ["canonical_json", "compute_leaf_input_hash"]

_canonical = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode


def _check_keys(value: JSONValue, path: str) -> None:
    # json.dumps silently turns 1, True and None keys into "1", "true", "null", which
    # would make {1: x} and {"1": x} hash alike; canonical input has string keys only.
    stack: list[tuple[JSONValue, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise InvalidRecord(f"{where} has a non-string key {key!r}")
                stack.append((child, f"{where}.{key}"))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))


def canonical_json(value: JSONValue) -> str:
    """Encode ``value`` as canonical JSON text (sorted keys, compact, UTF-8 as is).

    Raises:
        InvalidRecord: The value is not JSON (a set, an object, NaN, a non-string key),
            or is nested too deeply.
    """
    _check_keys(value, "value")
    try:
        return _canonical(value)
    except (TypeError, ValueError) as exc:
        raise InvalidRecord(f"value is not JSON-serializable: {exc}") from exc
    except RecursionError as exc:
        raise InvalidRecord("value is nested too deeply to encode as JSON") from exc


def compute_leaf_input_hash(
    workflow_id: str,
    workflow_goal: str,
    leaf_spec: JSONValue,
    resolved_inputs: JSONValue,
) -> str:
    """Hash what determines a leaf's result, for replay.

    The hash is the hex SHA-256 of the UTF-8 bytes of the canonical JSON of
    ``{"workflow_id", "workflow_goal", "leaf", "resolved_inputs"}``.

    Args:
        workflow_id: The workflow spec's id.
        workflow_goal: The workflow's goal text.
        leaf_spec: The leaf's spec (prompt, role, profile, dependencies...) as JSON.
        resolved_inputs: The results of the leaves it depends on, as JSON.

    Returns:
        64 lowercase hex digits.

    Raises:
        InvalidRecord: An argument is not JSON-serializable (``InvalidRecord`` is a
            ``ValueError``), or ``workflow_id``/``workflow_goal`` is not a string.
    """
    if not isinstance(workflow_id, str) or not isinstance(workflow_goal, str):
        raise InvalidRecord("workflow_id and workflow_goal must be strings")
    text = canonical_json(
        {
            "workflow_id": workflow_id,
            "workflow_goal": workflow_goal,
            "leaf": leaf_spec,
            "resolved_inputs": resolved_inputs,
        }
    )
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRecord("leaf inputs hold a lone surrogate, which is not UTF-8") from exc
    return hashlib.sha256(data).hexdigest()
