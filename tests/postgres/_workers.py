"""Code run in child processes by the PostgreSQL tests (importable under spawn)."""

from __future__ import annotations

import time
from typing import Any

from threadloom import StateStore, ThreadloomError


def append_many(dsn: str, thread_id: str, writer: int, count: int) -> dict[str, Any]:
    """Append ``count`` messages to ``thread_id``; ids written, errors, seconds taken."""
    ids: list[int] = []
    errors: list[str] = []
    with StateStore.open(dsn, pool_size=1) as store:
        started = time.perf_counter()
        for n in range(count):
            try:
                ids.append(store.append_message(thread_id, "user", f"w{writer}-{n}"))
            except ThreadloomError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
        elapsed = time.perf_counter() - started
    return {"ids": ids, "errors": errors, "seconds": elapsed}


def migrate_once(dsn: str, start: Any, out: Any) -> None:
    """Wait for ``start``, then migrate; put the names of the steps this process applied."""
    try:
        store = StateStore.open(dsn, migrate=False, pool_size=1)
        start.wait()
        names = [step.name for step in store.migrate()]
        store.close()
        out.put(("ok", names))
    except Exception as exc:
        out.put(("err", f"{type(exc).__name__}: {exc}"))
