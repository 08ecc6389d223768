"""Canonical hashing of a leaf's inputs, the key replay looks up.

Two runs must give a leaf the same hash exactly when its inputs are equal, whatever
order a caller built its dicts in, and a program in another language must be able to
compute the same hash. So the hash is taken over RFC 8785 (JCS) canonical JSON, made by
the store's one JSON encoder (:func:`threadloom._json.encode_jcs`): object keys in
UTF-16 code-unit order, no insignificant whitespace, non-ASCII text as UTF-8 (not
``\\u`` escapes), numbers as ECMAScript prints them (``1.0`` is ``1``, ``1e30`` is
``1e+30``), ``NaN``/``Infinity``, non-string keys and integers beyond +-2**53 refused.

This is threadloom's own hash. The original's Rust workflow engine hashes serde's
output for its own structs (fields in declaration order, not sorted), so its hashes
differ from these; a replay matches only hashes computed the same way.
"""

from __future__ import annotations

import hashlib

from .._json import JSONValue, encode_jcs
from ..errors import InvalidRecord

__all__ = ["canonical_json", "compute_leaf_input_hash"]


def canonical_json(value: JSONValue) -> str:
    """Encode ``value`` as RFC 8785 (JCS) canonical JSON text.

    Raises:
        InvalidRecord: The value is not JSON (a set, an object, NaN, a non-string key),
            holds an integer beyond +-2**53, or is nested too deeply.
    """
    return encode_jcs(value)


def compute_leaf_input_hash(
    workflow_id: str,
    workflow_goal: str,
    leaf_spec: JSONValue,
    resolved_inputs: JSONValue,
) -> str:
    """Hash what determines a leaf's result, for replay.

    The hash is the hex SHA-256 of the UTF-8 bytes of the RFC 8785 (JCS) canonical
    JSON of ``{"workflow_id", "workflow_goal", "leaf", "resolved_inputs"}``.

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
