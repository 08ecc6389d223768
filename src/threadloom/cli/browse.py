"""Reading sessions: ``threads`` (the picker), ``show`` (a conversation), ``tree``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import click
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from ..maintenance import ThreadCounts, thread_counts
from ..records import MessageRecord, ThreadMetadata, ThreadStatus
from .context import console, emit_json, json_option, open_store, resolve_thread, wants_json
from .fmt import (
    fold,
    message_preview,
    one_line,
    relative_time,
    role_text,
    summarize_item,
    thread_title,
)
from .params import COUNT

__all__ = ["COMMANDS"]

# A branch read "up to the leaf" needs a limit; this one means all of it.
_ALL = 2**63 - 1


def short_id(thread_id: str) -> str:
    """UUID-like ids shortened to 8 characters (any unique prefix resolves)."""
    return thread_id[:8] if len(thread_id) > 12 else thread_id


def _under(cwd: str, root: str) -> bool:
    return cwd == root or PurePath(cwd).is_relative_to(PurePath(root))


@click.command("threads")
@click.option("--archived", "archived", flag_value="include", help="Include archived threads.")
@click.option("--only-archived", "archived", flag_value="only", help="Only archived threads.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in ThreadStatus]),
    help="Only threads with this status (repeatable).",
)
@click.option("--cwd", help="Only threads whose working directory is this one or below it.")
@click.option("--name", "name_text", help="Only threads whose name contains this text.")
@click.option("--limit", default=20, show_default=True, type=COUNT, help="Per page.")
@click.option("--page", default=1, show_default=True, type=COUNT, help="Page number.")
@json_option
def threads_cmd(
    archived: str | None,
    statuses: Sequence[str],
    cwd: str | None,
    name_text: str | None,
    limit: int,
    page: int,
    as_json: bool,
) -> None:
    """List sessions, newest first: name, preview, status, age, messages, branches."""
    store = open_store(read_only=True)
    names = {e.thread_id: e.thread_name for e in store.session_index_entries()}
    selected: list[ThreadMetadata] = []
    needle = name_text.casefold() if name_text else None
    for thread in store.iter_threads(include_archived=archived is not None):
        if archived == "only" and not thread.archived:
            continue
        if statuses and thread.status.value not in statuses:
            continue
        if cwd is not None and not _under(thread.cwd, cwd):
            continue
        if needle is not None:
            haystack = f"{thread.name or ''}\n{names.get(thread.id) or ''}".casefold()
            if needle not in haystack:
                continue
        selected.append(thread)
    pages = max(1, math.ceil(len(selected) / limit))
    if page > pages:
        raise click.BadParameter(
            f"there is no page {page}: {len(selected)} thread(s) make {pages} page(s) of {limit}",
            param_hint="'--page'",
        )
    shown = selected[(page - 1) * limit : page * limit]
    counts = thread_counts(store, [t.id for t in shown])
    if wants_json(as_json):
        emit_json(
            {
                "threads": [
                    {
                        **t.to_dict(),
                        "title": thread_title(t, names.get(t.id)),
                        "message_count": counts[t.id].messages,
                        "branch_count": counts[t.id].branches,
                    }
                    for t in shown
                ],
                "total": len(selected),
                "page": page,
                "pages": pages,
            }
        )
        return
    out = console()
    if not selected:
        out.print("No threads match. Run `threadloom demo` to create a sample session.")
        return
    rows = [
        _ThreadRow(
            short_id(t.id),
            one_line(thread_title(t, names.get(t.id)), _NAME_WIDTH),
            one_line(t.preview, _PREVIEW_WIDTH),
            t.status.value,
            t.archived,
            t.updated_at,
            counts[t.id].messages,
            counts[t.id].branches,
        )
        for t in shown
    ]
    _print_threads(out, rows)
    footer = f"page {page} of {pages} · {len(selected)} thread(s)"
    if page < pages:
        footer += f" · next: --page {page + 1}"
    out.print(Text(footer, style="dim"))


_NAME_WIDTH = 24
_PREVIEW_WIDTH = 60
#: The narrowest a name and a preview get before the layout gives something else up.
_MIN_NAME = 16
_MIN_PREVIEW = 12


@dataclass(frozen=True, slots=True)
class _ThreadRow:
    id: str
    name: str
    preview: str
    status: str
    archived: bool
    updated_at: int
    messages: int
    branches: int


def _print_threads(out: Console, rows: list[_ThreadRow]) -> None:
    """The picker's table, fitted to the width without cutting a word of the counts.

    Narrower terminals give up, in order: long relative times ("3m ago"), name width
    (down to 16), the preview; below that each thread takes two lines.
    """
    width = out.width
    widths = {
        "status": max(len("Status"), *(cell_len(r.status) for r in rows)),
        "msgs": max(len("Msgs"), *(len(str(r.messages)) for r in rows)),
        "branches": max(len("Branches"), *(len(str(r.branches)) for r in rows)),
        "id": max(len("ID"), *(cell_len(r.id) for r in rows)),
    }
    name_width = max(len("Name"), *(cell_len(r.name) for r in rows))
    preview_width = max(len("Preview"), *(cell_len(r.preview) for r in rows))
    layout: tuple[bool, int, int] | None = None  # short times, name width, preview width
    for short in (False, True):
        updated = max(
            len("Updated"), *(len(relative_time(r.updated_at, short=short)) for r in rows)
        )
        fixed = sum(widths.values()) + updated + 2 * 4  # five columns, four gaps
        room = width - fixed - 4  # name and preview, each after a gap
        name = min(name_width, max(_MIN_NAME, room - _MIN_PREVIEW))
        if room - name >= _MIN_PREVIEW:
            layout = (short, name, min(preview_width, room - name))
            break
    if layout is None:
        updated = max(len("Updated"), *(len(relative_time(r.updated_at, short=True)) for r in rows))
        room = width - sum(widths.values()) - updated - 2 * 5
        if room < 8:
            _print_threads_stacked(out, rows)
            return
        layout = (True, min(name_width, room), 0)
    short, name, preview = layout
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("ID", no_wrap=True)
    table.add_column("Name", no_wrap=True, width=name, overflow="ellipsis")
    if preview:
        table.add_column("Preview", no_wrap=True, width=preview, overflow="ellipsis")
    table.add_column("Status", no_wrap=True)
    table.add_column("Updated", no_wrap=True)
    table.add_column("Msgs", justify="right", no_wrap=True)
    table.add_column("Branches", justify="right", no_wrap=True)
    for r in rows:
        table.add_row(
            r.id,
            r.name,
            *([r.preview] if preview else []),
            Text(r.status, style="dim" if r.archived else ""),
            relative_time(r.updated_at, short=short),
            str(r.messages),
            str(r.branches),
        )
    out.print(table)


def _print_threads_stacked(out: Console, rows: list[_ThreadRow]) -> None:
    """Two lines a thread, for terminals too narrow for the table."""
    for r in rows:
        out.print(Text.assemble((r.id, "bold"), "  ", r.name), no_wrap=True, overflow="ellipsis")
        out.print(
            Text(
                f"  {r.status} · {relative_time(r.updated_at, short=True)} · "
                f"{r.messages} msgs · {r.branches} br.",
                style="dim",
            )
        )


def _branch_paths(messages: list[MessageRecord]) -> list[list[MessageRecord]]:
    """Root-to-tip paths of every branch, in tip id order."""
    by_id = {m.id: m for m in messages}
    parents = {m.parent_entry_id for m in messages if m.parent_entry_id is not None}
    paths = []
    for tip in (m for m in messages if m.id not in parents):
        path: list[MessageRecord] = []
        cursor: MessageRecord | None = tip
        seen: set[int] = set()
        while cursor is not None and cursor.id not in seen:
            seen.add(cursor.id)
            path.append(cursor)
            parent = cursor.parent_entry_id
            cursor = by_id.get(parent) if parent is not None else None
        paths.append(list(reversed(path)))
    return paths


def _print_message(message: MessageRecord, max_lines: int, current: bool = False) -> None:
    out = console()
    header = Text.assemble(
        (f"#{message.id} ", "dim"),
        role_text(message.role),
        (f" · {relative_time(message.created_at)}", "dim"),
        (" ◀ current leaf", "bold yellow") if current else "",
    )
    out.print(header)
    summary = summarize_item(message.item)
    if message.content:
        body, hidden = fold(message.content, max_lines)
        out.print(Text(body), soft_wrap=True)
        if hidden:
            out.print(Text(f"… {hidden} more line(s) folded (use --full)", style="dim italic"))
    if summary is not None:
        out.print(Text(summary, style="yellow"))
    out.print()


@click.command("show")
@click.argument("thread")
@click.option("--all-branches", is_flag=True, help="Show every branch, not only the current one.")
@click.option("--full", is_flag=True, help="Do not fold long messages.")
@click.option(
    "--max-lines",
    default=12,
    show_default=True,
    type=COUNT,
    help="Lines shown of each message before it is folded.",
)
@click.option("--last", type=COUNT, help="Only the last N messages of the branch.")
@click.option(
    "--at",
    "at",
    type=COUNT,
    help="Open the branch through this message (a search hit), around it (--context N).",
)
@click.option(
    "--context", default=5, show_default=True, type=COUNT, help="With --at: messages either side."
)
@json_option
def show_cmd(
    thread: str,
    all_branches: bool,
    full: bool,
    max_lines: int,
    last: int | None,
    at: int | None,
    context: int,
    as_json: bool,
) -> None:
    """Show THREAD's conversation on its current branch (or --all-branches, or --at)."""
    store = open_store(read_only=True)
    meta = resolve_thread(store, thread)
    lines = 0 if full else max_lines
    if at is not None:
        from .search_cmd import show_at

        around = show_at(store, meta, at, context)
        if wants_json(as_json):
            emit_json(
                {"thread": meta.to_dict(), "at": at, "messages": [m.to_dict() for m in around]}
            )
            return
        _print_header(meta, thread_counts(store, [meta.id])[meta.id], on_branch=len(around))
        for message in around:
            _print_message(message, lines, current=message.id == meta.current_leaf_id)
            if message.id == at:
                console().print(Text(f"▲ #{at}", style="bold yellow"))
        return
    if all_branches:
        messages = store.list_all_messages(meta.id)
        paths = _branch_paths(messages)
        if wants_json(as_json):
            emit_json(
                {
                    "thread": meta.to_dict(),
                    "messages": [m.to_dict() for m in messages],
                    "branches": [
                        {
                            "leaf_id": p[-1].id,
                            "current": p[-1].id == meta.current_leaf_id,
                            "message_ids": [m.id for m in p],
                        }
                        for p in paths
                    ],
                }
            )
            return
        _print_header(meta, thread_counts(store, [meta.id])[meta.id])
        shown: set[int] = set()
        for number, path in enumerate(paths, 1):
            fresh = [m for m in path if m.id not in shown]
            fork = fresh[0].parent_entry_id if fresh else None
            current = path[-1].id == meta.current_leaf_id
            label = f"── branch {number}" + (f", forks from #{fork}" if fork is not None else "")
            console().print(Text(label + (" (current)" if current else "") + " ──", style="bold"))
            for message in fresh:
                _print_message(message, lines, current=message.id == meta.current_leaf_id)
            shown.update(m.id for m in fresh)
        return
    branch = store.list_messages(meta.id, last if last is not None else _ALL)
    if wants_json(as_json):
        emit_json({"thread": meta.to_dict(), "messages": [m.to_dict() for m in branch]})
        return
    _print_header(meta, thread_counts(store, [meta.id])[meta.id], on_branch=len(branch))
    for message in branch:
        _print_message(message, lines, current=message.id == meta.current_leaf_id)
    if not branch:
        console().print(Text("(no messages)", style="dim"))


def _print_header(meta: ThreadMetadata, counts: ThreadCounts, on_branch: int | None = None) -> None:
    # The counts are those `threads` shows (every message, every branch), so the two
    # commands agree; `on_branch` says how many of them the current branch holds.
    out = console()
    out.print(Text(thread_title(meta), style="bold underline"))
    shown = "" if on_branch is None else f" ({on_branch} on this branch)"
    out.print(
        Text(
            f"{meta.id} · {meta.status.value} · {meta.cwd} · updated "
            f"{relative_time(meta.updated_at)} · {counts.messages} message(s){shown} · "
            f"{counts.branches} branch(es)",
            style="dim",
        )
    )
    out.print()


def _tree_nodes(messages: list[MessageRecord], leaf: int | None) -> list[dict[str, Any]]:
    children: dict[int, list[int]] = {}
    for m in messages:
        if m.parent_entry_id is not None:
            children.setdefault(m.parent_entry_id, []).append(m.id)
    on_branch: set[int] = set()
    by_id = {m.id: m for m in messages}
    cursor = leaf
    while cursor is not None and cursor in by_id and cursor not in on_branch:
        on_branch.add(cursor)
        cursor = by_id[cursor].parent_entry_id
    return [
        {
            "id": m.id,
            "parent_id": m.parent_entry_id,
            "role": m.role,
            "preview": message_preview(m),
            "created_at": m.created_at,
            "children": children.get(m.id, []),
            "on_current_branch": m.id in on_branch,
            "current": m.id == leaf,
        }
        for m in messages
    ]


@click.command("tree")
@click.argument("thread")
@json_option
def tree_cmd(thread: str, as_json: bool) -> None:
    """Show THREAD's message tree: branches, and the current leaf marked."""
    store = open_store(read_only=True)
    meta = resolve_thread(store, thread)
    nodes = _tree_nodes(store.list_all_messages(meta.id), meta.current_leaf_id)
    if wants_json(as_json):
        emit_json({"thread_id": meta.id, "current_leaf_id": meta.current_leaf_id, "nodes": nodes})
        return
    by_id = {n["id"]: n for n in nodes}
    root = Tree(Text(f"{thread_title(meta)} ({meta.id})", style="bold"))
    roots = [n for n in nodes if n["parent_id"] is None or n["parent_id"] not in by_id]

    def label(node: dict[str, Any]) -> Text:
        style = "" if node["on_current_branch"] else "dim"
        return Text.assemble(
            (f"#{node['id']} ", "dim"),
            role_text(node["role"]),
            (f": {node['preview']}", style),
            (" ◀ current", "bold yellow") if node["current"] else "",
        )

    # A chain of only children stays on one level; only a fork indents, so a long
    # linear conversation does not march off the right edge.
    stack: list[tuple[Tree, dict[str, Any]]] = [(root, n) for n in reversed(roots)]
    while stack:
        parent, node = stack.pop()
        while True:
            parent.add(label(node))
            kids = [by_id[k] for k in node["children"]]
            if len(kids) == 1:
                node = kids[0]
                continue
            forks = [
                (parent.add(Text(f"fork at #{node['id']}", style="dim italic")), kid)
                for kid in kids
            ]
            stack.extend(reversed(forks))
            break
    console().print(root)


COMMANDS: list[click.Command] = [threads_cmd, show_cmd, tree_cmd]
