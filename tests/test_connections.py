"""Connection lifecycle: what a store keeps open stays bounded by the threads alive."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from threadloom import StateStore, ThreadMetadata

THREADS = 1000
AT_ONCE = 8

# Linux lists a process's descriptors in /proc/self/fd, macOS and the BSDs in /dev/fd.
_FD_DIR = "/proc/self/fd" if Path("/proc/self/fd").is_dir() else "/dev/fd"


def _open_descriptors() -> int:
    return len(os.listdir(_FD_DIR))


def _run_short_lived_threads(store: StateStore, count: int) -> list[BaseException]:
    """``count`` threads, ``AT_ONCE`` alive at a time, one read each (thread per request)."""
    errors: list[BaseException] = []

    def request() -> None:
        try:
            assert store.get_thread("t") is not None
        except BaseException as exc:
            errors.append(exc)

    for start in range(0, count, AT_ONCE):
        batch = [threading.Thread(target=request) for _ in range(min(AT_ONCE, count - start))]
        for thread in batch:
            thread.start()
        for thread in batch:
            thread.join()
    return errors


def test_descriptors_stay_bounded_with_short_lived_threads(store: StateStore) -> None:
    store.upsert_thread(ThreadMetadata.create("t"))
    # A first round opens whatever the store keeps for good (a pool's connections).
    assert _run_short_lived_threads(store, 2 * AT_ONCE) == []
    before = _open_descriptors()
    assert _run_short_lived_threads(store, THREADS) == []
    after = _open_descriptors()
    # Each finished thread's connection was released: at most a handful remain, not
    # one or two per thread that ever used the store.
    assert after - before <= 2 * AT_ONCE, f"{after - before} descriptors left open"
    # The store goes on working in this thread and in new ones.
    store.append_message("t", "user", "still works")
    assert _run_short_lived_threads(store, AT_ONCE) == []
    assert [m.content for m in store.list_messages("t")] == ["still works"]


def test_close_releases_the_connections_of_live_threads(tmp_path: Path) -> None:
    store = StateStore.open(tmp_path / "state.db")
    store.upsert_thread(ThreadMetadata.create("t"))
    baseline = _open_descriptors()
    used = threading.Barrier(AT_ONCE + 1)
    release = threading.Event()

    def worker() -> None:
        store.get_thread("t")
        used.wait()
        release.wait()

    workers = [threading.Thread(target=worker) for _ in range(AT_ONCE)]
    for w in workers:
        w.start()
    used.wait()
    assert _open_descriptors() > baseline  # each live thread holds its connection
    store.close()
    # close() released every thread's connection and the store's other files, even
    # those of threads still running.
    assert _open_descriptors() < baseline
    release.set()
    for w in workers:
        w.join()
