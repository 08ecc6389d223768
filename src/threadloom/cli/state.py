"""Session state: ``checkpoints``, ``checkpoint show``, ``jobs``, ``goal``, ``tools``."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.progress_bar import ProgressBar
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from ..records import JobStateRecord, JobStateStatus
from .context import (
    CliError,
    console,
    emit_json,
    json_option,
    open_store,
    resolve_thread,
    wants_json,
)
from .fmt import human_bytes, one_line, relative_time, thread_title
from .params import COUNT

__all__ = ["COMMANDS"]

_STATUS_STYLES = {
    "running": "bold blue",
    "completed": "green",
    "complete": "green",
    "failed": "red",
    "cancelled": "dim",
    "queued": "yellow",
    "paused": "yellow",
    "active": "bold blue",
    "blocked": "red",
    "usage_limited": "yellow",
    "budget_limited": "yellow",
}


def _status(value: str) -> Text:
    return Text(value, style=_STATUS_STYLES.get(value, ""))


def _keys(state: Any) -> str:
    if isinstance(state, dict):
        return one_line(", ".join(state), 40) or "{}"
    return type(state).__name__ if state is not None else "null"


@click.command("checkpoints")
@click.argument("thread")
@click.option("--limit", default=100, show_default=True, type=COUNT, help="Most to list.")
@json_option
def checkpoints_cmd(thread: str, limit: int, as_json: bool) -> None:
    """List THREAD's checkpoints, latest first."""
    store = open_store(read_only=True)
    meta = resolve_thread(store, thread)
    checkpoints = store.list_checkpoints(meta.id, limit)
    if wants_json(as_json):
        emit_json({"thread_id": meta.id, "checkpoints": [c.to_dict() for c in checkpoints]})
        return
    out = console()
    if not checkpoints:
        out.print(f"{meta.id} has no checkpoints.")
        return
    table = Table(box=None, header_style="bold", title=f"Checkpoints of {thread_title(meta)}")
    for column in ("ID", "Saved", "Size", "Keys"):
        table.add_column(column)
    for n, c in enumerate(checkpoints):
        size = len(json.dumps(c.state, ensure_ascii=False).encode())
        label = Text(c.checkpoint_id, style="bold" if n == 0 else "")
        if n == 0 and c.checkpoint_id != "latest":
            label.append(" (latest)", style="dim")
        table.add_row(label, relative_time(c.created_at), human_bytes(size), _keys(c.state))
    out.print(table)


@click.group("checkpoint")
def checkpoint_group() -> None:
    """Inspect one checkpoint."""


@checkpoint_group.command("show")
@click.argument("thread")
@click.argument("checkpoint_id", required=False)
@json_option
def checkpoint_show_cmd(thread: str, checkpoint_id: str | None, as_json: bool) -> None:
    """Show a checkpoint's state (CHECKPOINT_ID, or the latest)."""
    store = open_store(read_only=True)
    meta = resolve_thread(store, thread)
    record = store.load_checkpoint(meta.id, checkpoint_id)
    if record is None:
        what = f"checkpoint {checkpoint_id!r}" if checkpoint_id else "any checkpoint"
        raise CliError(f"thread {meta.id} has no {what}")
    if wants_json(as_json):
        emit_json(record.to_dict())
        return
    out = console()
    out.print(
        Text(f"{record.checkpoint_id} · saved {relative_time(record.created_at)}", style="bold")
    )
    text = json.dumps(record.state, ensure_ascii=False, indent=2)
    out.print(Syntax(text, "json", theme="ansi_dark", background_color="default", word_wrap=True))


def _job_detail(job: JobStateRecord) -> str:
    """The human part of a job's detail (the runtime stores JSON with a `detail` key)."""
    if job.detail is None:
        return ""
    try:
        data = json.loads(job.detail)
    except ValueError:
        return one_line(job.detail, 50)
    if isinstance(data, dict):
        text = data.get("detail") or data.get("message") or ""
        retry = data.get("retry")
        if isinstance(retry, dict) and retry.get("attempt"):
            text = f"{text} (attempt {retry['attempt']})".strip()
        return one_line(str(text), 50)
    return one_line(job.detail, 50)


@click.command("jobs")
@click.option("--limit", default=100, show_default=True, type=COUNT, help="Most to list.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in JobStateStatus]),
    help="Only jobs with this status (repeatable).",
)
@json_option
def jobs_cmd(limit: int, statuses: tuple[str, ...], as_json: bool) -> None:
    """List background jobs: running ones with a progress bar, others with their status."""
    store = open_store(read_only=True)
    jobs = [j for j in store.list_jobs(limit) if not statuses or j.status.value in statuses]
    if wants_json(as_json):
        emit_json({"jobs": [j.to_dict() for j in jobs]})
        return
    out = console()
    if not jobs:
        out.print("No jobs.")
        return
    table = Table(box=None, header_style="bold")
    # Every column keeps its full width except Detail, which takes what is left; on a
    # narrow terminal times get shorter ("3m ago") rather than cut.
    widths = {
        "ID": max(len(j.id) for j in jobs),
        "Name": max(len(j.name) for j in jobs),
        "Status": 9,
        "Progress": 17,
        "Updated": 14,
    }
    short = sum(min(w, 30) + 2 for w in widths.values()) + 20 > out.width
    if short:
        widths["Updated"] = 8
    for column, width in widths.items():
        table.add_column(column, no_wrap=True, min_width=min(width, 30))
    table.add_column("Detail", no_wrap=True, overflow="ellipsis", ratio=1)
    for job in jobs:
        progress: Any = ""
        if job.progress is not None:
            # progress is the original's u8; the runtime writes percentages.
            pct = min(job.progress, 100)
            if job.status is JobStateStatus.RUNNING:
                bar = ProgressBar(total=100, completed=pct, width=12)
                progress = Table.grid(padding=(0, 1))
                progress.add_row(bar, f"{job.progress}%")
            else:
                progress = f"{job.progress}%"
        table.add_row(
            job.id,
            job.name,
            _status(job.status.value),
            progress,
            relative_time(job.updated_at, short=short),
            _job_detail(job),
        )
    out.print(table)


@click.command("goal")
@click.argument("thread")
@json_option
def goal_cmd(thread: str, as_json: bool) -> None:
    """Show THREAD's goal: objective, status, token budget and usage."""
    store = open_store(read_only=True)
    meta = resolve_thread(store, thread)
    goal = store.get_thread_goal(meta.id)
    if wants_json(as_json):
        emit_json({"thread_id": meta.id, "goal": None if goal is None else goal.to_dict()})
        return
    out = console()
    if goal is None:
        out.print(f"{meta.id} has no goal.")
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_row(Text("Objective", style="bold"), goal.objective)
    grid.add_row(Text("Status", style="bold"), _status(goal.status.value))
    if goal.token_budget:
        bar = Table.grid(padding=(0, 1))
        bar.add_row(
            ProgressBar(
                total=goal.token_budget,
                completed=min(goal.tokens_used, goal.token_budget),
                width=24,
            ),
            f"{goal.tokens_used:,} / {goal.token_budget:,} tokens "
            f"({goal.tokens_used * 100 // goal.token_budget}%)",
        )
        grid.add_row(Text("Budget", style="bold"), bar)
    else:
        grid.add_row(Text("Tokens", style="bold"), f"{goal.tokens_used:,} (no budget)")
    minutes, seconds = divmod(goal.time_used_seconds, 60)
    grid.add_row(Text("Time", style="bold"), f"{minutes}m {seconds:02d}s")
    grid.add_row(Text("Continuations", style="bold"), str(goal.continuation_count))
    grid.add_row(Text("Updated", style="bold"), relative_time(goal.updated_at))
    grid.add_row(Text("Goal id", style="bold"), goal.goal_id)
    out.print(grid)


def _params(schema: Any) -> str:
    if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
        required = set(schema.get("required") or [])
        names = [f"{k}{'' if k in required else '?'}" for k in schema["properties"]]
        return one_line(", ".join(names), 40)
    return ""


@click.command("tools")
@click.argument("thread")
@json_option
def tools_cmd(thread: str, as_json: bool) -> None:
    """List THREAD's dynamic tools by position."""
    store = open_store(read_only=True)
    meta = resolve_thread(store, thread)
    tools = store.get_dynamic_tools(meta.id)
    if wants_json(as_json):
        emit_json({"thread_id": meta.id, "tools": [t.to_dict() for t in tools]})
        return
    out = console()
    if not tools:
        out.print(f"{meta.id} has no dynamic tools.")
        return
    table = Table(box=None, header_style="bold")
    for column in ("#", "Name", "Parameters", "Description"):
        table.add_column(column)
    for tool in tools:
        table.add_row(
            str(tool.position),
            tool.name,
            _params(tool.input_schema),
            one_line(tool.description or "", 50),
        )
    out.print(table)


COMMANDS: list[click.Command] = [checkpoints_cmd, checkpoint_group, jobs_cmd, goal_cmd, tools_cmd]
