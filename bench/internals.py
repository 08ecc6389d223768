"""The library's two pieces of clever code, each beside the plain way, in one run.

(a) Records built by the row mappers: ``positional_builder`` (``_fastrecords``, an
``exec``-built constructor) against the dataclass's keyword ``__init__`` (the plain
way) and a loop over the slot descriptors (the cleverness one would keep without
``exec``): per record, and end to end on ``list_threads(50)`` and
``list_messages(200)`` with each installed in the row mappers.

(b) Stored JSON: orjson with its equivalence proof (``_json_fast``) against the stdlib
C encoder with serde_json's float layout (the plain way: the text is the C encoder's
unless a float has an exponent, which the stdlib's Python encoder then lays out),
the Python encoder alone (the proof path's fallback), and orjson unproved (the
floor): per value, and end to end on ``append_message`` and ``save_checkpoint``.

Variants run interleaved in rotating order, ``--rounds`` times; medians reported.
Run it as ``python -m bench.internals``; ``make bench`` adds its tables to
docs/benchmarks.md ("Design measurements").
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

import threadloom.store as store_module
from threadloom import MessageRecord, StateStore, ThreadMetadata
from threadloom._fastrecords import positional_builder
from threadloom._json import _storage_text, encode_json

from .workloads import (
    BASE_TIME,
    CONTENT,
    THREAD_ID,
    bench_thread,
    checkpoint_state,
    message_item,
    turn_state,
)

__all__ = ["Figures", "main", "markdown", "run"]

#: Per-value and end-to-end medians in µs: ``{table: {row: {variant: µs}}}``.
Figures = dict[str, dict[str, dict[str, float]]]

_BUILDERS = ("positional_builder", "keyword __init__", "descriptor loop")
_ENCODERS = ("orjson + proof", "stdlib C + serde floats", "stdlib Python", "orjson unproved")


def _rows_module() -> ModuleType:
    """The row mappers' module."""
    return importlib.import_module("threadloom.backends.common.rows")


# -- (a) record construction -------------------------------------------------------


def _keyword_thread(*v: Any) -> ThreadMetadata:
    return ThreadMetadata(
        id=v[0],
        rollout_path=v[1],
        preview=v[2],
        ephemeral=v[3],
        model_provider=v[4],
        created_at=v[5],
        updated_at=v[6],
        status=v[7],
        path=v[8],
        cwd=v[9],
        cli_version=v[10],
        source=v[11],
        name=v[12],
        sandbox_policy=v[13],
        approval_mode=v[14],
        archived=v[15],
        archived_at=v[16],
        git_sha=v[17],
        git_branch=v[18],
        git_origin_url=v[19],
        memory_mode=v[20],
        current_leaf_id=v[21],
    )


def _keyword_message(*v: Any) -> MessageRecord:
    return MessageRecord(
        id=v[0],
        thread_id=v[1],
        role=v[2],
        content=v[3],
        item=v[4],
        created_at=v[5],
        parent_entry_id=v[6],
    )


def _descriptor_loop(cls: type[Any]) -> Callable[..., Any]:
    setters = tuple(getattr(cls, f.name).__set__ for f in fields(cls))
    new = object.__new__

    def build(*values: Any) -> Any:
        self = new(cls)
        for put, value in zip(setters, values, strict=True):
            put(self, value)
        return self

    return build


def _builders(cls: type[Any], keyword: Callable[..., Any]) -> dict[str, Callable[..., Any]]:
    return {
        "positional_builder": positional_builder(cls),
        "keyword __init__": keyword,
        "descriptor loop": _descriptor_loop(cls),
    }


# -- (b) stored JSON ---------------------------------------------------------------

_C_ENCODE = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode
_EXPONENT = re.compile(r"[0-9]e[+-]")


def _stdlib_c(value: Any, what: str = "") -> str:
    """The plain way: the C encoder's text is serde_json's unless a float has an
    exponent (``1e-05``, ``1e+16``), which the Python encoder then lays out."""
    text = _C_ENCODE(value)
    if ("e+" in text or "e-" in text) and _EXPONENT.search(text):
        return _storage_text(value)
    return text


_ENCODE: dict[str, Callable[..., str]] = {
    "orjson + proof": encode_json,
    "stdlib C + serde floats": _stdlib_c,
    "stdlib Python": lambda value, what="": _storage_text(value),
    "orjson unproved": lambda value, what="": orjson.dumps(
        value, option=orjson.OPT_SORT_KEYS
    ).decode(),
}


# -- timing --------------------------------------------------------------------------


def _batch_us(call: Callable[[], object], number: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(number):
        call()
    return (time.perf_counter() - start) * 1e6 / number


def _compare(
    variants: dict[str, Callable[[], object]], number: int, rounds: int
) -> dict[str, float]:
    """Median µs per call of each variant, batches interleaved in rotating order."""
    names = list(variants)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(_batch_us(variants[name], number))
    return {n: statistics.median(s) for n, s in samples.items()}


@contextmanager
def _installed(module: ModuleType, **names: Any) -> Iterator[None]:
    saved = {k: getattr(module, k) for k in names}
    for k, v in names.items():
        setattr(module, k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(module, k, v)


def _each_installed(
    module: ModuleType,
    setups: dict[str, dict[str, Any]],
    call: Callable[[], object],
) -> dict[str, Callable[[], object]]:
    """One variant per setup: ``call`` with the setup's names installed in ``module``."""

    def variant(names: dict[str, Any]) -> Callable[[], object]:
        def run_it() -> object:
            with _installed(module, **names):
                return call()

        return run_it

    return {label: variant(names) for label, names in setups.items()}


def run(rounds: int = 7, scale: float = 1.0) -> Figures:
    """Measure both pieces; ``scale`` shrinks the batch sizes (the smoke test's)."""

    def n(value: int) -> int:
        return max(1, int(value * scale))

    figures: Figures = {"records": {}, "records end to end": {}, "json": {}, "json end to end": {}}
    rows = _rows_module()
    thread = bench_thread(3)
    thread_values = [getattr(thread, f.name) for f in fields(ThreadMetadata)]
    message_values = [7, THREAD_ID, "user", CONTENT, message_item(7), BASE_TIME, 6]
    for label, cls, keyword, values in (
        ("ThreadMetadata (22 fields)", ThreadMetadata, _keyword_thread, thread_values),
        ("MessageRecord (7 fields)", MessageRecord, _keyword_message, message_values),
    ):
        built = _builders(cls, keyword)
        assert len({repr(b(*values)) for b in built.values()}) == 1
        figures["records"][label] = _compare(
            {k: partial(b, *values) for k, b in built.items()}, n(5000), rounds
        )
    for label, value in (
        ("message item (64 B)", message_item(7)),
        ("turn state (~200 B)", turn_state(7)),
        ("checkpoint state (9.8 KB)", checkpoint_state()),
    ):
        texts = {k: f(value, "value") for k, f in _ENCODE.items()}
        assert len(set(texts.values())) == 1, texts  # the same bytes, all four
        number = n(300) if len(texts["orjson + proof"]) > 1024 else n(5000)
        figures["json"][label] = _compare(
            {k: partial(f, value, "value") for k, f in _ENCODE.items()}, number, rounds
        )

    with tempfile.TemporaryDirectory(prefix="threadloom-internals-") as tmp:
        store = StateStore.open(Path(tmp) / "state.db", clock=lambda: BASE_TIME)
        try:
            with store.transaction():
                store.upsert_thread(bench_thread(THREAD_ID))
                for i in range(200):
                    store.append_message(THREAD_ID, "user", CONTENT, message_item(i))
                for i in range(50):
                    store.upsert_thread(bench_thread(i))
            builders = {
                name: {
                    "_new_thread": _builders(ThreadMetadata, _keyword_thread)[name],
                    "_new_message": _builders(MessageRecord, _keyword_message)[name],
                }
                for name in _BUILDERS
            }
            figures["records end to end"]["list_messages(200)"] = _compare(
                _each_installed(rows, builders, lambda: store.list_messages(THREAD_ID, 200)),
                n(40),
                rounds,
            )
            figures["records end to end"]["list_threads(50)"] = _compare(
                _each_installed(rows, builders, lambda: store.list_threads(limit=50)),
                n(100),
                rounds,
            )
            encoders = {name: {"encode_json": _ENCODE[name]} for name in _ENCODERS}
            item, state = message_item(1), checkpoint_state()
            figures["json end to end"]["append_message"] = _compare(
                _each_installed(
                    store_module,
                    encoders,
                    lambda: store.append_message(THREAD_ID, "user", CONTENT, item),
                ),
                n(200),
                rounds,
            )
            figures["json end to end"]["save_checkpoint (9.8 KB)"] = _compare(
                _each_installed(
                    store_module,
                    encoders,
                    lambda: store.save_checkpoint(THREAD_ID, "latest", state),
                ),
                n(100),
                rounds,
            )
        finally:
            store.close()
    return figures


def _table(rows: dict[str, dict[str, float]], variants: Sequence[str], share: bool) -> list[str]:
    """A markdown table; with ``share``, each variant's cost over the first's, as a
    percentage of the first's (what the clever code saves end to end)."""
    head = "| | " + " | ".join(f"{v} (µs)" for v in variants) + " |"
    lines = [head, "| --- |" + " ---: |" * len(variants)]
    for label, by_variant in rows.items():
        first = by_variant[variants[0]]
        cells = []
        for v in variants:
            cell = f"{by_variant[v]:,.2f}" if by_variant[v] < 10 else f"{by_variant[v]:,.1f}"
            if share and v != variants[0] and first:
                cell += f" ({(by_variant[v] - first) / first:+.0%})"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def markdown(figures: Figures, rounds: int) -> list[str]:
    """The "Design measurements" tables for docs/benchmarks.md."""
    return [
        "### Measured in this run (`python -m bench.internals`)",
        "",
        f"Medians of {rounds} interleaved rounds. End to end, each variant is installed in",
        "the library (row mappers, `StateStore`'s encoder) on one SQLite store at",
        "`normal`; the percentage is that variant's cost over the library's.",
        "",
        "Record construction, per record:",
        "",
        *_table(figures["records"], _BUILDERS, share=False),
        "",
        "Record construction, end to end:",
        "",
        *_table(figures["records end to end"], _BUILDERS, share=True),
        "",
        "Stored-JSON encoding, per value (all four give the same bytes for these):",
        "",
        *_table(figures["json"], _ENCODERS, share=False),
        "",
        "Stored-JSON encoding, end to end (`orjson unproved` is a floor, not an option:",
        "it writes NaN as `null` and `1e16` as `1e+16`):",
        "",
        *_table(figures["json end to end"], _ENCODERS, share=True),
        "",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.internals``: print the tables."""
    parser = argparse.ArgumentParser(prog="python -m bench.internals", description=__doc__)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median)")
    args = parser.parse_args(argv)
    print("\n".join(markdown(run(args.rounds), args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
