"""The row mappers' positional record constructor (``threadloom._fastrecords``).

It earns its place by the figures of ``python -m bench.internals``; here it must
build exactly the record ``__init__`` builds, still frozen and slotted.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.test_records import CHECKPOINT, MESSAGE, THREAD
from threadloom import CheckpointRecord, MessageRecord, ThreadMetadata
from threadloom._fastrecords import positional_builder


@pytest.mark.parametrize(
    ("record", "data"),
    [(ThreadMetadata, THREAD), (MessageRecord, MESSAGE), (CheckpointRecord, CHECKPOINT)],
)
def test_positional_builder_builds_the_same_frozen_record(
    record: Any, data: dict[str, Any]
) -> None:
    expected = record.from_dict(data)
    values = [getattr(expected, f.name) for f in dataclasses.fields(record)]
    built = positional_builder(record)(*values)
    assert type(built) is record
    assert built == expected
    if record is ThreadMetadata:  # the others hold JSON values (dicts): unhashable
        assert hash(built) == hash(expected)
    assert built.to_dict() == expected.to_dict()
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.created_at = 5
    assert not hasattr(built, "__dict__")


def test_positional_builder_falls_back_when_the_layout_differs() -> None:
    # A weakref slot the twin class lacks makes the __class__ switch impossible.
    @dataclasses.dataclass(frozen=True, slots=True, weakref_slot=True)
    class Weak:
        a: int
        b: str

    built = positional_builder(Weak)(1, "x")
    assert type(built) is Weak
    assert built == Weak(1, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.a = 2  # type: ignore[misc]
