"""``export`` and ``import``: exact round trips, id remapping, non-export files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli


@pytest.mark.parametrize("fmt", ["json", "jsonl", "md"])
def test_export_import_export_is_identical(seed_cli: Cli, tmp_path: Path, fmt: str) -> None:
    first = seed_cli.ok("export", "t-alpha", "--format", fmt).stdout
    path = tmp_path / f"alpha.{fmt}"
    path.write_text(first, encoding="utf-8")
    fresh = Cli(tmp_path / "fresh" / "state.db")
    fresh.ok("import", str(path))
    assert fresh.ok("export", "t-alpha", "--format", fmt).stdout == first


def test_export_holds_the_whole_thread(seed_cli: Cli) -> None:
    doc = json.loads(seed_cli.ok("export", "t-alpha").stdout)
    assert doc["format"] == "threadloom-export" and doc["version"] == 1
    assert len(doc["messages"]) == 8  # every branch, not only the current one
    latest = seed_cli.json("checkpoints", "t-alpha")["checkpoints"]
    # Save order, oldest first: the reverse of `checkpoints` (latest first).
    assert [c["checkpoint_id"] for c in doc["checkpoints"]] == [
        c["checkpoint_id"] for c in reversed(latest)
    ]
    assert len(doc["tools"]) == 2 and doc["goal"]["objective"] == "Ship state store v3"
    assert doc["session_index_name"] == "Alpha Project"
    md = seed_cli.ok("export", "t-alpha", "--format", "md").stdout
    assert md.startswith("# Alpha Project") and "### assistant (#7)" in md


def test_import_into_a_database_that_holds_those_ids(demo_cli: Cli, tmp_path: Path) -> None:
    thread = demo_cli.json("threads")["threads"][0]["id"]
    path = tmp_path / "main.json"
    demo_cli.ok("export", thread, "-o", str(path))
    before = json.loads(path.read_text(encoding="utf-8"))
    report = demo_cli.json("import", str(path))
    assert report["remapped"] and report["original_thread_id"] == thread
    new_id = report["thread_id"]
    assert new_id != thread
    ids = report["message_ids"]
    assert all(int(old) != new for old, new in ids.items())  # ids 1..11 were all taken
    after = json.loads(demo_cli.ok("export", new_id).stdout)
    # The same document once the id mapping is undone.
    back = {new: int(old) for old, new in ids.items()}
    assert after["thread"]["id"] == new_id
    assert after["thread"]["current_leaf_id"] == ids[str(before["thread"]["current_leaf_id"])]
    for message in after["messages"]:
        message["id"] = back[message["id"]]
        message["thread_id"] = thread
        if message["parent_entry_id"] is not None:
            message["parent_entry_id"] = back[message["parent_entry_id"]]
    for record in (*after["checkpoints"], after["goal"]):
        record["thread_id"] = thread
    after["thread"] = before["thread"]
    assert after == before
    # The original is untouched and both are listed.
    assert demo_cli.json("threads")["total"] == 3
    assert json.loads(demo_cli.ok("export", thread).stdout) == before


def test_import_rejects_files_that_are_not_exports(demo_cli: Cli, tmp_path: Path) -> None:
    cases = {
        "other.json": '{"hello": "world"}',
        "notes.md": "# Notes\n\nnothing here\n",
        "empty.json": "",
        "lines.jsonl": '{"type": "header", "format": "something-else"}\n',
        "binary.bin": "\x00\x01garbage",
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        assert "is not a threadloom export" in demo_cli.fails("import", str(path)), name
    path = tmp_path / "bad-utf8.json"
    path.write_bytes(b"\xff\xfe{")
    assert "not UTF-8" in demo_cli.fails("import", str(path))


def test_import_creates_the_database(tmp_path: Path, seed_cli: Cli) -> None:
    path = tmp_path / "delta.jsonl"
    path.write_text(seed_cli.ok("export", "t-delta", "--format", "jsonl").stdout, "utf-8")
    target = Cli(tmp_path / "new" / "state.db")
    out = target.ok("import", str(path)).stdout
    assert "Imported thread t-delta: 6 message(s)" in out
    assert target.json("threads", "--archived")["threads"][0]["name"] == "Δelta 🚀 프로젝트"


def test_an_interrupted_import_leaves_nothing_behind(
    seed_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threadloom.export as export

    path = tmp_path / "alpha.json"
    path.write_text(seed_cli.ok("export", "t-alpha").stdout, encoding="utf-8")
    target = Cli(tmp_path / "target" / "state.db")
    target.ok("demo")
    before = target.json("stats")["tables"]

    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C after the messages were written

    monkeypatch.setattr(export, "_save_checkpoint", interrupt)
    result = target.invoke(["import", str(path)])
    assert result.exit_code == 1 and "Aborted" in result.output
    monkeypatch.undo()
    assert target.json("stats")["tables"] == before
    assert "no thread matches" in target.fails("show", "t-alpha")
