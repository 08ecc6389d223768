"""``threadloom copy SRC DST``: a whole store from SQLite to PostgreSQL, or back."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from ..copy import copy_store
from ..store import StateStore
from .context import CliError, console, emit_json, json_option, wants_json

__all__ = ["COMMANDS"]

_POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def _open(where: str, *, create: bool) -> StateStore:
    if where.startswith(_POSTGRES_PREFIXES):
        return StateStore.open(where)
    path = Path(where).expanduser()
    if not create and not path.exists():
        raise CliError(f"no database at {path}")
    return StateStore.open(path)


@click.command("copy")
@click.argument("src")
@click.argument("dst")
@click.option("--batch-size", default=500, show_default=True, help="Rows per transaction.")
@json_option
def copy_cmd(src: str, dst: str, batch_size: int, as_json: bool) -> None:
    """Copy every table from SRC to DST (a state.db path or a postgresql:// DSN).

    Message ids and insertion order are kept. Interrupted? Run the same command
    again: rows already copied are skipped. Ends by checking row counts and a
    checksum per table on both sides; exits non-zero if any differ.
    """
    with _open(src, create=False) as source, _open(dst, create=True) as target:
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

            report = copy_store(source, target, batch_size=batch_size, progress=step)
    if wants_json(as_json):
        emit_json(
            {
                "source": report.source,
                "target": report.target,
                "verified": report.verified,
                "tables": [
                    {
                        "table": t.name,
                        "source_rows": t.source_rows,
                        "target_rows": t.target_rows,
                        "copied": t.copied,
                        "orphans_skipped": t.orphans_skipped,
                        "checksum_match": t.source_checksum == t.target_checksum,
                    }
                    for t in report.tables
                ],
            }
        )
    else:
        out = console()
        for t in report.tables:
            mark = "ok" if t.verified else "MISMATCH"
            extra = f", {t.orphans_skipped} orphans skipped" if t.orphans_skipped else ""
            out.print(f"{t.name:<22} {t.target_rows:>8} rows  {t.copied:>8} copied{extra}  {mark}")
    if not report.verified:
        bad = ", ".join(t.name for t in report.tables if not t.verified)
        raise CliError(f"copy verification failed for: {bad}")


COMMANDS: list[click.Command] = [copy_cmd]
