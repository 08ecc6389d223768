"""The ``threadloom`` command group: global options, error handling, command registry."""

from __future__ import annotations

import importlib
from typing import Any

import click

from .. import __version__
from ..errors import ThreadloomError
from .context import AppState, CliError

__all__ = ["COMMAND_MODULES", "cli", "main"]

#: Modules whose ``COMMANDS`` list is registered on the group, in help order.
#: To add a command family (the PostgreSQL `copy` command, for one), add its module
#: here — one line — and give that module a ``COMMANDS: list[click.Command]``.
COMMAND_MODULES: tuple[str, ...] = (
    "threadloom.cli.browse",
    "threadloom.cli.edit",
    "threadloom.cli.state",
    "threadloom.cli.transfer",
    "threadloom.cli.maint",
    "threadloom.cli.demo",
    "threadloom.cli.copy_cmd",
    "threadloom.cli.search_cmd",
    "threadloom.cli.serve_cmd",
    "threadloom.cli.lifecycle",
)


class _Group(click.Group):
    """Turns threadloom and OS errors into one-line messages with a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ThreadloomError as exc:
            raise CliError(str(exc)) from exc
        except OSError as exc:
            raise CliError(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from exc

    def list_commands(self, ctx: click.Context) -> list[str]:
        # Registration order (the order of COMMAND_MODULES), not alphabetical.
        return list(self.commands)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    metavar="PATH",
    envvar="THREADLOOM_DB",
    help="Database file (or postgresql:// DSN). Default: $CODEWHALE_HOME/state.db, else "
    "~/.codewhale/state.db (or the legacy ~/.deepseek/state.db).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON output for every reading command.")
@click.version_option(__version__, prog_name="threadloom")
@click.pass_context
def cli(ctx: click.Context, db: str | None, as_json: bool) -> None:
    """Browse, export and repair agent sessions (threadloom / CodeWhale state.db)."""
    ctx.obj = AppState(db=db, json=as_json)


for _module in COMMAND_MODULES:
    for _command in importlib.import_module(_module).COMMANDS:
        cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="threadloom")
