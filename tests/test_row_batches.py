"""The batch row mappers read a list of rows exactly as the single-row mappers do.

``messages_from_rows`` (every message read) and ``threads_from_rows`` (every thread
list) pay the per-row steps once per read; whatever the rows hold, their records
and errors must be those of ``message_from_row`` / ``thread_from_row`` row by row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadloom.backends.common.rows import (
    message_from_row,
    messages_from_rows,
    text_decoder,
    thread_from_row,
    threads_from_rows,
)
from threadloom.errors import CorruptData

# Item texts: valid JSON of every kind, what orjson refuses but the stdlib reads
# (NaN, lone surrogate escapes), integers orjson misreads (19+ digits), broken text.
_ITEM_TEXTS = st.one_of(
    st.none(),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=8,
    ).map(lambda v: json.dumps(v, sort_keys=True)),
    st.sampled_from(
        [
            "NaN",
            '{"x": Infinity}',
            '"\\ud800"',
            "12345678901234567890",
            '{"n": -99999999999999999999}',
            '{"i": 2',
            "",
            "nope",
            "[" * 2000 + "]" * 2000,
        ]
    ),
)


def _rows(texts: Sequence[Any]) -> list[tuple[Any, ...]]:
    return [
        (i + 1, "t", "user", f"m{i}", text, 1700000000, i or None) for i, text in enumerate(texts)
    ]


def _outcome(read: Callable[[], Any]) -> Any:
    try:
        return ("ok", read())
    except CorruptData as exc:
        return ("corrupt", str(exc), exc.table, exc.row)


@settings(max_examples=200, deadline=None)
@given(st.lists(_ITEM_TEXTS, max_size=8))
def test_messages_from_rows_is_message_from_row_per_row(texts: list[Any]) -> None:
    rows = _rows(texts)
    one_by_one = _outcome(lambda: [message_from_row(row, text_decoder) for row in rows])
    assert _outcome(lambda: messages_from_rows(rows, text_decoder)) == one_by_one


@pytest.mark.parametrize("odd", [7, b'{"a": 1}', 2.5])
def test_items_stored_as_other_types_take_the_row_by_row_path(odd: Any) -> None:
    rows = _rows(['{"a": 1}', odd])

    def outcome(read: Callable[[], Any]) -> Any:
        try:
            return ("ok", read())
        except Exception as exc:  # whatever the single-row mapper does, the batch does
            return (type(exc), str(exc))

    one_by_one = outcome(lambda: [message_from_row(row, text_decoder) for row in rows])
    assert outcome(lambda: messages_from_rows(rows, text_decoder)) == one_by_one


_THREAD_ROWS = st.tuples(
    st.sampled_from(["running", "idle", "archived", "bogus", "", 3, None]),
    st.sampled_from(["interactive", "api", "bogus", 0, None]),
    st.sampled_from([None, 5, "7", "not-a-number", 2.0]),
    st.sampled_from([0, 1, 2]),
).map(
    lambda v: (
        "t1",
        None,
        "p",
        v[3],
        "deepseek",
        1,
        2,
        v[0],
        None,
        "/w",
        "0.1",
        v[1],
        "n",
        None,
        None,
        v[3],
        None,
        None,
        None,
        None,
        None,
        v[2],
    )
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_THREAD_ROWS, max_size=6))
def test_threads_from_rows_is_thread_from_row_per_row(rows: list[tuple[Any, ...]]) -> None:
    one_by_one = _outcome(lambda: [thread_from_row(row) for row in rows])
    batch = _outcome(lambda: threads_from_rows(rows))
    assert batch == one_by_one
    if batch[0] == "ok":
        assert [type(t.status) for t in batch[1]] == [type(t.status) for t in one_by_one[1]]
