"""The report: markdown tables of medians and ratios, machine facts, targets, a plot."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sqlite3
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from .runner import FLOOR_TARGET, Results

__all__ = [
    "README_END",
    "README_START",
    "machine_facts",
    "readme_summary",
    "write_readme_summary",
    "write_report",
]

#: The README's benchmark summary lives between these lines; ``make bench`` rewrites
#: it from the same results as ``docs/benchmarks.md``, so the two always agree.
README_START = "<!-- bench-summary:start: written by `make bench` (bench/report.py) -->"
README_END = "<!-- bench-summary:end -->"

Target = tuple[str, str, bool | None]

_TL_N, _TL_F = "threadloom normal", "threadloom full"
_RAW_N, _RAW_F = "raw SQL normal", "raw SQL full"
_ORIG = "original"
_AGENTS, _LG = "Agents SDK SQLiteSession", "LangGraph SqliteSaver"

# (label, numerator, denominator): every ratio is threadloom's cost over the other's,
# so 0.05 means threadloom is 20x faster and 1.5 means 1.5x slower.
_RATIOS = [
    ("normal ÷ original", _TL_N, _ORIG),
    ("full ÷ original", _TL_F, _ORIG),
    ("normal ÷ raw normal", _TL_N, _RAW_N),
    ("full ÷ raw full", _TL_F, _RAW_F),
    ("full ÷ Agents SDK", _TL_F, _AGENTS),
    ("full ÷ LangGraph", _TL_F, _LG),
]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _filesystem(path: Path) -> str:
    best = ("?", "?", "")
    target = str(path.resolve())
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                dev, mnt, fstype = line.split()[:3]
                if (target + "/").startswith(mnt.rstrip("/") + "/") and len(mnt) >= len(best[2]):
                    best = (dev, fstype, mnt)
    except OSError:
        pass
    return f"{best[1]} on {best[0]}"


def machine_facts(workdir: Path | None = None) -> list[tuple[str, str]]:
    """What the numbers depend on."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        rev = "?"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        ("date (UTC)", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")),
        ("git revision", rev or "?"),
        ("CPUs", str(os.cpu_count())),
        ("load average at report time", load),
        ("platform", platform.platform()),
        ("Python", sys.version.split()[0]),
        ("SQLite (Python)", sqlite3.sqlite_version),
        ("database directory", _filesystem(workdir or Path("/tmp"))),
        (
            "libraries",
            ", ".join(
                f"{p} {_version(p)}"
                for p in ("orjson", "langgraph-checkpoint-sqlite", "openai-agents")
            ),
        ),
    ]


def _fmt_us(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 10_000:
        return f"{value / 1000:,.1f} ms"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _fmt_ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if value < 0.1 else f"{value:.2f}"


def ratio(results: Results, workload: str, ours: str, theirs: str) -> float | None:
    a = results.median_us(workload, ours)
    b = results.median_us(workload, theirs)
    return None if a is None or b is None or b == 0 else a / b


def _held_mark(held: bool | None) -> str:
    return "—" if held is None else ("yes" if held else "**no**")


def _target_row(target: Target) -> str:
    name, evidence, held = target
    return f"| {name} | {evidence} | {_held_mark(held)} |"


_FLOOR_LABEL = f"within {FLOOR_TARGET}× of the floor"
_PG = "threadloom postgres"

#: Flatness series: (what, family); the smallest and largest database of each family
#: in the run are compared (their sizes come from ``--scale`` and ``--messages``).
_FLAT = (
    ("append", "append_at"),
    ("read_branch(200)", "read_branch_at"),
    ("list_threads(50)", "list_threads"),
    ("name_lookup", "name_lookup"),
)


def _is_floor_target(target: Target) -> bool:
    return _FLOOR_LABEL in target[0]


def flat_pairs(results: Results) -> list[tuple[str, str, str]]:
    """(what, smallest key, largest key) of each flatness series present in the run."""
    out = []
    for what, family in _FLAT:
        same = sorted((w for w in results.workloads if w.family == family), key=lambda w: w.size)
        if len(same) >= 2 and same[0].size < same[-1].size:
            out.append((what, same[0].key, same[-1].key))
    return out


def readme_summary(targets: list[Target], reps: int, minutes: float) -> list[str]:
    """The README's benchmark summary: the run, every missed target, the headline ones.

    Rows are the exact rows of the report's Targets table, so the README cannot say
    anything the report does not.
    """
    missed = [t for t in targets if t[2] is False]
    floor = [t for t in targets if _is_floor_target(t)]
    floor_held = sum(t[2] is True for t in floor)
    headline = [t for t in targets if not _is_floor_target(t)]
    lines = [
        f"From the run in [docs/benchmarks.md](docs/benchmarks.md) ({reps} interleaved "
        f"repetitions, {minutes:.1f} minutes, medians): "
        f"{sum(t[2] is True for t in targets)} of {len(targets)} targets held.",
        "",
    ]
    if missed:
        lines += [
            f"Missed ({len(missed)}):",
            "",
            "| target | measured | held |",
            "| --- | --- | --- |",
            *(_target_row(t) for t in missed),
            "",
        ]
    else:
        lines += ["Missed: none.", ""]
    lines += [
        "Against the original and the peers:",
        "",
        "| target | measured | held |",
        "| --- | --- | --- |",
        *(_target_row(t) for t in headline),
        "",
        f"Within {FLOOR_TARGET}× of the raw-SQL floor: {floor_held} of {len(floor)} "
        "(workload by workload in the report).",
    ]
    return lines


def write_readme_summary(readme: Path, lines: list[str]) -> None:
    """Replace the text between :data:`README_START` and :data:`README_END` in ``readme``.

    Raises:
        ValueError: The markers are missing or out of order (nothing is written).
    """
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{readme} has no {README_START!r} ... {README_END!r} block")
    body = "\n".join(lines)
    new = text[: start + len(README_START)] + "\n" + body + "\n" + text[end:]
    readme.write_text(new, encoding="utf-8")


def _targets(results: Results) -> list[Target]:
    """(target, evidence, held) for every target of the issue."""
    out: list[Target] = []

    def check(name: str, value: float | None, limit: float, text: str) -> None:
        held = None if value is None else value <= limit
        out.append((name, text.format(v=_fmt_ratio(value)), held))

    for w in ("append", "turn"):
        check(
            f"`{w}` ≥20× faster than the original at `normal`",
            ratio(results, w, _TL_N, _ORIG),
            0.05,
            "ratio {v} (need ≤ 0.05)",
        )
        check(
            f"`{w}` ≥4× faster than the original at `full`",
            ratio(results, w, _TL_F, _ORIG),
            0.25,
            "ratio {v} (need ≤ 0.25)",
        )
    turn = results.median_us("turn", _ORIG)
    for ours, times, need in ((_TL_N, 40, 0.025), (_TL_F, 8, 0.125)):
        tx = results.median_us("turn_tx", ours)
        check(
            f"`turn_tx` (a turn in one transaction) ≥{times}× faster than the original's "
            f"`turn` at `{ours.split()[1]}`",
            None if tx is None or not turn else tx / turn,
            need,
            f"ratio {{v}} (need ≤ {need})",
        )
    for wl in results.workloads:
        for ours, floor in ((_TL_N, _RAW_N), (_TL_F, _RAW_F)):
            r = ratio(results, wl.key, ours, floor)
            if r is not None:
                check(
                    f"`{wl.key}` {_FLOOR_LABEL} ({ours.split()[1]})",
                    r,
                    FLOOR_TARGET,
                    f"ratio {{v}} (need ≤ {FLOOR_TARGET})",
                )
    big = next((w.key for w in results.workloads if w.key == "name_lookup@100k"), None)
    if big:
        check(
            "`name_lookup@100k` ≥100× faster than the original",
            ratio(results, big, _TL_N, _ORIG),
            0.01,
            "ratio {v} (need ≤ 0.01)",
        )
    for what, small_key, big_key in flat_pairs(results):
        a, b = results.median_us(big_key, _TL_N), results.median_us(small_key, _TL_N)
        check(
            f"`{what}` flat with size: `{big_key}` ≤1.2× `{small_key}`",
            None if not a or not b else a / b,
            1.2,
            "ratio {v} (need ≤ 1.2)",
        )
    if results.paging:
        from .paging import flat_ratio

        rows = results.paging["rows"]
        check(
            f"paging a {rows[-1]['messages']:,}-message branch keeps memory flat "
            f"(peak ≤1.2× at {rows[0]['messages']:,})",
            flat_ratio(results.paging),
            1.2,
            "peak ratio {v} (need ≤ 1.2)",
        )
    for wl in results.workloads:
        for peer in (_AGENTS, _LG):
            r = ratio(results, wl.key, _TL_F, peer)
            if r is not None:
                check(f"`{wl.key}` faster than {peer} (full)", r, 1.0, "ratio {v} (need < 1)")
    one = results.median_us("concurrent@1", _TL_N)
    four = results.median_us("concurrent@4", _TL_N)
    if one and four:
        errs = sum(
            results.errors(f"concurrent@{k}", name) for k in (1, 2, 4, 8) for name in (_TL_N, _TL_F)
        )
        held = four <= one and errs == 0
        out.append(
            (
                "`concurrent`: 4 writers ≥ 1 writer throughput, zero errors",
                f"{1e6 / four:,.0f} vs {1e6 / one:,.0f} appends/s; {errs} errors",
                held,
            )
        )
    one = results.median_us("pg_threads@1", _PG)
    eight = results.median_us("pg_threads@8", _PG)
    if one and eight:
        errs = sum(results.errors(f"pg_threads@{k}", _PG) for k in (1, 8))
        out.append(
            (
                "`pg_threads`: 8 writer threads ≥4× one writer's throughput (PostgreSQL)",
                f"{1e6 / eight:,.0f} vs {1e6 / one:,.0f} appends/s "
                f"({one / eight:.2f}×); {errs} errors",
                one / eight >= 4 and errs == 0,
            )
        )
    return out


def _plot(results: Results, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(20, 4.4))
    ax = axes[0]
    for name, series in results.depth_sweep.items():
        xs = sorted(series)
        ax.plot(xs, [series[x] for x in xs], marker="o", label=name)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="messages read (list_messages limit)",
        ylabel="µs per call",
        title="Read cost vs chain depth",
    )
    ax.legend(fontsize=8)

    ax = axes[1]
    sizes = {w.key: w.size for w in results.workloads if w.family == "name_lookup"}
    for name in results.contenders:
        pts = [(sizes[k], results.median_us(k, name)) for k in sizes]
        pts = [(x, y) for x, y in sorted(pts) if y is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="session-index entries",
        ylabel="µs per lookup",
        title="Name lookup cost vs index size",
    )
    ax.legend(fontsize=8)

    ax = axes[2]
    writers = {w.key: w.size for w in results.workloads if w.family == "concurrent"}
    for name in results.contenders:
        pts = [(writers[k], results.median_us(k, name)) for k in writers]
        pts = [(x, 1e6 / y) for x, y in sorted(pts) if y]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="writer processes",
        ylabel="appends per second (total)",
        title="Throughput vs writer count",
    )
    ax.set_xticks(sorted(set(writers.values())) or [1])
    ax.set_xticklabels([str(x) for x in sorted(set(writers.values()))] or ["1"])
    ax.legend(fontsize=8)

    ax = axes[3]
    sizes_of = {w.key: w.size for w in results.workloads}
    for what, small_key, _ in flat_pairs(results):
        family = next(w.family for w in results.workloads if w.key == small_key)
        keys = [w.key for w in results.workloads if w.family == family]
        base = results.median_us(small_key, _TL_N)
        pts = [(sizes_of[k], results.median_us(k, _TL_N)) for k in keys]
        pts = [(x, y / base) for x, y in sorted(pts) if y is not None and base]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=what)
    ax.axhline(1.2, color="grey", linestyle="--", linewidth=1, label="target (1.2×)")
    ax.set(
        xscale="log",
        xlabel="rows stored (messages, or threads for list_threads/name_lookup)",
        ylabel="cost ÷ cost at the smallest size",
        title="threadloom normal: cost vs database size",
    )
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


#: What the profiles above show and what closing each gap would take. Written by
#: hand from the profiles; it is printed only when some workload is over target.
GAP_NOTES = [
    "### What the remaining gaps need",
    "",
    "- **Reads of many messages (`read_branch`, `resume`) and of threads",
    "  (`list_threads`).** SQLite's `execute`/`fetchall` is the same statement for both;",
    "  the difference is per row: the floor returns a tuple, the API a frozen record",
    "  (`MessageRecord`: about 0.15 µs a row through `positional_builder`;",
    "  `ThreadMetadata`: 22 fields), and the floor's `list_threads` maps nothing at",
    "  all. The batch mappers (`messages_from_rows`, `threads_from_rows`) already pay",
    "  the other per-row steps once per read (one call, one 19-digit scan of the",
    "  joined items). Decoding `item` lazily on first access would take the JSON",
    "  decode off the read, but `list_messages` raises `CorruptData` naming the row",
    "  when an item does not parse (tests/reliability/test_corrupt_data.py): a lazy",
    "  record would move that error to the first `.item` access, so it is not done.",
    "- **`turn` against the original.** Four calls are four write transactions, each a",
    "  commit; `turn_tx` (the same calls inside `store.transaction()`, the README's",
    "  recommended hot path) is one.",
    "- **`read_branch`/`resume` against the Agents SDK.** `SQLiteSession.get_items`",
    "  returns `json.loads` dicts with no record type and reads one flat table by an",
    "  index range; threadloom walks the parent links of a message tree (a recursive",
    "  query, one primary-key lookup per message) and builds records.",
    "- **PostgreSQL writers on threads (`pg_threads`).** Eight threads of one process",
    "  share its GIL for their client-side work (parameters, psycopg's encoding and",
    "  parsing) and, on a 2-core machine, two cores with the server itself: what eight",
    "  writers gain is the overlap of round trips and commits.",
    "",
]


#: Why the library keeps its clever code, and figures measured while building it that
#: used to sit in code comments. The tables of ``bench/internals.py`` follow.
DESIGN_NOTES = [
    "## Design measurements",
    "",
    "Clever code stays only where a measurement shows it matters end to end",
    "(`python -m bench.internals`, tables below):",
    "",
    "- **`_fastrecords.positional_builder`** (an `exec`-built constructor that fills a",
    "  twin class's slots, then switches `__class__`): the row mappers build every",
    "  `ThreadMetadata` and `MessageRecord` with it. Without it `list_threads(50)` and",
    "  `list_messages(200)` cost a third or more extra; a loop over the slot",
    "  descriptors (no `exec`) recovers only part of that. Kept.",
    "- **`_json_fast.encode_fast`** (orjson's text, proved equal to the stdlib",
    "  encoder's by a decode and compare for short texts, a type walk for long ones):",
    "  on `append_message` the stdlib C encoder would cost a few percent more, but",
    "  `save_checkpoint` with the original's 9.8 KB state would cost 2-3× as much. Kept.",
    "",
    "Figures measured while building the library (one machine, not re-run by",
    "`make bench`):",
    "",
    "- Record construction: a 22-field thread took 3.1 µs through the dataclass's",
    "  `__init__` (`object.__setattr__` per field), 1.05 µs through the slot",
    "  descriptors, 0.34 µs with `positional_builder`.",
    "- Stored enum strings: a dict lookup ~30 ns, `Enum.__call__` ~320 ns (twice per",
    "  thread row of `list_threads`).",
    "- JSON decoding: orjson decodes 200 message items in 149 µs, the stdlib in 789 µs.",
    "  The 19-digit guard (`_long_digits`) by `bytes.translate` and a substring search",
    "  costs 13 µs on a 9.8 KB state; a regex scan cost 149 µs.",
    "- JSON encoding of a 9.8 KB state: orjson 5.9 µs, the stdlib's Python encoder",
    "  75 µs; the proof by decode and compare would cost 19 µs there, the type walk",
    "  9 µs (a message item: 0.4 µs by decode). The depth pre-check counts brackets",
    "  at about 0.3 ns a byte.",
    "- SQLite: `load_checkpoint` with 2,000 checkpoints saved in one second took 19 ms",
    "  per load before its index tie-break, 9 µs after; a `with conn:` block costs",
    "  about 1 µs per call, a tenth of a `get_thread` or a replay lookup.",
    "- Session index (`session_index.jsonl`): orjson parses an entry about 7× faster",
    "  than `json.loads` (3.6 → 1.5 µs per line), most of loading 100,000 entries;",
    "  orjson writes a line about 20× faster than `json.dumps`.",
    "- Fork detection: `os.getpid()` is a system call, about 0.2 µs.",
    "",
]


#: Sections of ``benchmarks.md`` written from their own workload's run (not this
#: suite's): a rewrite of the report keeps them as they are, at its end.
KEPT_SECTIONS = ("## Full-text search",)


def kept_sections(text: str) -> str:
    """The :data:`KEPT_SECTIONS` of a report, each up to the next ``## `` heading."""
    out = ""
    for heading in KEPT_SECTIONS:
        at = text.find("\n" + heading + "\n")
        if at < 0:
            continue
        end = text.find("\n## ", at + 1)
        out += text[at : end if end >= 0 else len(text)].rstrip("\n") + "\n"
    return out


def write_report(results: Results, out: Path, readme: Path | None = None) -> tuple[Path, Path]:
    """Write ``benchmarks.md`` and ``benchmarks.png`` into ``out``, and the summary.

    Args:
        results: One run.
        out: The report's directory (``docs``).
        readme: The README whose summary block to rewrite from the same run; by
            default ``README.md`` beside ``out`` when it exists.

    Raises:
        ValueError: That README has no summary block.
    """
    out.mkdir(parents=True, exist_ok=True)
    if readme is None and (out.parent / "README.md").exists():
        readme = out.parent / "README.md"
    targets = _targets(results)
    md, png = out / "benchmarks.md", out / "benchmarks.png"
    _plot(results, png)
    names = results.contenders
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`) from one run: every number below comes",
        f"from the same run of {results.reps} interleaved repetitions ({results.seconds / 60:.1f} minutes), "
        "medians reported.",
        "The machine is shared with other work, so absolute numbers are noisy; the ratios",
        "(contenders measured side by side, in rotating order) are what to read.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in machine_facts()),
        "",
        "## Median cost per operation (µs)",
        "",
        "Lower is better. `concurrent@k`: k processes append at once; cost is 1 / total",
        "throughput. `—`: no equivalent operation.",
        "",
        "| workload | op | " + " | ".join(names) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in names) + " |",
    ]
    for w in results.workloads:
        cells = []
        for name in names:
            cell = _fmt_us(results.median_us(w.key, name))
            errs = results.errors(w.key, name)
            if errs:
                cell += f" ({errs} errors)"
            if (w.key, name) in results.failures:
                cell = "failed"
            cells.append(cell)
        lines.append(f"| {w.key} | {w.unit_note} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Ratios: threadloom ÷ contender",
        "",
        "Cost ratios from the medians above: 0.05 means threadloom takes 1/20 of the time",
        "(20× faster); above 1 means slower. `full` is compared with the peers: they run",
        "WAL with `synchronous=FULL` by default.",
        "",
        "| workload | " + " | ".join(label for label, _, _ in _RATIOS) + " |",
        "| --- | " + " | ".join("---:" for _ in _RATIOS) + " |",
    ]
    for w in results.workloads:
        cells = [_fmt_ratio(ratio(results, w.key, a, b)) for _, a, b in _RATIOS]
        lines.append(f"| {w.key} | " + " | ".join(cells) + " |")
    lines += ["", "## Targets", "", "| target | measured | held |", "| --- | --- | --- |"]
    lines += [_target_row(t) for t in targets]
    lines += ["", "## How cost grows with size", "", "![cost vs size](benchmarks.png)", ""]
    if results.replay:
        r = results.replay
        lines += [
            "## Workflow replay lookup",
            "",
            f"`store.workflows.find_replay(run, leaf, input_hash)` with {r['leaf_runs']:,} leaf",
            f"runs stored (index `idx_leaf_runs_replay_lookup`), median of {r['lookups']:,}",
            "random lookups (`bench/workflow_replay.py`):",
            "",
            "| hit | miss | `replay_leaf` (lookup + write) |",
            "| ---: | ---: | ---: |",
            f"| {r['hit_median_us']:.1f} µs | {r['miss_median_us']:.1f} µs "
            f"| {r['replay_leaf_median_us']:.1f} µs |",
            "",
        ]
    if results.async_api:
        lines += results.async_api
    if results.paging:
        from .paging import markdown as paging_markdown

        lines += paging_markdown(results.paging)
    if results.adapters:
        lines += ["", *results.adapters]
    lines += DESIGN_NOTES
    if results.internals:
        lines += results.internals
    if results.failures:
        lines += ["## Failures", ""]
        lines += [f"- `{w}` / {c}: {msg}" for (w, c), msg in sorted(results.failures.items())]
        lines.append("")
    first_errors = sorted(
        {
            (k[0], k[1], s.extra["first_error"])
            for k, v in results.samples.items()
            for s in v
            if "first_error" in s.extra
        }
    )
    if first_errors:
        lines += ["## Errors seen", ""]
        lines += [f"- `{w}` / {c}: `{str(e)[:200]}`" for w, c, e in first_errors]
        lines.append("")
    if results.profiles:
        lines += [
            "## Profiles of the gaps to the floor",
            "",
            f"cProfile of one threadloom run of each workload above {FLOOR_TARGET}× the floor, by own",
            "time (the profiler's overhead inflates small calls, so read shares, not totals).",
            "",
        ]
        for key, text in results.profiles.items():
            lines += [f"### {key}", "", "```", text, "```", ""]
        lines += GAP_NOTES
    lines += [
        "## Method",
        "",
        "- Workloads: `bench/workloads.py`; the first seven have the shape and size of the",
        "  oracle's `bench` scenarios (≈90-byte content with a small item, 9.8 KB",
        "  checkpoint state, fixed-seed random picks).",
        "- threadloom: the public `StateStore` API. Raw SQL: threadloom's own SQL text",
        "  through `sqlite3`, one reused connection, the same pragmas, orjson for JSON, plain",
        "  tuples out — the best a Python library could do (`bench/contenders/rawsql.py`).",
        "- The original: `seed-oracle bench` for `append`, `checkpoint`, `upsert_thread`,",
        "  `fork` and the 2,000-row `list_threads`/`name_lookup`; `seed-oracle run` on a copy",
        "  of the same fixture (rollback journal, as the original runs) for the rest,",
        "  timed from the first answer to the last (`bench/contenders/oracle.py`).",
        "- Peers at their defaults (WAL, `synchronous=FULL`) where an equivalent exists",
        "  (`bench/contenders/peers.py`).",
        "- Set-up is never timed; fixtures are built once per run and copied per",
        "  repetition.",
        "- `turn_tx`: the `turn` calls inside one `store.transaction()` (the README's",
        "  recommended hot path); the floor runs the same statements in one",
        "  transaction, the append inside a savepoint as the library does. Its targets",
        "  compare it with the original's `turn` (the original has no transaction).",
        "- `append@N`, `read_branch@N`: the database-size points (`--messages` sets the",
        "  largest; `--only scale` runs them alone), threadloom and the floor at",
        "  `normal` only; with `list_threads@…` and `name_lookup@…` they make the",
        "  flatness targets and the plot's last panel.",
        "- `pg_threads@k`: k threads of one process append through one PostgreSQL",
        "  store (a pool of k connections), each to its own thread. An append's round",
        "  trips are counted by `tests/postgres/test_round_trips.py` (one each).",
        "",
    ]
    kept = kept_sections(md.read_text(encoding="utf-8")) if md.exists() else ""
    md.write_text("\n".join(lines) + kept, encoding="utf-8")
    if readme is not None:
        write_readme_summary(readme, readme_summary(targets, results.reps, results.seconds / 60))
    return md, png
