"""``search`` (full-text search across every session) and ``show --at`` (the
conversation around one message)."""

from __future__ import annotations

import math
from datetime import datetime

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from ..records import MessageRecord, SearchHit, ThreadMetadata
from ..store import StateStore
from .context import (
    CliError,
    console,
    emit_json,
    json_option,
    open_store,
    resolve_thread,
    wants_json,
)
from .fmt import relative_time, role_text
from .params import COUNT

__all__ = ["COMMANDS", "branch_around", "show_at"]


def _when(value: str | None, name: str) -> int | None:
    """``--since``/``--until``: Unix seconds, or an ISO date/time (local time)."""
    if value is None:
        return None
    text = value.strip()
    if text.lstrip("+-").isdigit():
        return int(text)
    try:
        stamp = datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is neither Unix seconds nor a date (2026-05-31, 2026-05-31T14:00)",
            param_hint=name,
        ) from None
    return math.floor(stamp)


def _reindex(store: StateStore, rebuild: bool, as_json: bool) -> None:
    quiet = as_json or not console(stderr=True).is_terminal
    if quiet:
        count = store.update_search_index(rebuild=rebuild)
    else:
        columns = (
            TextColumn("indexing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("messages"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console(stderr=True), transient=True) as bar:
            task = bar.add_task("index", total=None)

            def step(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            count = store.update_search_index(rebuild=rebuild, progress=step)
    status = store.search_status()
    if as_json:
        emit_json(
            {
                "indexed": count,
                "status": {
                    "engine": status.engine,
                    "indexed_through": status.indexed_through,
                    "newest_message": status.newest_message,
                    "pending": status.pending,
                },
            }
        )
        return
    console().print(
        f"Indexed {count:,} message(s); the search index is up to date "
        f"through message #{status.indexed_through}."
    )


def _hit_line(hit: SearchHit) -> Text:
    name = hit.thread_name or "(unnamed)"
    parts: list[str | tuple[str, str] | Text] = [
        (hit.thread_id[:8], "cyan"),
        "  ",
        (name, "bold"),
        "  ",
    ]
    if hit.message_id is None:
        parts += [
            (f"thread {hit.matched_in}", "magenta"),
            (f" · updated {relative_time(hit.created_at)}", "dim"),
        ]
    else:
        parts += [
            (f"#{hit.message_id} ", "dim"),
            role_text(hit.role or ""),
            (f" · {relative_time(hit.created_at)}", "dim"),
        ]
        if hit.matched_in == "item":
            parts.append((" · in tool data", "dim"))
        if not hit.on_current_branch:
            parts.append((" · other branch", "yellow"))
    return Text.assemble(*parts)


def _snippet(hit: SearchHit) -> Text:
    text = Text("  " + hit.snippet)
    for start, end in hit.highlights:
        text.stylize("bold yellow", start + 2, end + 2)
    return text


@click.command("search")
@click.argument("query", required=False)
@click.option("--thread", "thread_ref", help="Only this thread (id, id prefix or name).")
@click.option("--role", help="Only messages of this role (user, assistant, tool, system...).")
@click.option("--since", help="Only messages from this time on (Unix seconds or a date).")
@click.option("--until", help="Only messages up to this time (Unix seconds or a date).")
@click.option("--archived", is_flag=True, help="Search archived threads too.")
@click.option(
    "--order",
    type=click.Choice(["recent", "relevance"]),
    default="recent",
    show_default=True,
    help="Newest messages first, or best matches first.",
)
@click.option("--limit", default=20, show_default=True, type=COUNT, help="Hits per page.")
@click.option("--page", default=1, show_default=True, type=COUNT, help="Page number.")
@click.option(
    "--reindex",
    is_flag=True,
    help="Bring the index up to date (with a progress bar; resumes an interrupted run).",
)
@click.option("--rebuild", is_flag=True, help="With --reindex: drop the index and build it anew.")
@json_option
def search_cmd(
    query: str | None,
    thread_ref: str | None,
    role: str | None,
    since: str | None,
    until: str | None,
    archived: bool,
    order: str,
    limit: int,
    page: int,
    reindex: bool,
    rebuild: bool,
    as_json: bool,
) -> None:
    """Find QUERY in every session: messages, tool calls and output, thread names.

    QUERY: words (all must match), "exact phrases", prefix*, -excluded, this OR that.
    Searching keeps the index of the store current (it is threadloom's own table).
    """
    if rebuild and not reindex:
        raise click.UsageError("--rebuild goes with --reindex")
    if query is None and not reindex:
        raise click.UsageError("give a QUERY (or --reindex)")
    if limit > 1000:
        raise click.BadParameter("at most 1000 hits per page", param_hint="--limit")
    store = open_store()
    json_out = wants_json(as_json)
    if reindex:
        _reindex(store, rebuild, json_out and query is None)
        if query is None:
            return
    thread_id = resolve_thread(store, thread_ref).id if thread_ref else None
    offset = (page - 1) * limit
    assert query is not None
    hits = store.search(
        query,
        thread_id=thread_id,
        role=role,
        since=_when(since, "--since"),
        until=_when(until, "--until"),
        include_archived=archived,
        limit=limit,
        offset=offset,
        order=order,
    )
    if json_out:
        emit_json(
            {"query": query, "page": page, "limit": limit, "hits": [h.to_dict() for h in hits]}
        )
        return
    out = console()
    if not hits:
        if page > 1:
            raise CliError(f"page {page} is past the last hit of {query!r}")
        out.print(Text(f"No match for {query!r}.", style="dim"))
        return
    for hit in hits:
        out.print(_hit_line(hit), soft_wrap=True)
        out.print(_snippet(hit), soft_wrap=True)
    more = f" (more: --page {page + 1})" if len(hits) == limit else ""
    out.print(
        Text(
            f"page {page} · {len(hits)} hit(s){more} · open one with "
            "`threadloom show THREAD --at MESSAGE`",
            style="dim",
        )
    )


def branch_around(messages: list[MessageRecord], leaf: int | None, at: int) -> list[MessageRecord]:
    """The branch through message ``at``: its ancestors, then on towards a tip
    (along the current branch where it continues, else the newest child)."""
    by_id = {m.id: m for m in messages}
    children: dict[int, list[MessageRecord]] = {}
    for m in messages:
        if m.parent_entry_id is not None:
            children.setdefault(m.parent_entry_id, []).append(m)
    current: set[int] = set()
    cursor = by_id.get(leaf) if leaf is not None else None
    while cursor is not None and cursor.id not in current:
        current.add(cursor.id)
        cursor = by_id.get(cursor.parent_entry_id) if cursor.parent_entry_id is not None else None
    path: list[MessageRecord] = []
    seen: set[int] = set()
    cursor = by_id[at]
    while cursor is not None and cursor.id not in seen:
        seen.add(cursor.id)
        path.append(cursor)
        cursor = by_id.get(cursor.parent_entry_id) if cursor.parent_entry_id is not None else None
    path.reverse()
    tip = by_id[at]
    while children.get(tip.id):
        kids = children[tip.id]
        on = [k for k in kids if k.id in current]
        tip = on[0] if on else max(kids, key=lambda k: k.id)
        if tip.id in seen:
            break
        seen.add(tip.id)
        path.append(tip)
    return path


def show_at(store: StateStore, meta: ThreadMetadata, at: int, context: int) -> list[MessageRecord]:
    """The messages ``show THREAD --at MESSAGE`` prints: ``context`` before and after.

    Raises:
        CliError: The message is not in the thread.
    """
    messages = store.list_all_messages(meta.id)
    if at not in {m.id for m in messages}:
        raise CliError(f"message #{at} is not in thread {meta.id}")
    path = branch_around(messages, meta.current_leaf_id, at)
    where = next(i for i, m in enumerate(path) if m.id == at)
    return path[max(where - context, 0) : where + context + 1]


COMMANDS = [search_cmd]
