"""Moving sessions: ``export`` a whole thread, ``import`` it back (ids remapped if taken)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..export import FORMATS, NotAnExport, build_document, dumps, import_document, loads
from .context import (
    CliError,
    console,
    emit_json,
    json_option,
    open_store,
    resolve_thread,
    wants_json,
)

__all__ = ["COMMANDS"]


@click.command("export")
@click.argument("thread")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="json",
    show_default=True,
    help="json: one document; jsonl: one record a line; md: transcript (still importable).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
def export_cmd(thread: str, fmt: str, output: Path | None) -> None:
    """Export THREAD whole: metadata, every branch, checkpoints, tools, goal."""
    store = open_store(read_only=True)
    meta = resolve_thread(store, thread)
    text = dumps(build_document(store, meta.id), fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    console(stderr=True).print(f"Exported {meta.id} to {output} ({fmt}).")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@json_option
def import_cmd(file: str, as_json: bool) -> None:
    """Import a thread from FILE (an `export` in any format; - reads standard input)."""
    if file == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise CliError(f"{file} is not a threadloom export (not UTF-8 text)") from None
    try:
        doc = loads(text)
    except NotAnExport as exc:
        raise CliError(f"{file} is not a threadloom export: {exc}") from exc
    store = open_store(create=True)
    report = import_document(store, doc)
    if wants_json(as_json):
        emit_json(
            {
                "thread_id": report.thread_id,
                "original_thread_id": report.original_thread_id,
                "remapped": report.remapped,
                "messages": len(report.message_ids),
                "message_ids": {str(k): v for k, v in report.message_ids.items()},
            }
        )
        return
    out = console()
    note = ""
    if report.thread_id != report.original_thread_id:
        note = f" (id {report.original_thread_id} was taken)"
    elif report.remapped:
        note = " (message ids were taken: renumbered)"
    out.print(
        f"Imported thread {report.thread_id}{note}: {len(report.message_ids)} message(s), "
        f"{len(doc['checkpoints'])} checkpoint(s), {len(doc['tools'])} tool(s)"
        + (", a goal." if doc.get("goal") else ".")
    )


COMMANDS: list[click.Command] = [export_cmd, import_cmd]
