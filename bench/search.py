"""Full-text search at scale: the ``search`` workload, runnable on its own.

Fills a fresh SQLite store with ``--messages`` messages in ``--threads`` threads
(default 1,000,000 in 100,000: bulk-inserted with plain SQL in the original's schema,
as the original would have left them, none indexed yet), then measures:

- catch-up: ``store.update_search_index()`` over every message (messages/s);
- index size: pages of threadloom's search tables as a fraction of the file;
- top-20 ``store.search`` (median and p95, ms) for a common word (in about a third of
  the messages), a rare word (a few dozen messages) and a phrase, newest first and
  best first;
- the same top-20 as a ``LIKE '%word%'`` scan (what the Agents SDK's session search
  does), on the same file;
- ``append_message`` with the index present and caught up vs. the same store without
  it (the append itself does no index work: the per-message cost moves to the next
  search's catch-up, reported as catch-up µs per message).

Run it as ``python bench/search.py [--messages N] [--threads N] [--queries N]``; it
prints one JSON line (``--db PATH`` keeps the database).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from threadloom import StateStore

__all__ = ["fill", "main", "run_benchmark"]

_BASE = 1_700_000_000
# Ordinary words, Zipf-weighted: the first ones are in a large share of the messages.
_WORDS = [
    "the",
    "file",
    "test",
    "run",
    "error",
    "store",
    "thread",
    "message",
    "function",
    "value",
    "return",
    "list",
    "check",
    "change",
    "update",
    "index",
    "table",
    "query",
    "lock",
    "write",
    "read",
    "open",
    "close",
    "path",
    "config",
    "branch",
    "commit",
    "build",
    "fails",
    "passes",
    "works",
    "module",
    "class",
    "method",
    "import",
    "python",
    "sqlite",
    "server",
    "client",
    "request",
    "response",
    "timeout",
    "retry",
    "cache",
    "memory",
    "schema",
    "column",
    "migration",
    "connection",
    "transaction",
    "worker",
    "process",
    "output",
    "input",
    "result",
    "status",
    "option",
    "default",
    "parse",
    "format",
    "string",
    "number",
    "array",
    "object",
    "field",
    "record",
    "event",
    "handler",
    "signal",
    "queue",
]
_IDENTS = ["snake_case_name", "CamelCaseThing", "src/store.py", "getHTTPResponse", "run_tests"]
COMMON = "the"
RARE = "zephyrine"
PHRASE = '"migration lock"'


def _text(rng: random.Random, weights: list[float], words: int) -> str:
    picked = rng.choices(_WORDS, weights=weights, k=words)
    if rng.random() < 0.1:
        picked.append(rng.choice(_IDENTS))
    return " ".join(picked).capitalize() + "."


def _rows(
    messages: int, threads: int, seed: int
) -> tuple[list[tuple[Any, ...]], Iterator[tuple[Any, ...]], dict[str, int]]:
    """Thread rows, a generator of message rows, and each thread's leaf (filled as the
    generator runs)."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) ** 0.9 for rank in range(len(_WORDS))]
    rare_every = max(messages // 40, 1)
    # Names and previews of their own words: the timed queries measure message
    # search, not thread hits.
    thread_rows = [
        (f"t{i:06d}", f"Preview {i}", _BASE + i, _BASE + i, f"Session {i}") for i in range(threads)
    ]
    per_thread = max(messages // threads, 1)
    leaf: dict[str, int] = {}

    def message_rows() -> Iterator[tuple[Any, ...]]:
        for n in range(1, messages + 1):
            thread = f"t{(n - 1) // per_thread % threads:06d}"
            content = _text(rng, weights, rng.randint(8, 30))
            if n % rare_every == 0:
                content += f" {RARE}"
            if n % 997 == 0:
                content += " the migration lock was held"
            item = None
            if n % 3 == 0:
                item = json.dumps(
                    {
                        "arguments": json.dumps({"path": "tests/test_store.py"}),
                        "name": "run_tests",
                        "type": "function_call",
                    },
                    sort_keys=True,
                )
            parent = leaf.get(thread)
            leaf[thread] = n
            yield (n, thread, "user" if n % 2 else "assistant", content, item, _BASE + n, parent)

    return thread_rows, message_rows(), leaf


def fill(path: Path, messages: int, threads: int, seed: int = 11) -> None:
    """Create the store, then bulk-insert threads and messages with plain SQL."""
    StateStore.open(path).close()  # the schema, as threadloom creates it
    thread_rows, message_rows, leaf = _rows(messages, threads, seed)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO threads (id, rollout_path, preview, ephemeral, model_provider, created_at, "
        "updated_at, status, path, cwd, cli_version, source, title, archived) "
        "VALUES (?, NULL, ?, 0, 'bench', ?, ?, 'idle', NULL, '/w', '0', 'cli', ?, 0)",
        thread_rows,
    )
    conn.executemany(
        "INSERT INTO messages (id, thread_id, role, content, item_json, created_at, "
        "parent_entry_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
        message_rows,
    )
    conn.executemany(
        "UPDATE threads SET current_leaf_id = ? WHERE id = ?", ((v, k) for k, v in leaf.items())
    )
    conn.execute("COMMIT")
    conn.close()


def fill_postgres(dsn: str, messages: int, threads: int, seed: int = 11) -> None:
    """The same data in a PostgreSQL schema (``COPY``)."""
    import psycopg

    StateStore.open(dsn).close()
    thread_rows, message_rows, leaf = _rows(messages, threads, seed)
    with psycopg.connect(dsn) as conn:
        with conn.cursor().copy(
            "COPY threads (id, preview, created_at, updated_at, title, ephemeral, "
            "model_provider, status, cwd, cli_version, source, archived) FROM STDIN"
        ) as copy:
            for row in thread_rows:
                copy.write_row((*row, 0, "bench", "idle", "/w", "0", "cli", 0))
        with conn.cursor().copy(
            "COPY messages (id, thread_id, role, content, item_json, created_at, "
            "parent_entry_id) FROM STDIN"
        ) as copy:
            for row in message_rows:
                copy.write_row(row)
        conn.execute(
            "UPDATE threads t SET current_leaf_id = u.leaf FROM unnest(%s::text[], %s::bigint[]) "
            "AS u(id, leaf) WHERE t.id = u.id",
            (list(leaf), list(leaf.values())),
        )
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('messages', 'id'), (SELECT max(id) FROM messages))"
        )
        conn.execute("ANALYZE")


def _timings_ms(call: Callable[[], object], runs: int) -> dict[str, float]:
    call()  # warm
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))], 3),
    }


def _searcher(store: StateStore, query: str, order: str) -> Callable[[], object]:
    return lambda: store.search(query, order=order)


def _index_bytes(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        total = conn.execute("SELECT SUM(pgsize) FROM dbstat").fetchone()[0]
        ours = conn.execute(
            "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name LIKE 'threadloom_search%'"
        ).fetchone()[0]
    finally:
        conn.close()
    return int(ours), int(total)


def _index_bytes_postgres(dsn: str) -> tuple[int, int]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
        ).fetchall()
    ours = sum(size for name, size in rows if name.startswith("threadloom_search"))
    return int(ours), int(sum(size for _, size in rows))


def _like_scan_postgres(dsn: str, word: str) -> Callable[[], object]:
    import psycopg

    conn = psycopg.connect(dsn, autocommit=True)
    sql = (
        "SELECT m.id, m.thread_id, m.content FROM messages m JOIN threads t ON t.id = m.thread_id "
        "WHERE m.content LIKE %s ORDER BY m.id DESC LIMIT 20"
    )
    pattern = f"%{word}%"
    return lambda: conn.execute(sql, (pattern,)).fetchall()


def _like_scan(path: Path, word: str) -> Callable[[], object]:
    conn = sqlite3.connect(path, check_same_thread=False)
    sql = (
        "SELECT m.id, m.thread_id, m.content FROM messages m JOIN threads t ON t.id = m.thread_id "
        "WHERE m.content LIKE ? ORDER BY m.id DESC LIMIT 20"
    )
    pattern = f"%{word}%"
    return lambda: conn.execute(sql, (pattern,)).fetchall()


def _append_us(store: StateStore, thread: str, count: int) -> float:
    samples = []
    for i in range(count):
        start = time.perf_counter_ns()
        store.append_message(thread, "user", f"appended message {i} about the store lock")
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def run_benchmark(
    db_path: Path | str, *, messages: int = 1_000_000, threads: int = 100_000, queries: int = 50
) -> dict[str, Any]:
    """Fill a store at ``db_path`` (a new SQLite file, or a DSN of an empty PostgreSQL
    schema), index it and time searches."""
    postgres = isinstance(db_path, str)
    started = time.perf_counter()
    if isinstance(db_path, str):
        fill_postgres(db_path, messages, threads)
    else:
        fill(db_path, messages, threads)
    fill_s = time.perf_counter() - started
    result: dict[str, Any] = {
        "scenario": "search",
        "backend": "postgres" if postgres else "sqlite",
        "messages": messages,
        "threads": threads,
        "fill_seconds": round(fill_s, 1),
    }
    with StateStore.open(db_path) as store:
        # Appends without the index (as the original's file is before any search).
        base_us = _append_us(store, "t000000", 2000)
        started = time.perf_counter()
        indexed = store.update_search_index(batch_size=5000)
        took = time.perf_counter() - started
        result["catch_up_messages"] = indexed
        result["catch_up_seconds"] = round(took, 1)
        result["catch_up_msgs_per_s"] = round(indexed / took)
        ours, total = (
            _index_bytes_postgres(db_path) if isinstance(db_path, str) else _index_bytes(db_path)
        )
        result["index_mb"] = round(ours / 1e6, 1)
        result["db_mb"] = round(total / 1e6, 1)
        result["index_fraction"] = round(ours / total, 3)
        # Appends with the index present and caught up; then one search's catch-up.
        with_us = _append_us(store, "t000001", 2000)
        result["append_us_without_index"] = round(base_us, 1)
        result["append_us_with_index"] = round(with_us, 1)
        result["append_overhead"] = round(with_us / base_us - 1, 3)
        result["catch_up_us_per_message"] = round(took / max(indexed, 1) * 1e6, 1)
        for name, q in (("common", COMMON), ("rare", RARE), ("phrase", PHRASE)):
            for order in ("recent", "relevance"):
                hits = store.search(q, order=order, limit=20)
                stats = _timings_ms(_searcher(store, q, order), queries)
                result[f"{name}_{order}"] = {**stats, "hits": len(hits)}
        for name, word in (("common", COMMON), ("rare", RARE), ("phrase", "migration lock")):
            scan = (
                _like_scan_postgres(db_path, word)
                if isinstance(db_path, str)
                else _like_scan(db_path, word)
            )
            result[f"like_{name}"] = _timings_ms(scan, max(queries // 10, 3))
    return result


def _on_postgres(dsn: str, messages: int, threads: int, queries: int) -> dict[str, Any]:
    import uuid

    import psycopg

    schema = f"bench_search_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        sep = "&" if "?" in dsn else "?"
        target = f"{dsn}{sep}options=-csearch_path%3D{schema}"
        return run_benchmark(target, messages=messages, threads=threads, queries=queries)
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: parse arguments, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages to store")
    parser.add_argument("--threads", type=int, default=100_000, help="threads they belong to")
    parser.add_argument("--queries", type=int, default=50, help="timed searches per query")
    parser.add_argument("--db", type=Path, help="database path (default: a temp dir)")
    parser.add_argument(
        "--dsn",
        help="run on PostgreSQL instead: a server DSN; a fresh schema is made and dropped",
    )
    args = parser.parse_args(argv)
    if args.dsn:
        print(json.dumps(_on_postgres(args.dsn, args.messages, args.threads, args.queries)))
        return 0
    with tempfile.TemporaryDirectory(prefix="tl-bench-search-") as tmp:
        db = args.db or Path(tmp) / "state.db"
        if db.exists():
            parser.error(f"{db} exists; give a new path")
        result = run_benchmark(
            db, messages=args.messages, threads=args.threads, queries=args.queries
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
