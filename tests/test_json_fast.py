"""orjson's path to stored JSON (``threadloom._json_fast``): taken only where proved.

It earns its place by the figures of ``python -m bench.internals``. Short texts are
proved by a decode and compare, long ones by a walk of the value's types; both must
give the stdlib's exact text or step aside (``None``) for the stdlib encoder.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import orjson
import pytest

from tests.test_json_codec import (
    _FILLER,
    MyStr,
    Plain,
    Point,
    Word,
    _nested,
    _stdlib,
)
from threadloom import InvalidRecord
from threadloom._json import MAX_DEPTH, encode_json
from threadloom._json_fast import encode_fast


def _fast_text(value: Any) -> str | None:
    proved = encode_fast(value, MAX_DEPTH)
    return None if proved is None else proved[0]


def test_the_fast_path_takes_plain_values_and_leaves_the_rest() -> None:
    plain = {"b": [1, 2.5, None, True, "é"], "a": {"x": -(2**63), "y": 2**64 - 1}}
    assert _fast_text(plain) == _stdlib(plain)
    for value in (
        math.nan,
        uuid.UUID(int=5),
        Plain.A,
        orjson.Fragment(b"1"),
        2**64,
        1e16,  # orjson writes 1e+16, serde_json 1e16
        {1: 2},
        MyStr("x"),
        Point(),
        _nested(300),
    ):
        assert _fast_text(value) is None, value


def test_depth_comes_from_the_walk_for_long_values_only() -> None:
    short = _nested(5)
    assert encode_fast(short, MAX_DEPTH) == (_stdlib(short), None)
    long = {"filler": _FILLER, "deep": _nested(5)}
    assert encode_fast(long, MAX_DEPTH) == (_stdlib(long), 6)  # 1 + 5 levels
    assert encode_fast(long, 4) == (_stdlib(long), 4)  # the walk stops at the cap


@pytest.mark.parametrize(
    "odd",
    [uuid.UUID(int=5), Plain.A, orjson.Fragment(b"1"), math.nan, -math.inf, Point()],
    ids=["uuid", "plain enum", "fragment", "nan", "-inf", "dataclass"],
)
def test_long_values_are_checked_as_strictly_as_short_ones(odd: Any) -> None:
    # Long texts are proved by a type walk instead of a decode: the same verdicts.
    for value in ({"history": _FILLER, "z": odd}, [*_FILLER, [{"deep": [odd]}]]):
        assert len(_stdlib(_FILLER)) > 1024
        assert encode_fast(value, MAX_DEPTH) is None
        with pytest.raises(InvalidRecord):
            encode_json(value, "checkpoint state")


def test_long_values_with_nulls_take_the_fast_path_unless_floats_could_be_nan() -> None:
    without_floats = {"history": _FILLER, "none": None}
    assert _fast_text(without_floats) == _stdlib(without_floats)
    with_floats = {"history": _FILLER, "none": None, "f": 0.5}
    assert _fast_text(with_floats) is None  # a null could be a NaN: the stdlib decides
    assert encode_json(with_floats, "state") == _stdlib(with_floats)
    plain_floats = {"history": _FILLER, "f": 0.5, "t": (1, 2)}
    assert _fast_text(plain_floats) == _stdlib(plain_floats)
    subclass = {"history": _FILLER, "s": MyStr("x"), "w": Word.HELLO}
    assert encode_json(subclass, "state") == _stdlib(subclass)


def test_long_prose_with_e_plus_stays_fast_but_a_long_value_with_an_exponent_does_not() -> None:
    prose = {"text": "size+e+more " * 200}  # no float: the text's "e+" is no exponent
    assert encode_fast(prose, MAX_DEPTH) is not None
    exponent = {"pad": "x" * 2000, "big": 1e16}
    assert encode_fast(exponent, MAX_DEPTH) is None  # orjson writes 1e+16
    assert encode_json(exponent, "state").startswith('{"big":1e16,"pad":"xxx')
