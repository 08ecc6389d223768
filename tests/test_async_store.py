"""What only the async store has: its threads, the event loop, cancellation, mixing.

The contract suite runs through the async store too (``*-async`` backends in
``tests/conftest.py``); these tests cover what that suite cannot see.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.pg import admin_connection, drop_schema, new_schema, require_postgres, schema_dsn
from tests.support.processes import exit_code
from threadloom import AsyncStateStore, StateStore, StoreBusy, ThreadloomError, ThreadMetadata


def _thread(thread_id: str) -> ThreadMetadata:
    return ThreadMetadata.create(thread_id, cwd="/w", model_provider="test", now=100)


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Where an async store opens: a SQLite file or a fresh PostgreSQL schema's DSN."""
    if request.param == "sqlite":
        yield tmp_path / "state.db"
        return
    require_postgres()
    schema = new_schema()
    try:
        yield schema_dsn(schema)
    finally:
        drop_schema(schema)


# -- opening and closing ---------------------------------------------------------------


def test_open_append_read_close(target: Any) -> None:
    async def main() -> None:
        async with await AsyncStateStore.open(target) as store:
            await store.upsert_thread(_thread("t1"))
            first = await store.append_message("t1", "user", "hi")
            second = await store.append_message("t1", "assistant", "hello")
            messages = await store.list_messages("t1")
            assert [m.id for m in messages] == [first, second]
            assert [t.id async for t in store.iter_threads()] == ["t1"]
        with pytest.raises(ThreadloomError, match="closed"):
            await store.get_thread("t1")
        await store.close()  # a second close does nothing

    run(main())
    if isinstance(target, Path):
        with StateStore.open(target) as sync:
            assert len(sync.list_messages("t1")) == 2


def test_wrap_leaves_the_sync_store_open(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "state.db") as sync:

        async def main() -> None:
            async with AsyncStateStore.wrap(sync) as store:
                assert store.store is sync
                await store.upsert_thread(_thread("t1"))

        run(main())
        assert sync.get_thread("t1") is not None


def test_errors_are_the_sync_stores(tmp_path: Path) -> None:
    async def main() -> None:
        async with await AsyncStateStore.open(tmp_path / "state.db") as store:
            with pytest.raises(Exception) as sync_error:
                StateStore.append_message(store.store, "missing", "user", "x")
            with pytest.raises(type(sync_error.value), match="missing"):
                await store.append_message("missing", "user", "x")

    run(main())


def test_async_iteration_pages_and_stops_early(tmp_path: Path) -> None:
    async def main() -> None:
        async with await AsyncStateStore.open(tmp_path / "state.db") as store:
            async with store.transaction():
                for i in range(600):
                    await store.upsert_thread(_thread(f"t{i:04}"))
            seen = [t.id async for t in store.iter_threads()]
            assert sorted(seen) == [f"t{i:04}" for i in range(600)]
            taken = []
            async for thread in store.iter_threads():
                taken.append(thread.id)
                if len(taken) == 3:
                    break
            assert taken == seen[:3]
            assert await store.get_thread("t0001") is not None  # the lane is still usable

    run(main())


# -- the event loop ----------------------------------------------------------------------


class _Recording(StateStore):
    """A store noting the thread every public call runs on."""

    threads: set[int]

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if not name.startswith("_") and callable(value):

            def noted(*args: Any, **kwargs: Any) -> Any:
                object.__getattribute__(self, "threads").add(threading.get_ident())
                return value(*args, **kwargs)

            return noted
        return value


def test_no_store_call_runs_on_the_event_loop_thread(tmp_path: Path) -> None:
    sync = StateStore.open(tmp_path / "state.db")
    recording = _Recording(sync.backend)
    recording.threads = set()

    async def main() -> int:
        store = AsyncStateStore.wrap(recording)
        await store.upsert_thread(_thread("t1"))
        message = await store.append_message("t1", "user", "hi")
        await store.fork_at_message(message, "user", "fork")
        await store.list_messages("t1")
        await store.save_checkpoint("t1", "c1", {"k": 1})
        async with store.transaction():
            await store.append_message("t1", "user", "in a block")
            await store.load_checkpoint("t1")
        async with store.snapshot():
            await store.list_threads()
        [t async for t in store.iter_threads()]
        await store.close()
        return threading.get_ident()

    loop_thread = run(main())
    assert recording.threads, "the recording store saw no call"
    assert loop_thread not in recording.threads
    sync.close()


def test_the_loop_runs_while_a_write_waits_for_another_process_lock(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as sync:
        sync.upsert_thread(_thread("t1"))
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another connection holds the write lock

    async def main() -> tuple[int, int]:
        async with await AsyncStateStore.open(path, busy_timeout=10) as store:
            ticks = 0
            write = asyncio.ensure_future(store.append_message("t1", "user", "waits"))

            async def tick() -> None:
                nonlocal ticks
                while not write.done():
                    ticks += 1
                    await asyncio.sleep(0.01)

            ticker = asyncio.ensure_future(tick())
            # The loop must keep running while the write waits in SQLite's busy handler.
            while ticks < 20:
                await asyncio.sleep(0.01)
            assert not write.done()
            locker.execute("COMMIT")
            message = await write
            await ticker
            return ticks, message

    ticks, message = run(main())
    assert ticks >= 20 and message > 0


def test_a_transaction_holds_other_writes_not_reads(tmp_path: Path) -> None:
    async def main() -> None:
        async with await AsyncStateStore.open(tmp_path / "state.db") as store:
            await store.upsert_thread(_thread("t1"))
            go = asyncio.Event()

            async def other_task(work: Callable[[], Awaitable[Any]]) -> Any:
                await go.wait()
                return await work()

            # Tasks made before the block are outside it (tasks made inside inherit it).
            other_write = asyncio.ensure_future(
                other_task(lambda: store.append_message("t1", "user", "outside"))
            )
            other_read = asyncio.ensure_future(other_task(lambda: store.list_messages("t1")))
            async with store.transaction():
                await store.append_message("t1", "user", "inside")
                go.set()
                assert await other_read == []  # the committed state, read meanwhile
                for _ in range(20):
                    await asyncio.sleep(0)
                assert not other_write.done()
                # Tasks made inside the block are part of it.
                inner = await asyncio.gather(store.list_messages("t1"))
                assert [m.content for m in inner[0]] == ["inside"]
            await other_write
            assert [m.content for m in await store.list_messages("t1")] == ["inside", "outside"]

    run(main())


def test_a_failed_block_rolls_back_and_the_next_one_works(target: Any) -> None:
    async def main() -> None:
        async with await AsyncStateStore.open(target) as store:
            await store.upsert_thread(_thread("t1"))
            with pytest.raises(KeyError):
                async with store.transaction():
                    await store.append_message("t1", "user", "lost")
                    raise KeyError("boom")
            assert await store.list_messages("t1") == []
            async with store.transaction(), store.transaction():  # a savepoint
                await store.append_message("t1", "user", "kept")
            assert [m.content for m in await store.list_messages("t1")] == ["kept"]
            async with store.snapshot():
                with pytest.raises(ThreadloomError):
                    await store.append_message("t1", "user", "refused")

    run(main())


# -- cancellation ----------------------------------------------------------------------


def _cancel_after(yields: int, coro: Awaitable[Any]) -> Callable[[], Awaitable[bool]]:
    async def go() -> bool:
        task = asyncio.ensure_future(coro)
        for _ in range(yields):
            if task.done():
                break
            await asyncio.sleep(0)
        cancelled = task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return cancelled

    return go


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    plan=st.lists(
        st.tuples(
            st.sampled_from(["append", "block", "timeout-block"]),
            st.integers(1, 4),  # appends in a block
            st.integers(0, 12),  # loop turns before the cancellation
        ),
        min_size=1,
        max_size=6,
    )
)
def test_cancellation_at_any_point_is_all_or_nothing(
    kind: str, tmp_path_factory: pytest.TempPathFactory, plan: list[tuple[str, int, int]]
) -> None:
    """Whatever the moment of cancellation, a write or block happened whole or not at all,
    the next call works, and no thread or connection is left behind."""
    if kind == "postgres":
        require_postgres()
        schema = new_schema()
        target: Any = schema_dsn(schema)
    else:
        target = tmp_path_factory.mktemp("cancel") / "state.db"

    options: dict[str, Any] = {"pool_size": 3} if kind == "postgres" else {}

    async def main() -> None:
        async with await AsyncStateStore.open(target, **options) as store:
            await store.upsert_thread(_thread("t1"))
            count = 0
            for op, size, turns in plan:
                if op == "append":
                    work: Awaitable[Any] = store.append_message("t1", "user", "one")
                else:

                    async def block(
                        size: int = size, timed: bool = op == "timeout-block", turns: int = turns
                    ) -> None:
                        if timed:
                            async with asyncio.timeout(0.0005 * turns):
                                async with store.transaction():
                                    for _ in range(size):
                                        await store.append_message("t1", "user", "b")
                        else:
                            async with store.transaction():
                                for _ in range(size):
                                    await store.append_message("t1", "user", "b")

                    work = block()
                with contextlib.suppress(TimeoutError):
                    await _cancel_after(turns, work)()
                now = len(await store.list_all_messages("t1"))
                grew = now - count
                assert grew in (0, 1 if op == "append" else size), (op, size, turns, grew)
                count = now
                # The next call works, including a block (no lock or lane left held).
                async with store.transaction():
                    await store.append_message("t1", "user", "after")
                count += 1
                assert len(await store.list_all_messages("t1")) == count

    before = threading.active_count()
    try:
        run(main())
    finally:
        if kind == "postgres":
            drop_schema(schema)
    assert threading.active_count() <= before + 1  # lanes end after close


def test_cancelled_postgres_blocks_leave_no_connection_in_a_transaction() -> None:
    require_postgres()
    schema = new_schema()
    name = f"tl_cancel_{os.getpid()}"
    dsn = f"{schema_dsn(schema)}&application_name={name}"

    async def main() -> None:
        async with await AsyncStateStore.open(dsn, pool_size=2) as store:
            await store.upsert_thread(_thread("t1"))
            for turns in range(8):

                async def block() -> None:
                    async with store.transaction():
                        await store.append_message("t1", "user", "x")
                        await asyncio.sleep(1)

                await _cancel_after(turns, block())()
            await store.append_message("t1", "user", "after")
            # A block cancelled while entering is left by its thread shortly after.
            for _ in range(500):
                states = await asyncio.to_thread(_session_states, name)
                if "idle in transaction" not in states:
                    break
                await asyncio.sleep(0.01)
            assert "idle in transaction" not in states
            assert len(await store.list_all_messages("t1")) == 1

    try:
        run(main())
    finally:
        drop_schema(schema)


def _session_states(application_name: str) -> list[str]:
    with admin_connection() as conn:
        rows = conn.execute(
            "SELECT coalesce(state, '') FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchall()
    return [row[0] for row in rows]


# -- many tasks, mixed use, fork --------------------------------------------------------


def test_a_thousand_tasks_share_fifty_threads() -> None:
    require_postgres()
    schema = new_schema()

    async def main() -> None:
        async with await AsyncStateStore.open(schema_dsn(schema), pool_size=50) as store:
            for i in range(20):
                await store.upsert_thread(_thread(f"t{i}"))
            before = threading.active_count()

            async def agent(n: int) -> None:
                await store.append_message(f"t{n % 20}", "user", f"m{n}")
                await store.list_messages(f"t{n % 20}", 5)

            await asyncio.gather(*(agent(n) for n in range(1000)))
            assert threading.active_count() <= before + 1
            total = sum([len(await store.list_all_messages(f"t{i}")) for i in range(20)])
            assert total == 1000

    try:
        run(main())
    finally:
        drop_schema(schema)


def test_sync_and_async_stores_write_the_same_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as sync:
        sync.upsert_thread(_thread("t1"))
    script = (
        "import sys\n"
        "from threadloom import StateStore\n"
        "with StateStore.open(sys.argv[1], busy_timeout=30) as s:\n"
        "    for i in range(200):\n"
        "        s.append_message('t1', 'user', f'process {i}')\n"
    )
    other = subprocess.Popen([sys.executable, "-c", script, str(path)])

    async def main() -> None:
        with StateStore.open(path, busy_timeout=30) as same_process:
            async with await AsyncStateStore.open(path, busy_timeout=30) as store:

                def sync_writer() -> None:
                    for i in range(200):
                        same_process.append_message("t1", "user", f"thread {i}")

                writer = threading.Thread(target=sync_writer)
                writer.start()
                await asyncio.gather(
                    *(store.append_message("t1", "user", f"task {i}") for i in range(200))
                )
                await asyncio.to_thread(writer.join)

    run(main())
    assert other.wait(timeout=120) == 0
    with StateStore.open(path) as sync:
        contents = [m.content for m in sync.list_all_messages("t1")]
    assert len(contents) == 600
    for prefix in ("process", "thread", "task"):
        assert sum(c.startswith(prefix) for c in contents) == 200
    # One append at a time per thread: the messages form one chain.
    with StateStore.open(path) as sync:
        assert len(sync.list_messages("t1", 1000)) == 600


def test_a_forked_child_gets_its_own_threads(target: Any) -> None:
    async def opened() -> AsyncStateStore:
        store = await AsyncStateStore.open(target)
        await store.upsert_thread(_thread("t1"))
        await store.append_message("t1", "user", "parent before")
        return store

    loop = asyncio.new_event_loop()
    try:
        store = loop.run_until_complete(opened())
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:

                async def child() -> None:
                    await store.append_message("t1", "user", "child")
                    assert len(await store.list_messages("t1")) >= 2

                asyncio.run(child())
                code = 0
            finally:
                os._exit(code)
        assert exit_code(pid) == 0
        loop.run_until_complete(store.append_message("t1", "user", "parent after"))
        contents = [m.content for m in loop.run_until_complete(store.list_messages("t1"))]
        assert contents == ["parent before", "child", "parent after"]
        loop.run_until_complete(store.close())
    finally:
        loop.close()


def test_workflows_are_async_too(tmp_path: Path) -> None:
    async def main() -> None:
        async with await AsyncStateStore.open(tmp_path / "state.db") as store:
            run_ = await store.workflows.start_run("wf", "goal", run_id="r1")
            async with store.workflows.transaction():
                await store.workflows.record_branch(run_.id, "b1", "n1", branch_run_id="br1")
            tree = await store.workflows.get_run_tree("r1")
            assert [b.branch.id for b in tree.branches] == ["br1"]

    run(main())


def test_busy_errors_reach_the_caller(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as sync:
        sync.upsert_thread(_thread("t1"))
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")

    async def main() -> None:
        async with await AsyncStateStore.open(path, busy_timeout=0.2) as store:
            with pytest.raises(StoreBusy):
                await store.append_message("t1", "user", "x")
            locker.execute("COMMIT")
            assert await store.append_message("t1", "user", "y") > 0

    run(main())


def test_the_async_example_runs(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, str(root / "examples" / "async_quickstart.py")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "50 agents, 6 messages in agent-7's transcript" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_the_readme_async_example_runs(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text("utf-8")
    section = readme[readme.index("## Async API") :]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    env = {**os.environ, "CODEWHALE_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["t1", "1"]


# -- the writer's group commit -------------------------------------------------------------


def test_writes_queued_together_share_one_commit_and_keep_their_own_errors(
    tmp_path: Path,
) -> None:
    from threadloom import NotFound

    sync = StateStore.open(tmp_path / "state.db", durability="full")
    sync.upsert_thread(_thread("t1"))
    opened: list[int] = []
    plain_transaction = sync.transaction

    def counting_transaction() -> Any:
        opened.append(1)
        return plain_transaction()

    sync.transaction = counting_transaction  # type: ignore[method-assign]

    async def main() -> list[Any]:
        store = AsyncStateStore.wrap(sync)
        gate = threading.Event()
        # Hold the writer thread so the writes below queue up behind it together.
        held = store._lanes.writer_or_any().submit(gate.wait)
        writes = [
            asyncio.ensure_future(
                store.append_message("t1" if i % 3 else "missing", "user", f"m{i}")
            )
            for i in range(9)
        ]
        for _ in range(5):
            await asyncio.sleep(0)
        gate.set()
        await held
        results = await asyncio.gather(*writes, return_exceptions=True)
        await store.close()
        return results

    results = run(main())
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 3 and all(isinstance(r, NotFound) for r in failed)
    stored = [m.content for m in sync.list_messages("t1")]
    assert stored == [f"m{i}" for i in range(9) if i % 3]
    assert len(opened) == 1 + 9  # one group transaction, one savepoint per write
    sync.close()


def test_a_failed_group_commit_fails_every_write_of_the_group() -> None:
    from contextlib import contextmanager

    from threadloom.aio.lanes import Lane

    entered: list[str] = []

    @contextmanager
    def group() -> Iterator[None]:
        depth = len(entered)
        entered.append("in")
        try:
            yield
        finally:
            entered.pop()
        if depth == 0:
            raise OSError("disk full at commit")

    async def main() -> list[Any]:
        lane = Lane("test", group)
        gate = threading.Event()
        held = lane.submit(gate.wait)
        calls = [asyncio.ensure_future(lane.call_grouped(int, i)) for i in range(4)]
        await asyncio.sleep(0)
        gate.set()
        await held
        out = await asyncio.gather(*calls, return_exceptions=True)
        lane.stop()
        return out

    results = run(main())
    assert all(isinstance(r, OSError) and "commit" in str(r) for r in results)


@pytest.mark.parametrize("turns", [0, 1, 3, 50])
def test_cancelling_an_open_leaves_no_thread_and_no_open_store(tmp_path: Path, turns: int) -> None:
    before = threading.active_count()

    async def main() -> None:
        task = asyncio.ensure_future(AsyncStateStore.open(tmp_path / "state.db"))
        for _ in range(turns):
            await asyncio.sleep(0)
        if task.cancel():
            with pytest.raises(asyncio.CancelledError):
                await task
        else:  # it finished first
            await task.result().close()

    run(main())
    assert threading.active_count() == before
    with StateStore.open(tmp_path / "state.db") as store:  # the file is usable
        store.upsert_thread(_thread("t1"))
