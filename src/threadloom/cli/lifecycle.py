"""The data lifecycle on the command line: ``retention set|show|run`` and
``encryption keygen|enable|status|rotate``."""

from __future__ import annotations

import re
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from .._sealed_store import known_key_ids
from ..encryption import ENV_VAR, generate_key
from ..maintenance import vacuum as vacuum_store
from ..rekey import RotationReport, encryption_status, rotate
from ..retention import RetentionPolicy, RetentionReport, get_policy, run_retention, set_policy
from .context import (
    CliError,
    console,
    emit_json,
    json_option,
    open_store,
    state,
    wants_json,
)
from .fmt import human_bytes, relative_time
from .params import COUNT, DAYS, Count

__all__ = ["COMMANDS"]

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?", re.I)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


class Size(click.ParamType):  # type: ignore[type-arg]
    """A size in bytes: ``500000``, ``800K``, ``512M``, ``2G`` (binary units)."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        match = _SIZE.fullmatch(str(value).strip())
        if match is None:
            self.fail(f"{value!r} is not a size (try 500M or 2G)", param, ctx)
        unit = (match.group(2) or "").lower().rstrip("b").rstrip("i")
        return int(float(match.group(1)) * _UNITS[unit])


def _policy_rows(policy: RetentionPolicy | None) -> list[tuple[str, str]]:
    if policy is None:
        return [("policy", "none stored")]
    p = policy
    days, runs = p.older_than_days, p.workflow_runs_older_than_days
    return [
        ("threads idle for", "off" if days is None else f"{days:g} day(s)"),
        (
            "keep per working directory",
            "off" if p.keep_per_cwd is None else f"{p.keep_per_cwd} newest",
        ),
        (
            "keep checkpoints per thread",
            "off" if p.keep_checkpoints is None else f"{p.keep_checkpoints} latest",
        ),
        ("finished workflow runs older than", "off" if runs is None else f"{runs:g} day(s)"),
        ("size cap", "off" if p.max_total_bytes is None else human_bytes(p.max_total_bytes)),
        ("threads affected", "archived only" if p.archived_only else "all"),
        ("automatic", "on open, at most once a day" if p.auto else "no"),
    ]


@click.group("retention")
def retention_group() -> None:
    """Retention policies: what old data goes, stored in the database."""


@retention_group.command("set")
@click.option("--older-than", "older", type=DAYS, help="Delete threads idle for N days.")
@click.option("--keep-per-cwd", type=COUNT, help="Keep the N newest threads per working dir.")
@click.option(
    "--keep-checkpoints", type=Count(minimum=0), help="Keep the latest K checkpoints per thread."
)
@click.option(
    "--workflow-runs-older-than", "runs_older", type=DAYS, help="Delete finished runs N days old."
)
@click.option("--max-size", type=Size(), help="Cap the stored text (oldest threads go first).")
@click.option(
    "--all/--archived-only",
    "all_threads",
    default=False,
    help="Thread rules delete any thread, or archived ones only (default).",
)
@click.option("--auto/--no-auto", default=False, help="Apply on open, at most once a day.")
@click.option("--clear", is_flag=True, help="Remove the stored policy.")
@json_option
def retention_set_cmd(
    older: float | None,
    keep_per_cwd: int | None,
    keep_checkpoints: int | None,
    runs_older: float | None,
    max_size: int | None,
    all_threads: bool,
    auto: bool,
    clear: bool,
    as_json: bool,
) -> None:
    """Store the retention policy (it replaces the one stored)."""
    store = open_store()
    policy = (
        None
        if clear
        else RetentionPolicy(
            older_than_days=older,
            keep_per_cwd=keep_per_cwd,
            keep_checkpoints=keep_checkpoints,
            workflow_runs_older_than_days=runs_older,
            max_total_bytes=max_size,
            archived_only=not all_threads,
            auto=auto,
        )
    )
    if policy is not None and policy.empty:
        raise click.UsageError(
            "give at least one rule (--older-than, --keep-per-cwd, --keep-checkpoints, "
            "--workflow-runs-older-than, --max-size), or --clear"
        )
    set_policy(store, policy)
    if wants_json(as_json):
        emit_json({"policy": None if policy is None else policy.to_dict()})
        return
    console().print("Retention policy removed." if policy is None else "Retention policy stored.")


@retention_group.command("show")
@json_option
def retention_show_cmd(as_json: bool) -> None:
    """Show the stored retention policy."""
    store = open_store(read_only=True)
    policy = get_policy(store)
    if wants_json(as_json):
        emit_json({"policy": None if policy is None else policy.to_dict()})
        return
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for name, value in _policy_rows(policy):
        table.add_row(name, value)
    console().print(table)


def _print_plan(report: RetentionReport) -> None:
    plan = report.plan
    out = console()
    table = Table(box=None, header_style="bold", title=f"{len(plan.threads)} thread(s) to delete")
    for column in ("ID", "Updated", "Why"):
        table.add_column(column)
    for t in plan.threads:
        table.add_row(t.id, relative_time(t.updated_at), t.reason)
    out.print(table)
    out.print(
        f"{len(plan.checkpoints)} checkpoint(s), {len(plan.workflow_runs)} finished workflow "
        f"run(s) and {plan.expired_keys} expired idempotency key(s) to delete."
    )
    if plan.total_bytes is not None:
        out.print(f"Stored text now: {human_bytes(plan.total_bytes)}.")


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted.")
@click.option(
    "--batch-size", default=20, show_default=True, type=COUNT, help="Items per transaction."
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--vacuum", is_flag=True, help="VACUUM afterwards, so the file shrinks.")
@json_option
def retention_run_cmd(
    dry_run: bool, batch_size: int, yes: bool, vacuum: bool, as_json: bool
) -> None:
    """Apply the stored policy now, in batches (writers keep going meanwhile)."""
    store = open_store(read_only=dry_run)
    json_out = wants_json(as_json)
    planned = run_retention(store, dry_run=True)
    if not json_out:
        if get_policy(store) is None:
            console().print(Text("No retention policy stored: only expired keys go.", style="dim"))
        _print_plan(planned)
    if dry_run or planned.plan.steps == 0:
        if json_out:
            emit_json(planned.to_dict())
        elif dry_run:
            console().print(Text("Dry run: nothing was deleted.", style="dim"))
        return
    if not yes and not json_out and planned.plan.threads:
        click.confirm(f"Delete these {len(planned.plan.threads)} thread(s)?", abort=True)
    with Progress(
        TextColumn("retention"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console(stderr=True),
        transient=True,
        disable=json_out,
    ) as progress:
        task = progress.add_task("run", total=planned.plan.steps)
        report = run_retention(
            store,
            batch_size=batch_size,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    before = after = None
    if vacuum:
        with console(stderr=True).status("vacuuming…"):
            before, after = vacuum_store(store)
    if json_out:
        emit_json({**report.to_dict(), "bytes_before": before, "bytes_after": after})
        return
    if before is not None and after is not None:
        console().print(f"Vacuumed: {human_bytes(before)} → {human_bytes(after)}.")
    spared = f" ({len(report.spared)} spared: written to meanwhile)" if report.spared else ""
    console().print(
        f"Deleted {report.threads} thread(s){spared}, {report.checkpoints} checkpoint(s), "
        f"{report.workflow_runs} workflow run(s), {report.keys} idempotency key(s)."
    )


@click.group("encryption")
def encryption_group() -> None:
    """Encryption at rest: keys come from $THREADLOOM_ENCRYPTION_KEY, never the database."""


@encryption_group.command("keygen")
@json_option
def encryption_keygen_cmd(as_json: bool) -> None:
    """Print a new random key (keep it safe: without it the data is unreadable)."""
    key = generate_key()
    if wants_json(as_json):
        emit_json({"key": key})
        return
    click.echo(key)


def _require_key() -> None:
    import os

    if not os.environ.get(ENV_VAR, "").strip():
        raise CliError(
            f"set {ENV_VAR} to the key (`threadloom encryption keygen` makes one; to rotate: "
            "the new key first, then the old ones, comma-separated)"
        )


_ORIGINAL_WARNING = (
    "Warning: the original CodeWhale reads and writes this SQLite file. Once its content is "
    "encrypted, the original sees ciphertext in place of message text and items, checkpoint "
    "states, job details and goal objectives, and full-text search cannot index them."
)


def _print_rotation(report: RotationReport, *, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_dict())
        return
    encrypted, resealed = sum(report.encrypted.values()), sum(report.resealed.values())
    meanwhile = sum(report.changed_meanwhile.values())
    console().print(
        f"Encrypted {encrypted} plain value(s), re-sealed {resealed} with key "
        f"{report.current_key}"
        + (f"; {meanwhile} changed meanwhile (run again to cover them)" if meanwhile else "")
        + "."
    )


def _rotate_with_progress(store: Any, batch_size: int, json_out: bool) -> RotationReport:
    with Progress(
        TextColumn("{task.description}"),
        TextColumn("{task.completed} value(s)"),
        console=console(stderr=True),
        transient=True,
        disable=json_out,
    ) as progress:
        task = progress.add_task("sealing")
        return rotate(
            store,
            batch_size=batch_size,
            progress=lambda column, done: progress.update(
                task, description=f"sealing {column}", completed=done
            ),
        )


@encryption_group.command("enable")
@click.option("--new-only", is_flag=True, help="Seal new writes only; leave stored data plain.")
@click.option(
    "--batch-size", default=500, show_default=True, type=COUNT, help="Values per transaction."
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
def encryption_enable_cmd(new_only: bool, batch_size: int, yes: bool, as_json: bool) -> None:
    """Encrypt the store with the key in $THREADLOOM_ENCRYPTION_KEY (and what it holds)."""
    _require_key()
    json_out = wants_json(as_json)
    if not state().is_postgres:
        click.echo(_ORIGINAL_WARNING, err=True)
        if not yes and not json_out:
            click.confirm("Encrypt it?", abort=True, err=True)
    store = open_store()
    if new_only:
        if json_out:
            emit_json({"key_ids": known_key_ids(store.backend)})
        else:
            console().print("New writes are sealed from now; stored data stays as it is.")
        return
    _print_rotation(_rotate_with_progress(store, batch_size, json_out), as_json=json_out)


@encryption_group.command("rotate")
@click.option(
    "--batch-size", default=500, show_default=True, type=COUNT, help="Values per transaction."
)
@json_option
def encryption_rotate_cmd(batch_size: int, as_json: bool) -> None:
    """Re-seal everything with the first key of $THREADLOOM_ENCRYPTION_KEY (writers keep going)."""
    _require_key()
    json_out = wants_json(as_json)
    store = open_store()
    _print_rotation(_rotate_with_progress(store, batch_size, json_out), as_json=json_out)


@encryption_group.command("status")
@json_option
def encryption_status_cmd(as_json: bool) -> None:
    """Key ids the database knows, and plain or sealed values per column (no key needed)."""
    store = open_store(read_only=True)
    ids = known_key_ids(store.backend)
    columns = encryption_status(store)
    if wants_json(as_json):
        emit_json(
            {
                "key_ids": ids,
                "columns": [
                    {"column": c.column, "plain": c.plain, "sealed": c.sealed} for c in columns
                ],
            }
        )
        return
    out = console()
    out.print(f"Key ids: {', '.join(ids) if ids else 'none (not encrypted)'}")
    table = Table(box=None, header_style="bold")
    for column in ("Column", "Plain", "Sealed (by key id)"):
        table.add_column(column)
    for c in columns:
        sealed = ", ".join(f"{k}: {n}" for k, n in c.sealed.items()) or "0"
        table.add_row(c.column, str(c.plain), sealed)
    out.print(table)


COMMANDS: list[click.Command] = [retention_group, encryption_group]
