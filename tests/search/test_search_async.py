"""Search through the async store, and a search while another writer holds the lock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.pg import drop_schema, new_schema, require_postgres, schema_dsn
from threadloom import AsyncStateStore, StateStore, ThreadMetadata


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        yield tmp_path / "state.db"
        return
    require_postgres()
    schema = new_schema()
    try:
        yield schema_dsn(schema)
    finally:
        drop_schema(schema)


def test_async_search_status_and_reindex(target: Any) -> None:
    async def main() -> None:
        async with await AsyncStateStore.open(target) as store:
            await store.upsert_thread(ThreadMetadata.create("t1", name="Lock notes", cwd="/w"))
            first = await store.append_message("t1", "user", "the wal lock")
            assert (await store.search_status()).pending == 1
            hits = await store.search("wal")
            assert [h.message_id for h in hits] == [first]
            second = await store.append_message("t1", "user", "another wal")
            assert await store.update_search_index() == 1
            got = await asyncio.gather(store.search("wal"), store.search("lock"))
            assert [h.message_id for h in got[0]] == [second, first]
            assert [h.matched_in for h in got[1]] == ["name", "content"]

    asyncio.run(main())


def test_search_does_not_wait_for_another_writer(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with (
        StateStore.open(db, busy_timeout=30) as writer,
        StateStore.open(db, busy_timeout=30) as reader,
    ):
        writer.upsert_thread(ThreadMetadata.create("t1", cwd="/w"))
        old = writer.append_message("t1", "user", "old wal")
        assert [h.message_id for h in reader.search("wal")] == [old]
        new = writer.append_message("t1", "user", "new wal")
        with writer.transaction():
            writer.append_message("t1", "user", "uncommitted wal")
            # The reader cannot index (the writer holds the lock): it scans instead,
            # at once, rather than waiting 30 s.
            assert [h.message_id for h in reader.search("wal")] == [new, old]
            assert reader.search_status().pending == 1
        assert len(reader.search("wal")) == 3
        assert reader.search_status().pending == 0
