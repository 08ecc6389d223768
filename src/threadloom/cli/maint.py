"""Keeping the database healthy: ``doctor``, ``repair``, ``prune``, ``stats``, ``migrate``."""

from __future__ import annotations

from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from ..backends.opening import redact_location
from ..errors import ThreadloomError
from ..maintenance import (
    DoctorReport,
    diagnose,
    prune_threads,
    repair,
    select_threads_to_prune,
    stats,
    thread_counts,
    vacuum,
)
from ..records import ThreadStatus
from .context import CliError, console, emit_json, json_option, open_store, state, wants_json
from .fmt import human_bytes, relative_time, thread_title
from .params import COUNT, DAYS

__all__ = ["COMMANDS"]


_DAMAGE_HINT = (
    "The file is damaged: `threadloom repair` does not fix damage. Restore it from a "
    "backup, or save what SQLite can still read with `sqlite3 FILE .recover`."
)


def _print_report(report: DoctorReport) -> None:
    out = console()
    ok = Text("ok", style="green")
    grid = Table.grid(padding=(0, 2))
    grid.add_row(Text("Database", style="bold"), report.location)
    pending = ", ".join(report.pending_steps) or "none"
    grid.add_row(
        Text("Schema", style="bold"),
        f"version {report.schema_version}, pending steps: {pending}",
    )
    # The same rows on every backend; a value an engine does not have says so.
    if report.integrity:
        integrity = "; ".join(report.integrity[:3])
        grid.add_row(
            Text("Integrity", style="bold"),
            ok if integrity == "ok" else Text(f"FAILED: {integrity}", style="red"),
        )
    else:
        grid.add_row(Text("Integrity", style="bold"), "checked by the server")
    fk = ", ".join(f"{t}: {n}" for t, n in report.foreign_key_violations.items())
    grid.add_row(Text("Foreign keys", style="bold"), fk or ok)
    orphans = ", ".join(f"{t}: {n}" for t, n in report.orphans.items() if n)
    if orphans:
        orphans += f" (threads {', '.join(report.orphan_threads)})"
    grid.add_row(Text("Orphans", style="bold"), orphans or ok)
    grid.add_row(
        Text("Current leaves", style="bold"),
        ", ".join(f"{t}: {v!r}" for t, v in report.bad_leaves.items()) or ok,
    )
    grid.add_row(
        Text("Indexes", style="bold"),
        Text("invalid: " + ", ".join(report.invalid_indexes), style="red")
        if report.invalid_indexes
        else ok,
    )
    grid.add_row(Text("Sizes", style="bold"), _sizes(report))
    if report.index is not None:
        idx = report.index
        grid.add_row(
            Text("Session index", style="bold"),
            f"{idx.lines} line(s), {idx.threads} thread(s), {idx.skipped_lines} corrupt/torn, "
            f"{report.index_superseded_lines} superseded, "
            f"{len(report.index_deleted_threads)} deleted here, "
            f"{len(report.index_other_threads)} unknown (kept)",
        )
    out.print(grid)
    problems = report.problems()
    out.print()
    if not problems:
        out.print(Text("No problems found.", style="bold green"))
        return
    out.print(Text(f"{len(problems)} problem(s):", style="bold red"))
    for line in problems:
        out.print(Text(f"  • {line}"), soft_wrap=True)
    if report.damaged:
        out.print(Text(_DAMAGE_HINT, style="bold"), soft_wrap=True)
    else:
        out.print(Text("Run `threadloom repair` to fix them.", style="dim"))


def _sizes(report: DoctorReport) -> str:
    if report.dead_tuples is not None:  # PostgreSQL: the schema, and what VACUUM reclaims
        dead = sum(report.dead_tuples.values())
        return f"tables and indexes {human_bytes(report.db_bytes)}, {dead:,} dead tuple(s)"
    return (
        f"database {human_bytes(report.db_bytes)}, WAL {human_bytes(report.wal_bytes)}, "
        f"free {human_bytes(report.free_bytes)}"
    )


def _location() -> str:
    app = state()
    if not app.is_postgres:
        return str(app.db_path())
    return redact_location(app.db or "")


@click.command("doctor")
@click.option("--check", is_flag=True, help="Exit with status 1 when any problem is found.")
@json_option
def doctor_cmd(check: bool, as_json: bool) -> None:
    """Check the database: schema, integrity, orphans, leaves, indexes, session index, sizes.

    Read-only: the file is not changed (not even its journal mode) and no schema step
    is applied. Exits 1 when the database cannot be opened or fails its integrity
    check (with --check: on any problem). --json prints JSON in every case.
    """
    json_out = wants_json(as_json)
    try:
        report = diagnose(open_store(read_only=True))
    except (CliError, ThreadloomError) as exc:
        if not json_out:
            raise  # one line on stderr, as every command says it
        engine = "postgresql" if state().is_postgres else "sqlite"
        report = DoctorReport.unreadable(_location(), _first_line(exc), engine)
    if json_out:
        emit_json(report.to_dict())
    else:
        _print_report(report)
    if report.fatal or (check and report.problems()):
        raise SystemExit(1)


def _first_line(exc: Exception) -> str:
    text = exc.format_message() if isinstance(exc, CliError) else str(exc)
    lines = text.strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@click.command("repair")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Only show what would be repaired.")
@json_option
def repair_cmd(yes: bool, dry_run: bool, as_json: bool) -> None:
    """Fix what `doctor` finds (after showing it): orphans, bad leaves, index, WAL."""
    # Diagnosed read-only: a damaged file (or a dry run) is left exactly as it was.
    report = diagnose(open_store(read_only=True))
    json_out = wants_json(as_json)
    if not json_out:
        _print_report(report)
    if dry_run:
        if json_out:
            emit_json({"dry_run": True, "doctor": report.to_dict()})
        return
    if report.damaged:
        # Deleting and rewriting rows through damaged pages can only make it worse.
        raise CliError("the database failed its integrity check; " + _DAMAGE_HINT)
    if (
        not report.problems()
        and not report.index_superseded_lines
        and not report.index_deleted_threads
        and not report.wal_bytes
    ):
        if json_out:
            emit_json({"doctor": report.to_dict(), "repair": None})
        return
    if not yes and not json_out:
        click.confirm("Repair now (also compacts the session index and the WAL)?", abort=True)
    done = repair(open_store(migrate=False), report)
    if json_out:
        emit_json({"doctor": report.to_dict(), "repair": done.to_dict()})
        return
    out = console()
    deleted = sum(done.orphans_deleted.values())
    out.print(Text("Repaired:", style="bold green"))
    if done.migrated:
        out.print(f"  • applied schema steps {', '.join(done.migrated)}")
    out.print(f"  • deleted {deleted} orphan row(s)")
    for thread_id, leaf in done.leaves_reset.items():
        out.print(f"  • {thread_id}: current leaf reset to {leaf if leaf is not None else 'none'}")
    for thread_id in done.statuses_reset:
        out.print(f"  • {thread_id}: status reset to idle")
    for name in done.indexes_rebuilt:
        out.print(f"  • index {name} rebuilt")
    wal = ""
    if done.wal_bytes_after is not None:
        wal = f"; WAL {human_bytes(done.wal_bytes_before)} → {human_bytes(done.wal_bytes_after)}"
    out.print(
        f"  • session index {done.index_lines_before} → {done.index_lines_after} line(s){wal}"
    )


@click.command("prune")
@click.option("--older-than", "days", type=DAYS, help="Not updated for N days.")
@click.option("--archived", is_flag=True, help="Archived threads only.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in ThreadStatus]),
    help="Threads with this status (repeatable).",
)
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--no-vacuum", is_flag=True, help="Skip VACUUM afterwards.")
@json_option
def prune_cmd(
    days: float | None,
    archived: bool,
    statuses: tuple[str, ...],
    dry_run: bool,
    yes: bool,
    no_vacuum: bool,
    as_json: bool,
) -> None:
    """Delete threads by age, archived state or status (all given criteria must match)."""
    if days is None and not archived and not statuses:
        raise click.UsageError("give at least one of --older-than, --archived, --status")
    store = open_store(read_only=dry_run)
    selected = select_threads_to_prune(
        store, older_than_days=days, archived=archived, statuses=statuses
    )
    counts = thread_counts(store, [t.id for t in selected])
    json_out = wants_json(as_json)
    listing: list[dict[str, Any]] = [
        {
            "id": t.id,
            "title": thread_title(t),
            "status": t.status.value,
            "updated_at": t.updated_at,
            "messages": counts[t.id].messages,
        }
        for t in selected
    ]
    out = console()
    if not json_out:
        table = Table(box=None, header_style="bold", title=f"{len(selected)} thread(s) to delete")
        for column in ("ID", "Name", "Status", "Updated", "Msgs"):
            table.add_column(column)
        for row in listing:
            table.add_row(
                row["id"],
                row["title"],
                row["status"],
                relative_time(row["updated_at"]),
                str(row["messages"]),
            )
        out.print(table)
    if dry_run or not selected:
        if json_out:
            emit_json({"dry_run": dry_run, "threads": listing, "deleted": 0})
        elif dry_run:
            out.print(Text("Dry run: nothing was deleted.", style="dim"))
        return
    if not yes and not json_out:
        click.confirm(f"Delete these {len(selected)} thread(s)?", abort=True)
    # Each thread is deleted in its own transaction: Ctrl-C stops between threads and
    # leaves every thread either whole or gone.
    with Progress(
        TextColumn("deleting"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console(stderr=True),
        transient=True,
        disable=json_out,
    ) as progress:
        task = progress.add_task("delete", total=len(selected))
        deleted = prune_threads(store, [t.id for t in selected], lambda _: progress.advance(task))
    before = after = 0
    if not no_vacuum:
        with console(stderr=True).status("vacuuming…"):
            before, after = vacuum(store)
    if json_out:
        emit_json(
            {
                "dry_run": False,
                "threads": listing,
                "deleted": deleted,
                "bytes_before": before,
                "bytes_after": after,
            }
        )
        return
    out.print(f"Deleted {deleted} thread(s).")
    if not no_vacuum:
        out.print(f"Vacuumed: {human_bytes(before)} → {human_bytes(after)}.")


@click.command("stats")
@click.option(
    "--top", default=5, show_default=True, type=COUNT, help="How many of the largest threads."
)
@json_option
def stats_cmd(top: int, as_json: bool) -> None:
    """Counts and sizes per table, the largest threads, file sizes."""
    store = open_store(read_only=True)
    report = stats(store, top)
    if wants_json(as_json):
        emit_json(report.to_dict())
        return
    out = console()
    tables = Table(box=None, header_style="bold", title="Tables")
    tables.add_column("Table")
    tables.add_column("Rows", justify="right")
    tables.add_column("Size", justify="right")
    tables.add_column("Indexes", justify="right")
    for t in report.tables:
        tables.add_row(t.name, f"{t.rows:,}", human_bytes(t.bytes), human_bytes(t.index_bytes))
    out.print(tables)
    largest = Table(box=None, header_style="bold", title="Largest threads")
    for column in ("ID", "Name", "Msgs", "Text"):
        largest.add_column(column, justify="right" if column in ("Msgs", "Text") else "left")
    for row in report.largest_threads:
        largest.add_row(
            row["id"], row.get("name") or "", str(row["messages"]), human_bytes(row["bytes"])
        )
    out.print(largest)
    out.print(", ".join(f"{k}: {human_bytes(v)}" for k, v in report.files.items()))


@click.command("migrate")
@click.option("--dry-run", is_flag=True, help="Only show the pending steps.")
@json_option
def migrate_cmd(dry_run: bool, as_json: bool) -> None:
    """Show pending schema steps and apply them (each in its own transaction)."""
    store = open_store(migrate=False, read_only=dry_run)
    info = store.schema_info()
    pending = [{"name": s.name, "description": s.description} for s in info.pending]
    applied = [] if dry_run or not pending else store.migrate()
    after = store.schema_info()
    if wants_json(as_json):
        emit_json(
            {
                "schema_version_before": info.schema_version,
                "schema_version": after.schema_version,
                "pending": pending,
                "applied": [s.name for s in applied],
                "dry_run": dry_run,
            }
        )
        return
    out = console()
    out.print(f"Schema version {info.schema_version} at {store.backend.location}.")
    if not pending:
        out.print(Text("Up to date: no pending steps.", style="green"))
        return
    for step in info.pending:
        mark = "✓" if any(a.name == step.name for a in applied) else "·"
        out.print(f"  {mark} {step.name}: {step.description}")
    if dry_run:
        out.print(
            Text(f"{len(pending)} pending step(s); run without --dry-run to apply.", style="dim")
        )
    else:
        out.print(
            Text(
                f"Applied {len(applied)} step(s); schema version now {after.schema_version}.",
                style="green",
            )
        )


COMMANDS: list[click.Command] = [doctor_cmd, repair_cmd, prune_cmd, stats_cmd, migrate_cmd]
