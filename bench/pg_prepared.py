"""What server-side prepared statements buy threadloom on a direct PostgreSQL connection.

``python -m bench.pg_prepared [DSN]``: the same calls (append, get_thread, a 20-message
page) on a store opened with ``prepare_threshold=5`` (psycopg prepares a statement on
its fifth use) and with ``None`` (never), alternating rounds so drift hits both alike.
Prints the median seconds per call and the ratio. The default DSN is the test server.

Prepared statements cannot survive a transaction-pooling PgBouncer (1.18; 1.21+ can
track protocol-level ones with ``max_prepared_statements``), so this figure decides
whether threadloom turns them on by default.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from collections.abc import Callable
from functools import partial

from threadloom import StateStore, ThreadMetadata

__all__ = ["main", "measure"]

CALLS = 400
ROUNDS = 7


def _schema_dsn(dsn: str) -> tuple[str, str]:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in dsn else "?"
    return schema, f"{dsn}{sep}options=-csearch_path%3D{schema}"


def _append(store: StateStore, thread_id: str, i: int) -> object:
    return store.append_message(thread_id, "user", f"m{i}")


def _get(store: StateStore, thread_id: str, _i: int) -> object:
    return store.get_thread(thread_id)


def _page(store: StateStore, thread_id: str, _i: int) -> object:
    return store.list_messages(thread_id, 20)


def _per_call(fn: Callable[[int], object]) -> float:
    start = time.perf_counter()
    for i in range(CALLS):
        fn(i)
    return (time.perf_counter() - start) / CALLS


def measure(dsn: str) -> dict[str, dict[str, float]]:
    """Median seconds per call, by operation and by ``prepare_threshold``."""
    import psycopg

    schema, target = _schema_dsn(dsn)
    samples: dict[str, dict[str, list[float]]] = {}
    try:
        stores = {
            "prepared": StateStore.open(target, pool_size=1, prepare_threshold=5),
            "unprepared": StateStore.open(target, pool_size=1, prepare_threshold=None),
        }
        for label, store in stores.items():
            store.upsert_thread(ThreadMetadata.create(f"t-{label}", cwd="/w"))
            for i in range(40):
                store.append_message(f"t-{label}", "user", f"warm {i}")
        for _ in range(ROUNDS):
            for label, store in stores.items():
                tid = f"t-{label}"
                ops: dict[str, Callable[[int], object]] = {
                    "append_message": partial(_append, store, tid),
                    "get_thread": partial(_get, store, tid),
                    "list_messages(20)": partial(_page, store, tid),
                }
                for op, fn in ops.items():
                    samples.setdefault(op, {}).setdefault(label, []).append(_per_call(fn))
        for store in stores.values():
            store.close()
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return {
        op: {label: statistics.median(v) for label, v in by_label.items()}
        for op, by_label in samples.items()
    }


def main(argv: list[str] | None = None) -> int:
    """Print the figures; the DSN is the first argument (default: the test server)."""
    args = sys.argv[1:] if argv is None else argv
    dsn = args[0] if args else "postgresql://postgres@127.0.0.1:5432/test"
    print(f"{'operation':<20}{'prepared µs':>13}{'unprepared µs':>15}{'ratio':>8}")
    for op, by_label in measure(dsn).items():
        p, u = by_label["prepared"], by_label["unprepared"]
        print(f"{op:<20}{p * 1e6:>13.0f}{u * 1e6:>15.0f}{u / p:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
