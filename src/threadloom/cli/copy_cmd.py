"""``threadloom copy SRC DST``: a whole store from SQLite to PostgreSQL, or back."""

from __future__ import annotations

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from ..transfer.copy import CopyMode, DestinationNotEmpty, TableReport, copy_store
from .context import CliError, console, emit_json, json_option, open_target, wants_json
from .params import COUNT

__all__ = ["COMMANDS"]


@click.command("copy")
@click.argument("src")
@click.argument("dst")
@click.option(
    "--batch-size", type=COUNT, default=500, show_default=True, help="Rows per transaction."
)
@click.option(
    "--resume",
    is_flag=True,
    help="DST holds an interrupted copy of SRC: finish it (rows already there are skipped).",
)
@click.option(
    "--merge",
    is_flag=True,
    help="Add SRC's rows to a DST that holds other data (rows whose key DST has are kept).",
)
@json_option
def copy_cmd(src: str, dst: str, batch_size: int, resume: bool, merge: bool, as_json: bool) -> None:
    """Copy every table from SRC to DST (a state.db path or a postgresql:// DSN).

    DST must be empty: a non-empty DST is refused before anything is written,
    unless --resume or --merge says what to do with it. Message ids and insertion
    order are kept. Interrupted? Run the same command again with --resume: rows
    already copied are skipped. Ends by checking row counts and a checksum per
    table on both sides (with --merge: that every SRC row is in DST); exits
    non-zero if any differ.
    """
    if resume and merge:
        raise CliError("--resume and --merge exclude each other")
    copy_mode = CopyMode.RESUME if resume else CopyMode.MERGE if merge else CopyMode.NEW
    # The source is only read: copying off a file must not migrate it or switch it to WAL.
    with (
        open_target(src, read_only=True) as source,
        open_target(dst, create=True) as target,
    ):
        quiet = wants_json(as_json)
        with Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console(stderr=True),
            disable=quiet,
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def step(table: str, done: int, total: int) -> None:
                if table not in tasks:
                    tasks[table] = bar.add_task(table, total=total)
                bar.update(tasks[table], completed=done, total=total)

            try:
                report = copy_store(
                    source, target, batch_size=batch_size, progress=step, mode=copy_mode
                )
            except DestinationNotEmpty as exc:
                raise CliError(_refusal(exc)) from exc
    if wants_json(as_json):
        emit_json(
            {
                "source": report.source,
                "target": report.target,
                "mode": report.mode.value,
                "verified": report.verified,
                "tables": [
                    {
                        "table": t.name,
                        "source_rows": t.source_rows,
                        "target_rows": t.target_rows,
                        "copied": t.copied,
                        "orphans_skipped": t.orphans_skipped,
                        "checksum_match": t.source_checksum == t.target_checksum,
                        "missing": t.missing,
                    }
                    for t in report.tables
                ],
            }
        )
    else:
        _print_report(report.tables, merged=copy_mode is CopyMode.MERGE)
    if not report.verified:
        bad = ", ".join(t.name for t in report.tables if not t.verified)
        raise CliError(f"copy verification failed for: {bad}")


def _refusal(exc: DestinationNotEmpty) -> str:
    # The library's message names its mode= values; the command line has flags.
    if not exc.modes_help:
        return exc.reason
    return (
        f"{exc.reason}. Copy into an empty store, resume an interrupted copy of this "
        "source (--resume), or merge into it (--merge)"
    )


def _print_report(tables: list[TableReport], *, merged: bool) -> None:
    """One row a table under headers, then what each count is (fits 80 columns)."""
    grid = Table(box=None, header_style="bold", pad_edge=False)
    grid.add_column("Table")
    for header in ("Source rows", "Copied now", "Target rows", "Orphans", "Check"):
        grid.add_column(header, justify="right")
    for t in tables:
        if merged:
            check = "ok" if t.verified else f"{t.missing} missing"
        else:
            check = "match" if t.verified else "MISMATCH"
        grid.add_row(
            t.name,
            str(t.source_rows),
            str(t.copied),
            str(t.target_rows),
            str(t.orphans_skipped),
            check,
        )
    out = console()
    out.print(grid)
    out.print("Source/Target rows: rows each side holds now. Copied now: rows this run wrote.")
    out.print("Orphans: source rows whose parent row is missing, not copied.")
    if merged:
        out.print("Check: source rows the target does not hold as they are (merge).")
    else:
        out.print("Check: row counts and checksums of both sides agree.")


COMMANDS: list[click.Command] = [copy_cmd]
