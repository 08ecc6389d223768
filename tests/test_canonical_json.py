"""The one JSON encoder: storage bytes as serde_json writes them, hash input per RFC 8785.

Replay hashes must be reproducible in another language, so they are taken over RFC 8785
(JCS) canonical JSON; the figures below are the RFC's own published examples
(Appendix B: IEEE-754 doubles and their JCS text; section 3.2.3: key order). Stored
JSON must be the original's bytes: serde_json's ryu layout, checked here on its
boundaries and, against the compiled original, in ``tests/test_golden_bytes.py``.
"""

from __future__ import annotations

import hashlib
import math
import random
import struct
from typing import Any

import pytest

from threadloom import InvalidRecord, compute_leaf_input_hash
from threadloom._json import encode_jcs, encode_json, jcs_number, serde_float
from threadloom.workflows import canonical_json

#: RFC 8785 Appendix B: IEEE-754 bit patterns and their canonical JSON numbers.
RFC8785_NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


def _double(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


@pytest.mark.parametrize(("bits", "expected"), RFC8785_NUMBERS)
def test_rfc8785_number_examples(bits: str, expected: str) -> None:
    assert jcs_number(_double(bits)) == expected
    assert encode_jcs([_double(bits)]) == f"[{expected}]"


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_rfc8785_refuses_nan_and_infinity(bits: str) -> None:
    with pytest.raises(InvalidRecord):
        encode_jcs({"x": _double(bits)})


def test_rfc8785_section_3_2_2_example() -> None:
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": '\u20ac$\u000f\nA\'B"\\\\"/',
        "literals": [None, True, False],
    }
    assert encode_jcs(value) == (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )


def test_rfc8785_keys_sort_by_utf16_code_units() -> None:
    # Section 3.2.3's example: code-point order would put U+FB33 before U+1F600.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = [
        "\r",
        "1",
        "\u0080",
        "\u00f6",
        "\u20ac",
        "\U0001f600",
        "\ufb33",
    ]
    assert encode_jcs(value) == encode_jcs({k: value[k] for k in keys})
    text = encode_jcs(value)
    assert [text.index(f'"{k}"' if k != "\r" else '"\\r"') for k in keys] == sorted(
        text.index(f'"{k}"' if k != "\r" else '"\\r"') for k in keys
    )


def test_integers_beyond_2_53_are_refused_for_hashing() -> None:
    assert encode_jcs([2**53, -(2**53)]) == "[9007199254740992,-9007199254740992]"
    for big in (2**53 + 1, -(2**53) - 1, 2**63):
        with pytest.raises(InvalidRecord, match="2\\*\\*53"):
            compute_leaf_input_hash("w", "g", {"n": big}, {})


def test_one_and_one_point_zero_hash_alike_as_in_every_jcs_implementation() -> None:
    assert canonical_json({"x": 1.0}) == canonical_json({"x": 1}) == '{"x":1}'
    assert compute_leaf_input_hash("w", "g", {"x": 1.0}, {}) == compute_leaf_input_hash(
        "w", "g", {"x": 1}, {}
    )


def test_the_leaf_hash_is_sha256_of_the_jcs_text() -> None:
    spec = {"temperature": 0.7, "max_tokens": 1e3, "stop": ["\U0001f600", "\ufb33"]}
    text = (
        '{"leaf":{"max_tokens":1000,"stop":["\U0001f600","\ufb33"],"temperature":0.7},'
        '"resolved_inputs":{"big":1e+30},"workflow_goal":"g","workflow_id":"w"}'
    )
    expected = hashlib.sha256(text.encode()).hexdigest()
    assert compute_leaf_input_hash("w", "g", spec, {"big": 1e30}) == expected


# -- storage: serde_json's layout -----------------------------------------------------

#: Boundaries of ryu's layouts (as serde_json writes them; checked with the original).
SERDE_FLOATS = [
    (0.0, "0.0"),
    (-0.0, "-0.0"),
    (1.0, "1.0"),
    (0.1, "0.1"),
    (2.5, "2.5"),
    (1e15, "1000000000000000.0"),
    (1e16, "1e16"),
    (1.5e16, "1.5e16"),
    (1e21, "1e21"),
    (1e300, "1e300"),
    (1e-5, "0.00001"),
    (1.5e-5, "0.000015"),
    (1e-6, "1e-6"),
    (1e-7, "1e-7"),
    (123456.789, "123456.789"),
    (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e308"),
    (-2.5e-10, "-2.5e-10"),
]


@pytest.mark.parametrize(("value", "expected"), SERDE_FLOATS)
def test_stored_floats_have_serde_json_layout(value: float, expected: str) -> None:
    assert serde_float(value) == expected
    # Both encoding paths give the same bytes: orjson's (a plain list) and the
    # pure-Python one (an int key sends the value there).
    assert encode_json([value], "x") == f"[{expected}]"
    assert encode_json({1: value}, "x") == f'{{"1":{expected}}}'


def test_both_encoding_paths_agree_on_random_doubles() -> None:
    rng = random.Random(8785)
    values: list[Any] = []
    while len(values) < 3000:
        value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(value):
            values.append(value)
    fast = encode_json(values, "x")
    slow = encode_json({0: values}, "x")
    assert slow == '{"0":' + fast + "}"
    assert fast == "[" + ",".join(serde_float(v) for v in values) + "]"
    # Every text reads back as the same float.
    assert [float(part) for part in fast[1:-1].split(",")] == values
