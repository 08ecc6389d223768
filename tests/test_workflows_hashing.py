"""``compute_leaf_input_hash``: canonical, stable across key order and unicode."""

from __future__ import annotations

import hashlib
import random
import unicodedata
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadloom import InvalidRecord, compute_leaf_input_hash
from threadloom.workflows import canonical_json

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)  # RFC 8785: exact doubles only
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _reordered(value: Any, rng: random.Random) -> Any:
    """The same JSON value with every object's keys inserted in a shuffled order."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: _reordered(value[k], rng) for k in keys}
    if isinstance(value, list):
        return [_reordered(v, rng) for v in value]
    return value


@settings(max_examples=60, deadline=None)
@given(spec=json_values, inputs=json_values, seed=st.integers(0, 2**32))
def test_hash_ignores_key_order(spec: Any, inputs: Any, seed: int) -> None:
    rng = random.Random(seed)
    first = compute_leaf_input_hash("wf", "goal", spec, inputs)
    again = compute_leaf_input_hash("wf", "goal", _reordered(spec, rng), _reordered(inputs, rng))
    assert first == again
    assert len(first) == 64 and int(first, 16) >= 0


@settings(max_examples=60, deadline=None)
@given(a=json_values, b=json_values)
def test_hash_differs_when_inputs_differ(a: Any, b: Any) -> None:
    if canonical_json(a) != canonical_json(b):
        assert compute_leaf_input_hash("w", "g", a, {}) != compute_leaf_input_hash("w", "g", b, {})
        assert compute_leaf_input_hash("w", "g", {}, a) != compute_leaf_input_hash("w", "g", {}, b)


def test_hash_is_sha256_of_the_documented_canonical_form() -> None:
    spec = {"role": "coder", "prompt": "réécris ✓ 日本"}
    inputs = {"dep-1": {"b": 2, "a": [1, "x"]}}
    expected_text = (
        '{"leaf":{"prompt":"réécris ✓ 日本","role":"coder"},'
        '"resolved_inputs":{"dep-1":{"a":[1,"x"],"b":2}},'
        '"workflow_goal":"but ✓","workflow_id":"wf-é"}'
    )
    expected = hashlib.sha256(expected_text.encode("utf-8")).hexdigest()
    assert compute_leaf_input_hash("wf-é", "but ✓", spec, inputs) == expected


def test_unicode_is_hashed_as_utf8_not_escapes_and_not_normalized() -> None:
    composed = unicodedata.normalize("NFC", "café")
    decomposed = unicodedata.normalize("NFD", "café")
    assert canonical_json({"p": composed}) == '{"p":"café"}'
    h1 = compute_leaf_input_hash("w", "g", {"p": composed}, {})
    assert h1 == compute_leaf_input_hash("w", "g", {"p": "caf\u00e9"}, {})
    # Different code points are different inputs: no silent normalization.
    assert h1 != compute_leaf_input_hash("w", "g", {"p": decomposed}, {})
    emoji = compute_leaf_input_hash("w", "g", {"p": "🐳"}, {"🔑": "✓"})
    assert emoji == compute_leaf_input_hash("w", "g", {"p": "\U0001f433"}, {"\U0001f511": "\u2713"})


def test_tuples_hash_like_lists() -> None:
    assert compute_leaf_input_hash("w", "g", {"deps": ("a", "b")}, []) == compute_leaf_input_hash(
        "w", "g", {"deps": ["a", "b"]}, ()
    )


@pytest.mark.parametrize(
    "bad",
    [
        {1: "int key"},
        {"a": {None: 1}},
        {"x": {1, 2}},
        float("nan"),
        [float("inf")],
        object(),
        "\ud800",
    ],
)
def test_non_json_inputs_raise_value_error(bad: Any) -> None:
    with pytest.raises(InvalidRecord):
        compute_leaf_input_hash("w", "g", bad, {})
    with pytest.raises(ValueError):
        compute_leaf_input_hash("w", "g", {}, bad)


def test_ids_must_be_strings() -> None:
    with pytest.raises(ValueError):
        compute_leaf_input_hash(1, "g", {}, {})  # type: ignore[arg-type]
