"""What the data lifecycle costs: the ``encryption``, ``idempotency`` and
``secure_delete`` workloads.

- ``encryption``: ``append_message`` (about 90 bytes of content with a small item) and
  reads (``list_messages`` of 50, ``load_checkpoint`` of a 9.8 KB state) on a plain
  store against a store opened with a key (AES-256-GCM), same data, same SQLite file
  layout.
- ``idempotency``: ``append_message`` without and with ``idempotency_key=``.
- ``secure_delete``: ``delete_thread`` of a thread of ``--messages`` messages with
  SQLite's ``PRAGMA secure_delete`` off and on (each deletion zeroes the freed pages).

Variants run interleaved in rotating order, ``--rounds`` times, each on its own file;
the table reports medians per operation and the ratio to the plain variant. Run it as
``python -m bench.lifecycle`` (needs the ``encryption`` extra).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from threadloom import StateStore, ThreadMetadata
from threadloom.encryption import generate_key

from .workloads import BASE_TIME, CONTENT, checkpoint_state, message_item

__all__ = ["main", "markdown", "run"]

Variant = tuple[str, dict[str, object]]


def _open(path: Path, options: dict[str, object]) -> StateStore:
    return StateStore.open(path, clock=lambda: BASE_TIME, **options)  # type: ignore[arg-type]


def _per_op(fn: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        fn()
    return (time.perf_counter() - start) / count * 1e6


def _interleave(
    variants: list[Variant],
    rounds: int,
    measure: Callable[[Path, dict[str, object]], dict[str, float]],
    root: Path,
) -> dict[str, dict[str, float]]:
    samples: dict[str, dict[str, list[float]]] = {name: {} for name, _ in variants}
    for r in range(rounds):
        order = variants[r % len(variants) :] + variants[: r % len(variants)]
        for name, options in order:
            folder = root / f"{name}-{r}"
            for op, value in measure(folder / "state.db", options).items():
                samples[name].setdefault(op, []).append(value)
    return {
        name: {op: statistics.median(values) for op, values in ops.items()}
        for name, ops in samples.items()
    }


def _encryption(path: Path, options: dict[str, object], ops: int) -> dict[str, float]:
    with _open(path, options) as store:
        store.upsert_thread(ThreadMetadata.create("t", cwd="/w", now=BASE_TIME))
        counter = iter(range(10**9))
        append = _per_op(
            lambda: store.append_message("t", "user", CONTENT, message_item(next(counter))), ops
        )
        store.save_checkpoint("t", "c", checkpoint_state())
        read = _per_op(lambda: store.list_messages("t", 50), max(ops // 10, 1))
        load = _per_op(lambda: store.load_checkpoint("t"), ops)
    return {"append_message": append, "list_messages(50)": read, "load_checkpoint": load}


def _idempotency(path: Path, options: dict[str, object], ops: int) -> dict[str, float]:
    keyed = bool(options.pop("keyed", False))
    with _open(path, options) as store:
        store.upsert_thread(ThreadMetadata.create("t", cwd="/w", now=BASE_TIME))
        counter = iter(range(10**9))
        if keyed:
            append = _per_op(
                lambda: store.append_message(
                    "t", "user", CONTENT, idempotency_key=f"k{next(counter)}"
                ),
                ops,
            )
        else:
            append = _per_op(lambda: store.append_message("t", "user", CONTENT), ops)
    options["keyed"] = keyed
    return {"append_message": append}


def _secure_delete(
    path: Path, options: dict[str, object], threads: int, messages: int
) -> dict[str, float]:
    with _open(path, options) as store:
        for i in range(threads):
            store.upsert_thread(ThreadMetadata.create(f"t{i}", cwd="/w", now=BASE_TIME))
        with store.transaction():
            for i in range(threads):
                for n in range(messages):
                    store.append_message(f"t{i}", "user", CONTENT, message_item(n))
        ids = iter(range(threads))
        delete = _per_op(lambda: store.delete_thread(f"t{next(ids)}"), threads)
    return {f"delete_thread ({messages} messages)": delete}


def run(
    *, rounds: int = 5, ops: int = 2000, messages: int = 200
) -> dict[str, dict[str, dict[str, float]]]:
    """Every workload's medians (µs per operation), by workload, variant and operation."""
    key = generate_key()
    with tempfile.TemporaryDirectory(prefix="threadloom-lifecycle-") as tmp:
        root = Path(tmp)
        return {
            "encryption": _interleave(
                [("plain", {}), ("encrypted", {"encryption_key": key})],
                rounds,
                lambda p, o: _encryption(p, dict(o), ops),
                root / "encryption",
            ),
            "idempotency": _interleave(
                [("no key", {}), ("idempotency_key", {"keyed": True})],
                rounds,
                lambda p, o: _idempotency(p, dict(o), ops),
                root / "idempotency",
            ),
            "secure_delete": _interleave(
                [
                    ("secure_delete off", {"secure_delete": False}),
                    ("secure_delete on", {"secure_delete": True}),
                ],
                rounds,
                lambda p, o: _secure_delete(p, dict(o), 20, messages),
                root / "secure_delete",
            ),
        }


def markdown(results: dict[str, dict[str, dict[str, float]]], *, rounds: int) -> list[str]:
    """The results as a markdown table per workload (ratios against the first variant)."""
    lines = [f"Medians of {rounds} interleaved rounds, µs per operation (SQLite, one file each)."]
    for workload, variants in results.items():
        names = list(variants)
        base = variants[names[0]]
        lines += ["", f"#### `{workload}`", "", "| operation | " + " | ".join(names) + " | ratio |"]
        lines.append("| --- | " + " | ".join("---:" for _ in names) + " | ---: |")
        for op in base:
            values = [variants[n][op] for n in names]
            ratio = values[-1] / values[0] if values[0] else float("nan")
            lines.append(
                f"| {op} | " + " | ".join(f"{v:,.1f}" for v in values) + f" | {ratio:.2f} |"
            )
    return lines


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.lifecycle``: print the tables."""
    parser = argparse.ArgumentParser(prog="python -m bench.lifecycle", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args(argv)
    results = run(rounds=args.rounds, ops=args.ops, messages=args.messages)
    sys.stdout.write("\n".join(markdown(results, rounds=args.rounds)) + "\n")


if __name__ == "__main__":
    main()
