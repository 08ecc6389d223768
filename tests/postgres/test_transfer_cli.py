"""``export``, ``import`` and ``copy`` on PostgreSQL print what they print on SQLite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.support.pg import drop_schema, new_schema, schema_dsn
from tests.test_transfer_contract import _rich_document
from threadloom import StateStore
from threadloom.cli import cli
from threadloom.transfer import FORMATS

pytestmark = pytest.mark.postgres


def _run(db: str | Path | None, *args: str) -> Result:
    """``threadloom [--db DB] ARGS`` (``copy`` names its two stores itself)."""
    where = [] if db is None else ["--db", str(db)]
    return CliRunner().invoke(cli, [*where, *args], env={"COLUMNS": "200"})


def _ok(db: str | Path | None, *args: str) -> Result:
    result = _run(db, *args)
    assert result.exit_code == 0, (args, result.output)
    return result


@pytest.fixture
def other_pg_dsn(pg_dsn: str) -> Iterator[str]:
    """A second fresh schema (the first is ``pg_dsn``)."""
    schema = new_schema()
    try:
        yield schema_dsn(schema)
    finally:
        drop_schema(schema)


def _export_file(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    opened: list[StateStore] = []

    def make(**options: Any) -> StateStore:
        store = StateStore.open(tmp_path / "made" / f"{len(opened)}" / "state.db", **options)
        opened.append(store)
        return store

    doc = _rich_document(make)
    for store in opened:
        store.close()
    path = tmp_path / "rich.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path, doc


def test_export_and_import_print_the_same_on_postgres(
    tmp_path: Path, pg_dsn: str, other_pg_dsn: str
) -> None:
    path, doc = _export_file(tmp_path)
    tid = doc["thread"]["id"]
    lite = tmp_path / "lite" / "state.db"
    # Import: the same report (message ids kept on both), the same refusal of a second.
    imported = {db: _ok(db, "import", str(path)).stdout for db in (lite, pg_dsn)}
    assert imported[lite] == imported[pg_dsn]
    assert "Imported thread rich" in imported[lite] and "renumbered" not in imported[lite]
    as_json = {
        db: json.loads(_ok(db, "import", str(path), "--json").stdout)
        for db in (
            tmp_path / "lite2" / "state.db",
            other_pg_dsn,
        )
    }
    first, second = as_json.values()
    assert first == second and first["remapped"] is False
    assert first["message_ids"] == {str(m["id"]): m["id"] for m in doc["messages"]}
    refused = {db: _run(db, "import", str(path)) for db in (lite, pg_dsn)}
    assert refused[lite].exit_code == refused[pg_dsn].exit_code == 1
    assert refused[lite].stderr == refused[pg_dsn].stderr
    assert "--as-new" in refused[lite].stderr
    # As a new thread: fresh thread ids, the same renumbering on both.
    again = {
        db: json.loads(_ok(db, "import", str(path), "--as-new", "--json").stdout)
        for db in (
            lite,
            pg_dsn,
        )
    }
    assert again[lite]["thread_id"] != again[pg_dsn]["thread_id"]
    for report in again.values():
        report.pop("thread_id")
    assert again[lite] == again[pg_dsn] and again[lite]["remapped"] is True
    # Export: byte for byte the same text in every format.
    for fmt in FORMATS:
        texts = {db: _ok(db, "export", tid, "--format", fmt).stdout for db in (lite, pg_dsn)}
        assert texts[lite] == texts[pg_dsn], fmt
    assert json.loads(_ok(pg_dsn, "export", tid).stdout) == doc
    out = tmp_path / "out.jsonl"
    note = _ok(pg_dsn, "export", tid, "--format", "jsonl", "-o", str(out))
    assert f"Exported {tid} to {out} (jsonl)." in note.stderr
    assert out.stat().st_mode & 0o777 == 0o600


def test_copy_prints_the_same_on_postgres(tmp_path: Path, pg_dsn: str) -> None:
    path, doc = _export_file(tmp_path)
    src = tmp_path / "src" / "state.db"
    _ok(src, "demo")
    _ok(src, "import", str(path))
    # SQLite → SQLite and SQLite → PostgreSQL: the same table of counts.
    lite = tmp_path / "lite" / "state.db"
    tables = {dst: _ok(None, "copy", str(src), str(dst)).stdout for dst in (lite, pg_dsn)}
    assert tables[lite] == tables[pg_dsn]
    assert "MISMATCH" not in tables[lite] and "messages" in tables[lite]
    # PostgreSQL → SQLite: the same JSON report (but for the locations) and the same data.
    back = tmp_path / "back" / "state.db"
    reports = {
        (a, b): json.loads(_ok(None, "copy", str(a), str(b), "--json").stdout)
        for a, b in ((lite, tmp_path / "again" / "state.db"), (pg_dsn, back))
    }
    for report in reports.values():
        assert report.pop("verified") is True
        report.pop("source"), report.pop("target")
    first, second = reports.values()
    assert first == second
    tid = doc["thread"]["id"]
    assert _ok(back, "export", tid).stdout == _ok(src, "export", tid).stdout
    refused = _run(None, "copy", str(src), pg_dsn)
    assert refused.exit_code == 1 and "is not empty" in refused.stderr
