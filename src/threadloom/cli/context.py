"""What every command shares: the store it opens, thread lookup, output.

Commands call :func:`open_store` (which refuses to create a database for a reading
command), :func:`resolve_thread` (id, unique id prefix or name) and either
:func:`emit_json` or :func:`console`. Errors are raised as :class:`CliError`: one line,
non-zero exit, no traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from ..backends.opening import is_postgres_target
from ..paths import default_state_db_path
from ..records import ThreadMetadata
from ..store import StateStore

__all__ = [
    "AppState",
    "CliError",
    "console",
    "emit_json",
    "json_option",
    "open_store",
    "open_target",
    "resolve_thread",
    "wants_json",
]


F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """A one-line error message and exit status 1 (click prints ``Error: ...``)."""

    def __init__(self, message: str) -> None:
        # Driver messages can span lines; the first line carries the meaning.
        lines = str(message).strip().splitlines()
        super().__init__(lines[0] if lines else "unknown error")


@dataclass
class AppState:
    """The group's options, shared with every command through the click context."""

    db: str | None
    json: bool

    @property
    def is_postgres(self) -> bool:
        """Whether ``--db`` names a PostgreSQL server."""
        return self.db is not None and is_postgres_target(self.db)

    def db_path(self) -> Path:
        """The SQLite file: ``--db``, or the store's default path rules."""
        return Path(self.db).expanduser() if self.db else default_state_db_path()


def state(ctx: click.Context | None = None) -> AppState:
    """The :class:`AppState` of the running command."""
    ctx = ctx or click.get_current_context()
    found = ctx.find_object(AppState)
    if found is None:  # a command invoked outside the group (tests calling it directly)
        found = AppState(db=None, json=False)
        ctx.obj = found
    return found


def open_store(
    *, create: bool = False, migrate: bool = True, read_only: bool = False
) -> StateStore:
    """Open the store of ``--db`` for the running command; closed when it ends.

    Args:
        create: Create the database if missing (writing commands like ``demo``).
        migrate: Apply pending schema steps (``migrate`` and ``repair`` look first).
        read_only: Open read-only (reading commands): nothing in the file changes, not
            even its journal mode, and a database that needs schema steps is read as
            it is (see ``StateStore.open``).

    Raises:
        CliError: The database is missing (and ``create`` is false), newer than this
            threadloom, or not a database.
    """
    ctx = click.get_current_context()
    app = state(ctx)
    where = app.db if app.is_postgres else str(app.db_path())
    store = open_target(
        where or "",
        create=create,
        migrate=migrate,
        read_only=read_only,
        hint=" (pass --db PATH, or run `threadloom demo` to create a sample one)",
    )
    return ctx.with_resource(store)


def open_target(
    where: str,
    *,
    create: bool = False,
    migrate: bool = True,
    read_only: bool = False,
    hint: str = "",
) -> StateStore:
    """Open a store named on the command line: a file path or a PostgreSQL DSN.

    Args:
        where: The path (``~`` expanded) or DSN.
        create: Create a missing SQLite file.
        migrate: Apply pending schema steps.
        read_only: Open read-only (see :func:`open_store`).
        hint: Added to the "no database" message.

    Raises:
        CliError: The SQLite file is missing (and ``create`` is false) or a directory.
    """
    if is_postgres_target(where):
        return StateStore.open(where, migrate=migrate, read_only=read_only)
    path = Path(where).expanduser()
    if not create and not path.exists():
        raise CliError(f"no database at {path}{hint}")
    if path.is_dir():
        raise CliError(f"{path} is a directory, not a database file")
    return StateStore.open(path, migrate=migrate, read_only=read_only)


def _name_key(name: str) -> str:
    # The original compares names ignoring ASCII case only.
    return name.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"))


def resolve_thread(store: StateStore, ref: str) -> ThreadMetadata:
    """The thread named by ``ref``: its id, a unique id prefix, or its name.

    Raises:
        CliError: No thread matches, or several do (the message lists them).
    """
    if not ref.strip():
        raise CliError("a thread id, id prefix or name is required")
    exact = store.get_thread(ref)
    if exact is not None:
        return exact
    threads = list(store.iter_threads(include_archived=True))
    prefixed = [t for t in threads if t.id.startswith(ref)]
    if len(prefixed) == 1:
        return prefixed[0]
    if len(prefixed) > 1:
        ids = ", ".join(t.id for t in prefixed[:5]) + (", ..." if len(prefixed) > 5 else "")
        raise CliError(f"{ref!r} is ambiguous: {len(prefixed)} threads start with it ({ids})")
    key = _name_key(ref)
    by_id = {t.id: t for t in threads}
    named = {t.id for t in threads if t.name is not None and _name_key(t.name) == key}
    for entry in store.session_index_entries():
        name = entry.thread_name
        if name is not None and _name_key(name) == key and entry.thread_id in by_id:
            named.add(entry.thread_id)
    if len(named) == 1:
        return by_id[named.pop()]
    if len(named) > 1:
        raise CliError(
            f"{ref!r} is ambiguous: {len(named)} threads have that name "
            f"({', '.join(sorted(named))})"
        )
    raise CliError(f"no thread matches {ref!r} (by id, id prefix or name)")


def json_option(func: F) -> F:
    """Add ``--json`` (machine-readable output) to a reading command."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        func
    )


def wants_json(flag: bool) -> bool:
    """Whether to print JSON: the command's ``--json`` or the group's."""
    return flag or state().json


def emit_json(value: Any) -> None:
    """Print ``value`` as indented JSON (non-ASCII kept as is)."""
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


#: The width output gets when it does not go to a terminal: no line is ever wrapped or
#: cut, so a piped record stays on one line for grep and friends.
PIPE_WIDTH = 10_000


def console(*, stderr: bool = False) -> Console:
    """A Rich console on click's current stdout (or stderr), so tests can capture it.

    On a terminal, output fits the terminal's width. Piped or redirected (Rich finds no
    terminal: ``TTY_COMPATIBLE=1`` or ``FORCE_COLOR`` say otherwise), it is never
    wrapped: Rich would otherwise wrap it at the width of whichever standard stream is
    a terminal, or at 80 columns.
    """
    # Looked up per call: click's test runner swaps sys.stdout while a command runs.
    file = sys.stderr if stderr else sys.stdout
    out = Console(file=file, highlight=False)
    if out.is_terminal:
        return out
    return Console(file=file, highlight=False, width=PIPE_WIDTH, soft_wrap=True)
