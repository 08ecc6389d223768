"""Code run in child processes by the lifecycle tests (importable under spawn)."""

from __future__ import annotations

import os
import signal
from typing import Any

from threadloom import StateStore


def append_with_key(target: str, thread_id: str, key: str, start: Any, out: Any) -> None:
    """Wait for ``start``, append one message under ``key``; put the id (or the error)."""
    try:
        with StateStore.open(target, busy_timeout=30.0) as store:
            start.wait()
            out.put(("ok", store.append_message(thread_id, "user", "once", idempotency_key=key)))
    except Exception as exc:
        out.put(("err", f"{type(exc).__name__}: {exc}"))


def append_then_die(target: str, thread_id: str, key: str) -> None:
    """Append under ``key``, then die by SIGKILL before reporting anything: the write
    committed, the caller never learned its id."""
    store = StateStore.open(target)
    store.append_message(thread_id, "user", "once", idempotency_key=key)
    os.kill(os.getpid(), signal.SIGKILL)


def append_many(target: str, prefix: str, count: int, ready: Any, go: Any, out: Any) -> None:
    """Open the store, say ``ready``, wait for ``go``, then write ``count`` fresh threads
    ``prefix-N`` of two messages each; put the threads written and the errors."""
    from threadloom import ThreadMetadata

    errors: list[str] = []
    done: list[str] = []
    try:
        with StateStore.open(target, busy_timeout=30.0) as store:
            ready.put(prefix)
            go.wait()
            for n in range(count):
                thread_id = f"{prefix}-{n}"
                try:
                    store.upsert_thread(ThreadMetadata.create(thread_id, cwd="/live"))
                    store.append_message(thread_id, "user", "hello")
                    store.append_message(thread_id, "assistant", "hi")
                    done.append(thread_id)
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    out.put((done, errors))


def write_and_read_sealed(
    target: str, keys: list[str], thread_id: str, count: int, ready: Any, go: Any, out: Any
) -> None:
    """With ``keys`` (current first): say ``ready``, wait for ``go``, then append
    ``count`` messages to ``thread_id``, reading the branch back after each; put the
    errors."""
    errors: list[str] = []
    try:
        with StateStore.open(target, encryption_key=keys, busy_timeout=30.0) as store:
            ready.put(True)
            go.wait()
            for n in range(count):
                try:
                    store.append_message(thread_id, "user", f"during rotation {n}")
                    if store.list_messages(thread_id, 5)[-1].content != f"during rotation {n}":
                        errors.append(f"read back the wrong message after {n}")
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    out.put(errors)
