"""Changing sessions: ``fork``, ``switch``, ``rename``, ``archive``, ``unarchive``, ``delete``."""

from __future__ import annotations

from dataclasses import replace

import click
from rich.text import Text

from ..errors import Conflict, InvalidRecord, NotFound
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
from .fmt import thread_title

__all__ = ["COMMANDS", "ROLES"]

#: The roles the agent writes (the original's databases hold exactly these). The store
#: itself takes any role string, as the original does; the CLI offers these four so a
#: typo cannot make a branch the agent does not understand.
ROLES = ("user", "assistant", "system", "tool")


def _message_of(store: StateStore, thread_id: str, message: str) -> int:
    """``message`` as a message id of ``thread_id``."""
    try:
        message_id = int(message.lstrip("#"))
    except ValueError:
        raise CliError(f"message id must be a number, got {message!r}") from None
    if all(m.id != message_id for m in store.list_all_messages(thread_id)):
        raise CliError(f"message #{message_id} is not a message of thread {thread_id}")
    return message_id


@click.command("fork")
@click.argument("thread")
@click.argument("message")
@click.option("--content", required=True, help="Text of the new message.")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="user",
    show_default=True,
    help="Role of the new message.",
)
@json_option
def fork_cmd(thread: str, message: str, content: str, role: str, as_json: bool) -> None:
    """Start a new branch of THREAD under MESSAGE; it becomes the current leaf."""
    store = open_store()
    meta = resolve_thread(store, thread)
    parent = _message_of(store, meta.id, message)
    new_id = store.fork_at_message(parent, role, content)
    if wants_json(as_json):
        emit_json({"thread_id": meta.id, "parent_id": parent, "message_id": new_id})
        return
    console().print(f"Forked {meta.id} at #{parent}: new message #{new_id} is the current leaf.")


@click.command("switch")
@click.argument("thread")
@click.argument("message")
@json_option
def switch_cmd(thread: str, message: str, as_json: bool) -> None:
    """Make MESSAGE the current leaf of THREAD (continue from that branch)."""
    store = open_store()
    meta = resolve_thread(store, thread)
    leaf = _message_of(store, meta.id, message)
    if leaf == meta.current_leaf_id:
        if wants_json(as_json):
            emit_json(
                {
                    "thread_id": meta.id,
                    "previous_leaf_id": leaf,
                    "current_leaf_id": leaf,
                    "changed": False,
                }
            )
            return
        console().print(f"#{leaf} is already the current leaf of {meta.id}: nothing changed.")
        return
    try:
        store.set_current_leaf_id(meta.id, leaf)
    except (NotFound, Conflict, InvalidRecord) as exc:
        raise CliError(str(exc)) from exc
    if wants_json(as_json):
        emit_json(
            {
                "thread_id": meta.id,
                "previous_leaf_id": meta.current_leaf_id,
                "current_leaf_id": leaf,
                "changed": True,
            }
        )
        return
    console().print(f"Switched {meta.id}: current leaf #{meta.current_leaf_id} → #{leaf}.")


@click.command("rename")
@click.argument("thread")
@click.argument("name", required=False)
@click.option("--clear", is_flag=True, help="Remove the name instead (no NAME).")
def rename_cmd(thread: str, name: str | None, clear: bool) -> None:
    """Rename THREAD to NAME (also recorded in the session index)."""
    if clear == (name is not None):
        raise click.UsageError("give a NAME, or --clear to remove the name")
    if name is not None and not name.strip():
        raise click.BadParameter(
            "a name cannot be empty (use --clear to remove it)", param_hint="NAME"
        )
    store = open_store()
    meta = resolve_thread(store, thread)
    if meta.name == name:
        what = f"named {name!r}" if name is not None else "unnamed"
        console().print(f"{meta.id} is already {what}: nothing changed.")
        return
    # updated_at is kept: renaming is not activity, and the picker order should not jump.
    store.upsert_thread(replace(meta, name=name))
    after = repr(name) if name is not None else "no name"
    console().print(f"Renamed {meta.id}: {thread_title(meta)!r} → {after}.")


@click.command("archive")
@click.argument("thread")
def archive_cmd(thread: str) -> None:
    """Archive THREAD (hidden from `threads` unless --archived)."""
    store = open_store()
    meta = resolve_thread(store, thread)
    if meta.archived:
        console().print(f"{meta.id} ({thread_title(meta)}) is already archived: nothing changed.")
        return
    store.mark_archived(meta.id)
    console().print(f"Archived {meta.id} ({thread_title(meta)}).")


@click.command("unarchive")
@click.argument("thread")
def unarchive_cmd(thread: str) -> None:
    """Unarchive THREAD (a status of `archived` becomes `idle`)."""
    store = open_store()
    meta = resolve_thread(store, thread)
    if not meta.archived and meta.status.value != "archived":
        console().print(f"{meta.id} ({thread_title(meta)}) is not archived: nothing changed.")
        return
    store.mark_unarchived(meta.id)
    console().print(f"Unarchived {meta.id} ({thread_title(meta)}).")


@click.command("delete")
@click.argument("thread")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def delete_cmd(thread: str, yes: bool) -> None:
    """Delete THREAD with its messages, checkpoints, tools and goal."""
    store = open_store()
    meta = resolve_thread(store, thread)
    count = len(store.list_all_messages(meta.id))
    if not yes:
        click.confirm(
            f"Delete thread {meta.id} ({thread_title(meta)}) and its {count} message(s)?",
            abort=True,
        )
    store.delete_thread(meta.id)
    console().print(Text(f"Deleted {meta.id} ({count} message(s)).", style="bold"))


COMMANDS: list[click.Command] = [
    fork_cmd,
    switch_cmd,
    rename_cmd,
    archive_cmd,
    unarchive_cmd,
    delete_cmd,
]
