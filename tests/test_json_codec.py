"""The JSON codec: orjson where it provably writes what the stdlib would, else the stdlib.

Every value the stdlib encoder refuses must still raise InvalidRecord; every value it
accepts must be stored as text that decodes to exactly what the stdlib text decodes to
(byte for byte the same text, except float formatting such as ``1e16``); values nested
128 levels deep or more are refused because the original cannot read them.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import enum
import json
import math
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadloom import InvalidRecord
from threadloom._json import MAX_DEPTH, _depth, decode_text, encode_json

_STDLIB = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)


def _stdlib(value: Any) -> str:
    return _STDLIB.encode(value)


class Plain(enum.Enum):
    A = "a"


class Number(enum.IntEnum):
    ONE = 1


class Word(enum.StrEnum):
    HELLO = "hello"


class MyStr(str):
    pass


class MyInt(int):
    pass


class MyFloat(float):
    pass


class MyDict(dict[str, Any]):
    pass


class MyList(list[Any]):
    pass


@dataclasses.dataclass
class Point:
    x: int = 1


Pair = collections.namedtuple("Pair", "a b")


def _nested(depth: int, leaf: Any = "leaf") -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


# -- values the stdlib refuses: InvalidRecord, whatever orjson would do ---------------

REFUSED = {
    "nan": math.nan,
    "infinity": math.inf,
    "minus infinity": -math.inf,
    "nested nan": {"a": [1, {"b": math.nan}]},
    "uuid (orjson writes it natively)": uuid.UUID(int=5),
    "plain enum (orjson writes its value)": Plain.A,
    "plain enum in a list": [Plain.A],
    "orjson fragment (orjson inserts it raw)": orjson.Fragment(b"[1]"),
    "dataclass": Point(),
    "datetime": datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
    "date": datetime.date(2020, 1, 1),
    "time": datetime.time(12, 0),
    "set": {1, 2},
    "bytes": b"x",
    "object": object(),
    "mixed-type keys": {1: "a", "b": 2},
}


@pytest.mark.parametrize("value", REFUSED.values(), ids=REFUSED.keys())
def test_what_the_stdlib_refuses_is_refused(value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        _stdlib(value)
    with pytest.raises(InvalidRecord, match="checkpoint state"):
        encode_json(value, "checkpoint state")


def test_numpy_values_are_refused_or_written_like_the_stdlib() -> None:
    np = pytest.importorskip("numpy")
    # float64 subclasses float: the stdlib writes it, so do we, the same way.
    assert encode_json({"x": np.float64(1.5)}, "state") == _stdlib({"x": np.float64(1.5)})
    for value in (np.int64(3), np.array([1, 2]), np.float32(1.5)):
        with pytest.raises(InvalidRecord):
            encode_json(value, "state")


# -- values the stdlib accepts: the same text -------------------------------------------

ACCEPTED = {
    "small item": {"type": "text", "index": 5, "meta": {"tokens": 17, "cached": False}},
    "null values": {"a": None, "b": [None, True, False]},
    "non-ASCII and escapes": {"é": 'ü\u2028\x00\x1f\x7f"\\/', "emoji": "🆗"},
    "int keys": {1: "a", 2: "b"},
    "bool keys": {True: 1, False: 2},
    "None key": {None: 1},
    "float keys": {1.5: "x"},
    "str subclass keys": {MyStr("k"): 1, Word.HELLO: 2},
    "int beyond 64 bits": [2**64, -(2**63) - 1, 10**40],
    "u64 max": 2**64 - 1,
    "i64 min": -(2**63),
    "int enum": [Number.ONE],
    "str enum": {"w": Word.HELLO},
    "str subclass": MyStr("x"),
    "int subclass": MyInt(3),
    "float subclass": MyFloat(1.5),
    "dict subclass": MyDict(a=1),
    "list subclass": MyList([1, 2]),
    "tuple": (1, "a", (2,)),
    "namedtuple": Pair(1, 2),
    "empty containers": [{}, [], ""],
    "lone surrogate (refused later, when stored)": "\ud800",
}


@pytest.mark.parametrize("value", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_what_the_stdlib_accepts_is_written_as_the_stdlib_writes_it(value: Any) -> None:
    assert encode_json(value, "message item") == _stdlib(value)


def test_floats_decode_to_the_same_floats() -> None:
    floats = [0.1, -0.0, 5e-324, 1.7976931348623157e308, 1e16, 1e-7, 123456.789, 1 / 3]
    text = encode_json(floats, "state")
    # orjson writes 1e-7 where the stdlib writes 1e-07: the same float either way.
    back = json.loads(text)
    assert back == json.loads(_stdlib(floats)) == floats
    assert [math.copysign(1, x) for x in back] == [math.copysign(1, x) for x in floats]


_FILLER = [{"role": "user", "content": "x" * 40, "n": i} for i in range(40)]  # > 1 KB


_JSON_KEYS = st.text(max_size=8)
_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_JSON_KEYS, inner, max_size=4),
    max_leaves=20,
)
_LONG_JSON_VALUES = st.builds(lambda v: {"filler": _FILLER, "v": v}, _JSON_VALUES)


@settings(max_examples=400, deadline=None)
@given(_JSON_VALUES | _LONG_JSON_VALUES)
def test_any_json_value_is_stored_as_the_stdlib_would_store_it(value: Any) -> None:
    try:
        expected = _stdlib(value)
    except ValueError:  # NaN or Infinity somewhere
        with pytest.raises(InvalidRecord):
            encode_json(value, "item")
        return
    text = encode_json(value, "item")
    # Same value back (floats may be formatted differently, never to another float).
    assert json.loads(text) == json.loads(expected)
    assert decode_text(text) == json.loads(expected)
    if not _has_float(value):
        # Only float formatting may differ: without floats, the text is the stdlib's.
        assert text == expected


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


# -- nesting depth ----------------------------------------------------------------------


def test_depth_limit_is_the_originals() -> None:
    assert MAX_DEPTH == 128
    assert json.loads(encode_json(_nested(127), "checkpoint state")) == _nested(127)
    with pytest.raises(InvalidRecord, match=r"128.*the original cannot read"):
        encode_json(_nested(128), "checkpoint state")
    with pytest.raises(InvalidRecord, match="the original cannot read"):
        encode_json(_nested(129, leaf=[1, 2]), "message item")
    # Long texts measure depth on the way (a type walk), short ones from the text.
    long_127 = {"filler": _FILLER, "deep": _nested(125, leaf=[])}  # 1 + 125 + 1 levels
    assert json.loads(encode_json(long_127, "state")) == long_127
    for long_128 in (
        {"filler": _FILLER, "deep": _nested(126, leaf=[])},
        [_nested(126, leaf={}), _FILLER],
    ):
        with pytest.raises(InvalidRecord, match="the original cannot read"):
            encode_json(long_128, "state")
    # Deep enough that orjson refuses (255) and the stdlib recurses: the same error.
    for depth in (300, 10_000):
        with pytest.raises(InvalidRecord, match="nested too deeply"):
            encode_json(_nested(depth), "message item")


def test_brackets_inside_strings_do_not_count() -> None:
    tricky = [
        "[" * 500,
        "{" * 500 + '"' + "[" * 200,
        '\\"[[[',
        "\\",
        "\\\\[",
        {"[" * 300: "{" * 300},
    ]
    for leaf in tricky:
        value = _nested(120, leaf=leaf)
        text = encode_json(value, "state")
        assert json.loads(text) == value
        assert _depth(text, 1000) == 120 + (1 if isinstance(leaf, dict) else 0)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"[[["', 0),
        ("[]", 1),
        ('[{"a":[1,{"b":[]}]},[[[]]]]', 5),
        ('{"a\\"[":"\\\\"}', 1),
        ('["\\\\\\"{{", [[]]]', 3),
        ('[{"x":"\\n["}]', 2),
    ],
)
def test_depth_of_json_text(text: str, depth: int) -> None:
    assert _depth(text, 1000) == depth
    assert _depth(text, 1000) == _depth_by_walking(json.loads(text))


def _depth_by_walking(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth_by_walking(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth_by_walking(v) for v in value), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.text(alphabet='[]{}"\\ab\n', max_size=6) | st.integers(),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text('[{"\\', max_size=3), inner, max_size=3)
        ),
        max_leaves=30,
    )
)
def test_depth_matches_a_walk_of_the_value(value: Any) -> None:
    assert _depth(_stdlib(value), 1000) == _depth_by_walking(value)
