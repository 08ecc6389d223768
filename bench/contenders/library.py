"""threadloom itself, through the public :class:`StateStore` API."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from threadloom import StateStore

from ..concurrency import run_writers
from ..workloads import (
    BASE_TIME,
    CONTENT,
    THREAD_ID,
    Fixtures,
    Sample,
    Workload,
    bench_thread,
    checkpoint_state,
    message_item,
    random_picks,
    turn_state,
)
from .timing import timed

__all__ = ["ThreadloomContender"]

# Which fixture each family starts from (kind, size from the workload or fixed).
_FIXTURE = {
    "append": ("thread", 1),
    "read_branch": ("chain", 0),
    "list_threads": ("threads", 0),
    "name_lookup": ("names", 0),
    "checkpoint": ("thread", 1),
    "upsert_thread": ("empty", 1),
    "fork": ("chain", 0),
    "turn": ("thread", 1),
    "resume": ("chain", 0),
    "concurrent": ("threads", 0),
    "turn_tx": ("thread", 1),
    "append_at": ("chain", 0),
    "read_branch_at": ("chain", 0),
    "pg_threads": ("threads", 0),
}


def fixture_for(workload: Workload, fixtures: Fixtures, workdir: Path) -> Path:
    """A private copy of the workload's starting database (shared with the raw floor)."""
    kind, size = _FIXTURE[workload.family]
    return fixtures.copy(kind, size or workload.size, workdir / "db")


def _open_writer(durability: str) -> object:
    def open_writer(db: Path, thread_id: str) -> tuple[object, object]:
        store = StateStore.open(db, durability=durability)

        def append(i: int) -> object:
            return store.append_message(thread_id, "user", CONTENT, message_item(i))

        return append, store.close

    return open_writer


class ThreadloomContender:
    """threadloom at one durability level."""

    def __init__(self, durability: str) -> None:
        self.durability = durability
        self.name = f"threadloom {durability}"

    def supports(self, workload: Workload) -> bool:
        # The database-size points are about one curve: run at ``normal`` only.
        if workload.group == "scale":
            return self.durability == "normal"
        return workload.family != "pg_threads"

    def run(self, workload: Workload, fixtures: Fixtures, workdir: Path) -> Sample:
        db = fixture_for(workload, fixtures, workdir)
        if workload.family == "concurrent":
            return run_writers(
                _open_writer(self.durability),  # type: ignore[arg-type]
                db,
                workload.size,
                workload.ops,
            )
        # A fixed clock: every contender writes the same timestamps.
        store = StateStore.open(db, durability=self.durability, clock=lambda: BASE_TIME)
        try:
            return self._run(store, workload)
        finally:
            store.close()

    @staticmethod
    def _run(store: StateStore, w: Workload) -> Sample:
        n = w.ops
        family = w.family
        if family in ("append", "append_at"):
            items = [message_item(i) for i in range(n)]
            with timed(n) as sample:
                for item in items:
                    store.append_message(THREAD_ID, "user", CONTENT, item)
            return sample
        if family in ("read_branch", "read_branch_at"):
            with timed(n) as sample:
                for _ in range(n):
                    store.list_messages(THREAD_ID, 200)
            return sample
        if family == "list_threads":
            with timed(n) as sample:
                for _ in range(n):
                    store.list_threads(limit=50)
            return sample
        if family == "name_lookup":
            ids = [f"t{i - 1}" for i in random_picks(n, w.size)]
            store.find_thread_name_by_id("warm-up")  # the first call reads the file
            with timed(n) as sample:
                for tid in ids:
                    store.find_thread_name_by_id(tid)
            return sample
        if family == "checkpoint":
            state = checkpoint_state()
            names = [f"cp-{i}" for i in range(n)]
            with timed(2 * n) as sample:
                for name in names:
                    store.save_checkpoint(THREAD_ID, name, state)
                for _ in range(n):
                    store.load_checkpoint(THREAD_ID)
            return sample
        if family == "upsert_thread":
            threads = [bench_thread(i) for i in range(n)]
            with timed(n) as sample:
                for thread in threads:
                    store.upsert_thread(thread)
            return sample
        if family == "fork":
            picks = random_picks(n, w.size)
            with timed(n) as sample:
                for at in picks:
                    store.fork_at_message(at, "assistant", CONTENT, message_item(at))
            return sample
        if family == "turn":
            states = [turn_state(i) for i in range(n)]
            with timed(n) as sample:
                for i in range(n):
                    current = store.get_thread(THREAD_ID)
                    assert current is not None
                    store.upsert_thread(replace(current, updated_at=BASE_TIME + i))
                    store.append_message(THREAD_ID, "user", CONTENT, message_item(i))
                    store.save_checkpoint(THREAD_ID, "latest", states[i])
            return sample
        if family == "turn_tx":
            # The recommended hot path (README, "A turn in one transaction"): the same
            # four calls, one commit.
            states = [turn_state(i) for i in range(n)]
            with timed(n) as sample:
                for i in range(n):
                    with store.transaction():
                        current = store.get_thread(THREAD_ID)
                        assert current is not None
                        store.upsert_thread(replace(current, updated_at=BASE_TIME + i))
                        store.append_message(THREAD_ID, "user", CONTENT, message_item(i))
                        store.save_checkpoint(THREAD_ID, "latest", states[i])
            return sample
        if family == "resume":
            with timed(n) as sample:
                for _ in range(n):
                    store.list_messages(THREAD_ID, 500)
                    store.load_checkpoint(THREAD_ID)
            return sample
        raise ValueError(f"threadloom has no workload {family!r}")
