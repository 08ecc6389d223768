"""Moving sessions: ``export`` a whole thread (a private file), ``import`` it back once."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import click

from ..paths import replace_private
from ..transfer import (
    FORMATS,
    AlreadyImported,
    NotAnExport,
    build_document,
    dumps,
    import_document,
    loads,
)
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
    write_private(output, text)
    console(stderr=True).print(f"Exported {meta.id} to {output} ({fmt}).")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as a new file of mode 0600, atomically.

    Session history holds secrets, so the file is private like the store's own. It
    is written beside ``path`` and renamed over it, so an interrupted export never
    leaves a truncated file; an existing file keeps its mode (never loosened, never
    changed behind the user's back), a symbolic link keeps pointing at it. A path that
    is not a regular file (a FIFO, ``/dev/stdout``) is written in place.

    Raises:
        CliError: The file cannot be written.
    """
    data = text.encode("utf-8")
    if path.is_symlink():  # replace the file it points at, not the link
        path = Path(os.path.realpath(path))
    try:
        try:
            existing = os.stat(path)
        except FileNotFoundError:
            existing = None
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            with open(path, "wb") as special:
                special.write(data)
            return
        replace_private(
            path, data, mode=None if existing is None else stat.S_IMODE(existing.st_mode)
        )
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from exc


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--as-new",
    is_flag=True,
    help="Import as a new thread with a fresh id (a store holding the thread is refused).",
)
@json_option
def import_cmd(file: str, as_new: bool, as_json: bool) -> None:
    """Import a thread from FILE (an `export` in any format; - reads standard input).

    A thread the store already holds (the same export imported twice) is refused;
    --as-new imports it again as a new thread with a fresh id.
    """
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
    try:
        report = import_document(store, doc, as_new=as_new)
    except AlreadyImported as exc:
        raise CliError(
            f"{exc.reason}. Import it as a new thread (a fresh id) with --as-new"
        ) from exc
    except NotAnExport as exc:
        raise CliError(f"cannot import {file}: {exc}") from exc
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
        note = f" (a new thread; exported as {report.original_thread_id})"
    elif report.remapped:
        note = " (message ids were taken: renumbered)"
    out.print(
        f"Imported thread {report.thread_id}{note}: {len(report.message_ids)} message(s), "
        f"{len(doc['checkpoints'])} checkpoint(s), {len(doc['tools'])} tool(s)"
        + (", a goal." if doc.get("goal") else ".")
    )


COMMANDS: list[click.Command] = [export_cmd, import_cmd]
