"""Golden bytes: threadloom stores exactly the JSON bytes the original stores.

The parity tests compare decoded values, and dict equality ignores key order and float
layout, so a second encoding path that skipped the canonical encoder would go
unnoticed there. Here the compiled original (``seed-oracle``) writes message items,
checkpoint states and tool schemas, and the raw column bytes of its file are compared
with what threadloom stores for the same values, on every backend: key order (sorted
by code point, as serde_json's map), unicode and escapes, floats in serde_json's
layout, big integers, nesting.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.support.ops import run_oracle
from tests.support.shared import require_oracle
from threadloom import DynamicToolRecord, StateStore, ThreadMetadata
from threadloom.backends.sqlite import SqliteBackend

#: Floats whose text the original parses exactly (serde_json's default parser can be
#: one unit off in the last place on long random digits, which would test its parser,
#: not the bytes it writes).
FLOATS = [
    0.1,
    2.5,
    -0.0,
    1.0,
    1e300,
    -1e-7,
    1e15,
    1e16,
    1.5e16,
    1e21,
    1e-5,
    1e-6,
    123456.789,
    5e-324,
    1.7976931348623157e308,
    0.30000000000000004,
]


def _nested(depth: int) -> Any:
    value: Any = {"leaf": [1, 2.5, "x"]}
    for i in range(depth):
        value = {"z": i, "a": [value, None], "m": {"é": True}}
    return value


#: Message items: one row each.
ITEMS: list[Any] = [
    {"type": "text", "b": 1, "a": 2, "C": 3, "_": 4, "aa": 5, "A": 6},
    {"é": "ü", "😀": "emoji key", "\uffff": "BMP max", "z": "€", "ä": "after z"},
    {"ctrl": "\u0000\u0001\u001f\u007f", "esc": '"\\/\b\f\n\r\t', "seps": "\u2028\u2029"},
    {"floats": FLOATS},
    {"ints": [0, -1, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1]},
    {"empty": [{}, [], "", None, False, True]},
    _nested(40),
    [3, "list item", {"k": [{"y": 1, "x": 2}]}],
    "a bare string item",
    42,
]

#: Checkpoint states, including scalars (the original stores any JSON value).
STATES: list[Any] = [
    {"turn": 3, "model": {"temperature": 0.7, "top_p": 1.0}, "files": ["b.py", "a.py"]},
    [1.5, {"é": "\u0000"}, None],
    "just a string",
    1e16,
    None,
    _nested(20),
]

#: Tool schemas.
SCHEMAS: list[Any] = [
    {
        "type": "object",
        "properties": {
            "q": {"type": "string", "description": "search «text»"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 1e3, "default": 50},
            "flags": {"type": "array", "items": {"enum": ["i", "v", "ü"]}},
        },
        "required": ["q"],
        "additionalProperties": False,
    },
    {"$schema": "http://json-schema.org/draft-07/schema#", "anyOf": [{"type": "null"}]},
]

THREAD = ThreadMetadata.create("golden", name="golden", cwd="/w", now=1)


def _oracle_ops() -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = [{"op": "upsert_thread", "thread": THREAD.to_dict()}]
    ops += [
        {
            "op": "append_message",
            "thread_id": "golden",
            "role": "user",
            "content": "c",
            "item": item,
        }
        for item in ITEMS
    ]
    ops += [
        {"op": "save_checkpoint", "thread_id": "golden", "checkpoint_id": f"c{i}", "state": state}
        for i, state in enumerate(STATES)
    ]
    tools = [
        {"position": i, "name": f"tool{i}", "description": None, "input_schema": schema}
        for i, schema in enumerate(SCHEMAS)
    ]
    ops.append({"op": "persist_dynamic_tools", "thread_id": "golden", "tools": tools})
    return ops


QUERIES = {
    "messages": "SELECT {cast} FROM messages WHERE thread_id = 'golden' ORDER BY id",
    "checkpoints": "SELECT {cast} FROM checkpoints WHERE thread_id = 'golden' "
    "ORDER BY checkpoint_id",
    "thread_dynamic_tools": "SELECT {cast} FROM thread_dynamic_tools "
    "WHERE thread_id = 'golden' ORDER BY position",
}
COLUMNS = {
    "messages": "item_json",
    "checkpoints": "state_json",
    "thread_dynamic_tools": "input_schema",
}


def _sqlite_bytes(db: Path) -> dict[str, list[bytes]]:
    conn = sqlite3.connect(db)
    try:
        return {
            table: [
                bytes(row[0])
                for row in conn.execute(query.format(cast=f"CAST({COLUMNS[table]} AS BLOB)"))
            ]
            for table, query in QUERIES.items()
        }
    finally:
        conn.close()


def _store_bytes(store: StateStore) -> dict[str, list[bytes]]:
    backend = store.backend
    if isinstance(backend, SqliteBackend):
        return _sqlite_bytes(Path(backend.location))
    out: dict[str, list[bytes]] = {}
    with backend.connections.read("golden bytes") as conn:  # type: ignore[attr-defined]
        for table, query in QUERIES.items():
            rows = conn.execute(query.format(cast=f"{COLUMNS[table]}::text")).fetchall()
            out[table] = [row[0].encode("utf-8") for row in rows]
    return out


@pytest.fixture(scope="module")
def original_bytes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[bytes]]:
    """What the original stores for the values above, column by column."""
    oracle = require_oracle()
    db = tmp_path_factory.mktemp("oracle") / "state.db"
    answers = run_oracle(oracle, db, _oracle_ops())
    assert [a for a in answers if "err" in a] == []
    return _sqlite_bytes(db)


def test_the_original_read_the_values_as_written(original_bytes: dict[str, list[bytes]]) -> None:
    # Guard: the oracle parsed every input exactly, so a difference below is about the
    # bytes written, not about its parser.
    import json

    assert [json.loads(b) for b in original_bytes["messages"]] == ITEMS
    assert [json.loads(b) for b in original_bytes["checkpoints"]] == STATES
    assert [json.loads(b) for b in original_bytes["thread_dynamic_tools"]] == SCHEMAS


def test_threadloom_stores_the_original_bytes(
    store: StateStore, original_bytes: dict[str, list[bytes]]
) -> None:
    store.upsert_thread(THREAD)
    for item in ITEMS:
        store.append_message("golden", "user", "c", item)
    for i, state in enumerate(STATES):
        store.save_checkpoint("golden", f"c{i}", state)
    store.persist_dynamic_tools(
        "golden",
        [
            DynamicToolRecord(position=i, name=f"tool{i}", description=None, input_schema=s)
            for i, s in enumerate(SCHEMAS)
        ],
    )
    ours = _store_bytes(store)
    for table, theirs in original_bytes.items():
        assert len(ours[table]) == len(theirs), table
        for n, (mine, original) in enumerate(zip(ours[table], theirs, strict=True)):
            assert mine == original, (table, n)


def test_one_float_is_stored_alike_whatever_path_encodes_it(
    store: StateStore, original_bytes: dict[str, list[bytes]]
) -> None:
    # An int key sends a value down the pure-Python path instead of orjson's; the
    # floats must still come out as the original writes them.
    store.upsert_thread(THREAD)
    store.append_message("golden", "user", "c", {1: FLOATS})
    (stored,) = _store_bytes(store)["messages"]
    assert stored == b'{"1":' + original_bytes["messages"][3][len(b'{"floats":') :]
