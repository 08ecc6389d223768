"""The lifecycle calls through AsyncStateStore (generated from StateStore's signatures)."""

from __future__ import annotations

import asyncio

import pytest

from threadloom import AsyncStateStore, Conflict, RetentionPolicy, ThreadMetadata


def test_idempotent_appends_and_retention_through_the_async_store(target: str) -> None:
    async def main() -> None:
        async with await AsyncStateStore.open(target, idempotency_ttl=3600) as store:
            await store.upsert_thread(
                ThreadMetadata.create("t1", cwd="/w", created_at=1, updated_at=1)
            )
            ids = await asyncio.gather(
                *(store.append_message("t1", "user", "x", idempotency_key="k") for _ in range(5))
            )
            assert len(set(ids)) == 1
            with pytest.raises(Conflict):
                await store.append_message("t1", "user", "y", idempotency_key="k")
            assert len(await store.list_all_messages("t1")) == 1
            await store.set_retention_policy(
                RetentionPolicy(older_than_days=1, archived_only=False)
            )
            assert await store.retention_policy() == RetentionPolicy(
                older_than_days=1, archived_only=False
            )
            # The message was appended now: the thread is not idle.
            report = await store.run_retention()
            assert report.threads == 0

    asyncio.run(main())
