"""``export`` and ``import``: exact round trips, id remapping, non-export files."""

from __future__ import annotations

import json
import os
import stat
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
    stats = demo_cli.json("stats")
    # The store holds that thread: a plain import is refused, nothing is written.
    error = demo_cli.fails("import", str(path))
    assert f"thread {thread} is already in this store" in error and "--as-new" in error
    assert "as_new=True" not in error
    assert demo_cli.json("stats") == stats
    report = demo_cli.json("import", str(path), "--as-new")
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
    from threadloom.backends.sqlite import SqliteBackend

    path = tmp_path / "alpha.json"
    path.write_text(seed_cli.ok("export", "t-alpha").stdout, encoding="utf-8")
    target = Cli(tmp_path / "target" / "state.db")
    target.ok("demo")
    before = target.json("stats")["tables"]

    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C after the messages were written

    monkeypatch.setattr(SqliteBackend, "save_checkpoint", interrupt)
    result = target.invoke(["import", str(path)])
    assert result.exit_code == 1 and "Aborted" in result.output
    monkeypatch.undo()
    assert target.json("stats")["tables"] == before
    assert "no thread matches" in target.fails("show", "t-alpha")


def test_importing_the_same_export_twice_is_refused(seed_cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "alpha.json"
    seed_cli.ok("export", "t-alpha", "-o", str(path))
    target = Cli(tmp_path / "target" / "state.db")
    target.ok("import", str(path))
    index = tmp_path / "target" / "session_index.jsonl"
    once = (target.json("stats")["tables"], index.read_bytes())
    error = target.fails("import", str(path))
    assert error == (
        "Error: thread t-alpha is already in this store (imported before, or exported from "
        "it); nothing was imported. Import it as a new thread (a fresh id) with --as-new"
    )
    assert (target.json("stats")["tables"], index.read_bytes()) == once
    out = target.ok("import", str(path), "--as-new").stdout
    assert "(a new thread; exported as t-alpha)" in out
    rows = {t["name"]: t["rows"] for t in target.json("stats")["tables"]}
    assert rows["threads"] == 2
    assert "--as-new" in target.ok("import", "--help").stdout


def test_import_refuses_a_current_leaf_that_points_nowhere(seed_cli: Cli, tmp_path: Path) -> None:
    doc = json.loads(seed_cli.ok("export", "t-alpha").stdout)
    doc["thread"]["current_leaf_id"] = 4242
    path = tmp_path / "alpha.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    target = Cli(tmp_path / "target" / "state.db")
    target.ok("demo")
    before = target.json("stats")["tables"]
    error = target.fails("import", str(path))
    assert "current_leaf_id 4242 is not one of its 8 message(s)" in error
    assert target.json("stats")["tables"] == before


def test_exports_are_private_files(seed_cli: Cli, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        for fmt in ("json", "jsonl", "md"):
            path = tmp_path / f"alpha.{fmt}"
            seed_cli.ok("export", "t-alpha", "--format", fmt, "-o", str(path))
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, fmt
            assert (
                path.read_text(encoding="utf-8")
                == seed_cli.ok("export", "t-alpha", "--format", fmt).stdout
            )
        # An existing file keeps the mode its owner gave it, tighter or looser, and a
        # link keeps pointing at its file; no temporary file is left beside them.
        for mode in (0o400, 0o640):
            path = tmp_path / f"kept-{mode:o}.json"
            path.write_text("old", encoding="utf-8")
            path.chmod(mode)
            seed_cli.ok("export", "t-alpha", "-o", str(path))
            assert stat.S_IMODE(path.stat().st_mode) == mode
            assert json.loads(path.read_text(encoding="utf-8"))["thread"]["id"] == "t-alpha"
        link = tmp_path / "link.json"
        link.symlink_to(tmp_path / "alpha.json")
        seed_cli.ok("export", "t-delta", "-o", str(link))
        assert link.is_symlink()
        assert json.loads((tmp_path / "alpha.json").read_text("utf-8"))["thread"]["id"] == "t-delta"
    finally:
        os.umask(old)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    missing = seed_cli.fails("export", "t-alpha", "-o", str(tmp_path / "no" / "such" / "x.json"))
    assert missing.startswith("Error: cannot write ")
