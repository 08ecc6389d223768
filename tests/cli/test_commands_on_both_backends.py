"""Every CLI command prints the same on PostgreSQL as on SQLite.

Both databases get the same data: ``threadloom demo`` with its ids and clock pinned,
plus a few threads written through the library that tie on every timestamp and hold
awkward text (NUL characters, non-ASCII, backslashes, names equal but for case). Each
command then runs on both, plain and with ``--json``, and its exit code, standard
output and error output must be equal once the database's location (a path on one, a
connection string on the other) is replaced by ``<location>``: same JSON keys and
values, same table headers, same lines. Writing commands run as one sequence on both
and the resulting store is compared after every step.

Maintenance (``doctor``, ``repair``, ``prune``, ``stats``) and transfer (``export``,
``import``, ``copy``) have their own cross-backend tests, named in ``ELSEWHERE``;
:func:`test_every_command_is_checked_on_both_backends` fails when a command is added
without being covered here or there.
"""

from __future__ import annotations

import itertools
import json
import types
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tests.support.pg import drop_schema, new_schema, require_postgres, schema_dsn
from threadloom import StateStore
from threadloom.cli import cli
from threadloom.records import (
    DynamicToolRecord,
    JobStateRecord,
    JobStateStatus,
    ThreadGoalRecord,
    ThreadGoalStatus,
    ThreadMetadata,
)

pytestmark = pytest.mark.postgres

#: The pinned "now": the demo's clock, the store's clock and relative times all read it,
#: so "3 minutes ago" is the same on both runs.
NOW = 1_700_000_000

#: The demo's thread ids with the pinned uuid4 (main, CI, archived) and their prefixes.
MAIN, CI, OLD = (f"{n:08x}-0000-4000-8000-{n:012x}" for n in (1, 2, 3))
M = MAIN[:8]

#: Commands whose cross-backend test lives in another module (command -> test file).
ELSEWHERE = {
    "doctor": "tests/cli/test_maint_backends.py",
    "repair": "tests/cli/test_maint_backends.py",
    "prune": "tests/cli/test_maint_backends.py",
    "stats": "tests/cli/test_maint_backends.py",
    "export": "tests/postgres/test_transfer_cli.py",
    "import": "tests/postgres/test_transfer_cli.py",
    "copy": "tests/postgres/test_transfer_cli.py",
    "serve": "tests/server/test_api.py",
    "retention set": "tests/cli/test_lifecycle_backends.py",
    "retention show": "tests/cli/test_lifecycle_backends.py",
    "retention run": "tests/cli/test_lifecycle_backends.py",
    "encryption keygen": "tests/cli/test_lifecycle_backends.py",
    "encryption enable": "tests/cli/test_lifecycle_backends.py",
    "encryption status": "tests/cli/test_lifecycle_backends.py",
    "encryption rotate": "tests/cli/test_lifecycle_backends.py",
}

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Pair:
    """The same data in a SQLite file and a PostgreSQL schema."""

    dbs: dict[str, str]  # backend name -> --db value
    locations: dict[str, str]  # backend name -> backend.location

    def run(self, args: Sequence[str], input: str | None = None) -> dict[str, tuple[int, str, str]]:
        """``(exit code, stdout, stderr)`` of ``threadloom --db DB ARGS`` per backend."""
        out = {}
        for name, db in self.dbs.items():
            _IDS.reset()
            result = CliRunner().invoke(
                cli, ["--db", db, *args], input=input, env={"COLUMNS": "200"}
            )
            if result.exit_code not in (0, 1, 2) or "Traceback" in result.output:
                raise AssertionError(f"{name}: {args} crashed: {result.output}") from (
                    result.exception
                )
            where = self.locations[name]
            out[name] = (
                result.exit_code,
                result.stdout.replace(where, "<location>"),
                result.stderr.replace(where, "<location>"),
            )
        return out

    def same(self, *args: str, input: str | None = None, code: int | None = 0) -> str:
        """Run on both, assert equal results (and ``code``); the SQLite stdout."""
        got = self.run(args, input=input)
        (code_l, out_l, err_l), (code_p, out_p, err_p) = got["sqlite"], got["postgres"]
        assert code_p == code_l, (args, "exit codes differ", got)
        assert err_p == err_l, (args, "error output differs")
        if "--json" in args and code_l == 0:
            # Same keys, same values (pytest shows the first difference of the two).
            assert json.loads(out_p) == json.loads(out_l), args
        lines_l, lines_p = out_l.splitlines(), out_p.splitlines()
        assert lines_p[:1] == lines_l[:1], (args, "first lines (headers) differ")
        assert len(lines_p) == len(lines_l), (args, "line counts differ")
        assert out_p == out_l, args
        assert code is None or code_l == code, (args, got["sqlite"])
        return got["sqlite"][1]

    def state(self) -> None:
        """Both stores hold the same threads, messages, leaves and names."""
        self.same("threads", "--archived", "--json", "--limit", "100")
        for thread in json.loads(self.same("threads", "--archived", "--json", "--limit", "100"))[
            "threads"
        ]:
            self.same("show", thread["id"], "--all-branches", "--json")


class _Ids:
    """uuid4 for the demo: 1, 2, 3... again on each run, so both backends get the same."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._next = itertools.count(1)

    def uuid4(self) -> uuid.UUID:
        n = next(self._next)
        return uuid.UUID(f"{n:08x}-0000-4000-8000-{n:012x}")


_IDS = _Ids()


def _pin(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = types.SimpleNamespace(time=lambda: float(NOW))
    monkeypatch.setattr("threadloom.cli.demo.uuid", _IDS)
    monkeypatch.setattr("threadloom.cli.demo.time", clock)
    monkeypatch.setattr("threadloom.cli.fmt.time", clock)
    monkeypatch.setattr("threadloom.store._wall_clock", lambda: NOW)


def _add_ties(db: str) -> None:
    """Threads, messages, checkpoints and jobs that tie on every timestamp."""
    with StateStore.open(db, clock=lambda: NOW) as s:
        for tid, name in (("tie-b", "Zed"), ("tie-a", "zed"), ("tie-c", None)):
            s.upsert_thread(
                ThreadMetadata.create(
                    tid, name=name, cwd="/w/ü", now=NOW, preview="nul\x00 \u2013 ü\nsecond line"
                )
            )
        root = s.append_message("tie-b", "user", "root 😀 \x00 end")
        answer = s.append_message(
            "tie-b",
            "assistant",
            "back\\slash %s ? \\u0000",
            {"type": "function_call", "name": "x", "arguments": {"k": [1, 2.5, None, "\x00"]}},
        )
        s.fork_at_message(root, "user", "sibling one")
        s.fork_at_message(root, "user", "sibling two")
        s.set_current_leaf_id("tie-b", answer)
        for checkpoint in ("c2", "c1", "latest", "c2"):
            s.save_checkpoint("tie-b", checkpoint, {"é": "\x00", "id": checkpoint})
        for job in ("tie-j2", "tie-j1", "tie-j3", "tie-j2"):
            s.upsert_job(
                JobStateRecord(
                    id=job,
                    name=f"job {job}",
                    status=JobStateStatus.FAILED,
                    progress=150 if job == "tie-j1" else None,
                    detail="not json",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        s.persist_dynamic_tools(
            "tie-b",
            [
                DynamicToolRecord(position=1, name="t1", description=None, input_schema=None),
                DynamicToolRecord(
                    position=0, name="t0", description="d", input_schema={"properties": {"q": {}}}
                ),
            ],
        )
        s.upsert_thread_goal(
            ThreadGoalRecord(
                thread_id="tie-b",
                goal_id="g",
                objective="no budget",
                status=ThreadGoalStatus.PAUSED,
                token_budget=None,
                tokens_used=0,
                time_used_seconds=61,
                created_at=NOW,
                updated_at=NOW,
                continuation_count=0,
            )
        )
        s.append_thread_name("tie-c", "ZED", NOW)


def _make_pair(tmp: Path, *, fill: bool) -> Iterator[Pair]:
    require_postgres()
    schema = new_schema()
    try:
        dbs = {"sqlite": str(tmp / "state.db"), "postgres": schema_dsn(schema)}
        locations = {}
        for name, db in dbs.items():
            with StateStore.open(db) as store:
                locations[name] = store.backend.location
        pair = Pair(dbs, locations)
        if fill:
            with pytest.MonkeyPatch.context() as patch:
                _pin(patch)
                pair.same("demo", "--json")
            for db in dbs.values():
                _add_ties(db)
        yield pair
    finally:
        drop_schema(schema)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """Demo data plus ties, on both backends; for commands that write nothing."""
    yield from _make_pair(tmp_path_factory.mktemp("both"), fill=True)


@pytest.fixture
def fresh_filled(tmp_path: Path) -> Iterator[Pair]:
    """Demo data plus ties, on both backends; for commands that write."""
    yield from _make_pair(tmp_path, fill=True)


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[Pair]:
    """A SQLite file and a PostgreSQL schema, both migrated and empty."""
    yield from _make_pair(tmp_path, fill=False)


@pytest.fixture(autouse=True)
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test reads the pinned clock and ids."""
    _pin(monkeypatch)


#: Commands that change nothing: ``(args, exit code)``; each runs plain and, where
#: marked, with ``--json`` too (``+json``).
READS: list[tuple[tuple[str, ...], int]] = [
    (("threads",), 0),
    (("threads", "--archived", "+json"), 0),
    (("threads", "--only-archived", "+json"), 0),
    (("threads", "--status", "completed", "--status", "idle", "+json"), 0),
    (("threads", "--cwd", "/w", "+json"), 0),
    (("threads", "--name", "ZED", "+json"), 0),
    (("threads", "--limit", "2", "--page", "2", "+json"), 0),
    (("--json", "threads"), 0),
    (("show", M, "+json"), 0),
    (("show", M, "--all-branches", "+json"), 0),
    (("show", M, "--last", "2", "+json"), 0),
    (("show", M, "--full"), 0),
    (("show", M, "--max-lines", "1"), 0),
    (("show", M, "--at", "4", "--context", "1", "+json"), 0),
    (("show", "flaky ci on macos", "+json"), 0),
    (("show", "tie-b", "--all-branches", "+json"), 0),
    (("show", "tie-c", "+json"), 0),
    (("tree", M, "+json"), 0),
    (("tree", "tie-b", "+json"), 0),
    (("tree", "tie-c", "+json"), 0),
    (("checkpoints", M, "+json"), 0),
    (("checkpoints", "tie-b", "--limit", "3", "+json"), 0),
    (("checkpoints", OLD[:8], "+json"), 0),
    (("checkpoint", "show", M, "+json"), 0),
    (("checkpoint", "show", M, "turn-1", "+json"), 0),
    (("checkpoint", "show", "tie-b", "c2", "+json"), 0),
    (("jobs", "+json"), 0),
    (("jobs", "--status", "running", "--limit", "1", "+json"), 0),
    (("goal", M, "+json"), 0),
    (("goal", "tie-b", "+json"), 0),
    (("goal", CI[:8], "+json"), 0),
    (("tools", M, "+json"), 0),
    (("tools", "tie-b", "+json"), 0),
    (("tools", CI[:8], "+json"), 0),
    (("migrate", "+json"), 0),
    (("migrate", "--dry-run", "+json"), 0),
    # Writing commands that find nothing to do.
    (("switch", M, "8", "+json"), 0),  # already the current leaf
    (("archive", OLD[:8]), 0),  # already archived
    (("unarchive", CI[:8]), 0),  # not archived
    (("rename", M, "Fix 'database is locked'"), 0),  # already so named
    (("rename", "tie-c", "--clear"), 0),  # already unnamed
    (("demo", "--if-empty", "+json"), 0),  # not empty
    # Errors: one line, the same exit code.
    (("show", "no-such-thread", "+json"), 1),
    (("show", "0000000"), 1),  # ambiguous id prefix
    (("show", "tie-"), 1),  # ambiguous id prefix
    (("show", "zed"), 1),  # ambiguous name (case-insensitive, index names too)
    (("show", " "), 1),
    (("tree", "no-such-thread"), 1),
    (("checkpoints", "no-such-thread"), 1),
    (("checkpoint", "show", M, "no-such-checkpoint"), 1),
    (("checkpoint", "show", "tie-c"), 1),
    (("goal", "no-such-thread"), 1),
    (("tools", "no-such-thread"), 1),
    (("switch", M, "999"), 1),
    (("switch", M, "abc"), 1),
    (("switch", M, "14"), 1),  # a message of another thread
    (("fork", M, "999", "--content", "x"), 1),
    (("fork", "no-such-thread", "1", "--content", "x"), 1),
    (("archive", "no-such-thread"), 1),
    (("unarchive", "0000000"), 1),
    (("delete", "no-such-thread", "--yes"), 1),
    (("delete", M), 1),  # the confirmation refused (no input)
    (("rename", M, ""), 2),
    (("rename", M), 2),
    (("rename", M, "x", "--clear"), 2),
    (("threads", "--page", "99"), 2),
    (("jobs", "--limit", "0"), 2),
]


def _variants(args: tuple[str, ...]) -> list[tuple[str, ...]]:
    plain = tuple(a for a in args if a != "+json")
    return [plain, (*plain, "--json")] if "+json" in args else [plain]


@pytest.mark.parametrize(("args", "code"), READS, ids=[" ".join(a) for a, _ in READS])
def test_reading_commands_print_the_same(filled: Pair, args: tuple[str, ...], code: int) -> None:
    for variant in _variants(args):
        filled.same(*variant, code=code)
    filled.state()  # nothing changed, on either side


#: Commands that write, run in this order on both (message ids: the demo's main thread
#: holds 1-11, its current leaf is 8; tie-b holds 17-20).
WRITES: list[tuple[tuple[str, ...], int]] = [
    (("fork", M, "4", "--content", "Another way?", "--json"), 0),
    (("fork", M, "2", "--content", "nul \x00 and ü", "--role", "system"), 0),
    (("fork", "tie-b", "17", "--content", "a third sibling", "--json"), 0),
    (("fork", "tie-b", "1", "--content", "not a message of tie-b"), 1),
    (("switch", M, "9"), 0),
    (("switch", M, "9"), 0),  # already the leaf: nothing changed
    (("switch", "tie-b", "#19", "--json"), 0),
    (("rename", M, "Locking, again"), 0),
    (("rename", M, "Locking, again"), 0),  # the same name: nothing changed
    (("show", "LOCKING, AGAIN", "--json"), 0),  # found by its new name
    (("rename", M, ""), 2),
    (("rename", "tie-a", "--clear"), 0),
    (("show", "zed", "--json"), 1),  # tie-b's name and tie-c's index name remain
    (("archive", M), 0),
    (("archive", M), 0),  # twice: nothing changed
    (("threads", "--json"), 0),
    (("unarchive", M), 0),
    (("unarchive", M), 0),
    (("unarchive", OLD[:8]), 0),
    (("delete", CI[:8]), 1),  # the confirmation refused
    # search writes only its own index; hits, snippets and order are the same on both
    # (not --json: the rank is BM25 on one, ts_rank on the other).
    (("search", "wal OR journal"), 0),
    (("search", "connection*", "--role", "assistant", "--limit", "1", "--page", "2"), 0),
    (("search", "nul ü"), 0),
    (("search", "--reindex", "--rebuild"), 0),
    (("search", '"*"'), 1),
    (("delete", CI[:8], "--yes"), 0),
    (("delete", "tie-b", "-y"), 0),
    (("show", CI[:8]), 1),
    (("jobs", "--json"), 0),
]

#: What the migrate and demo tests run (for the coverage check).
OTHERS: list[tuple[str, ...]] = [("migrate", "--json"), ("demo", "--json")]


def test_writing_commands_print_and_store_the_same(fresh_filled: Pair) -> None:
    for args, code in WRITES:
        fresh_filled.same(*args, input="n\n" if args[0] == "delete" else None, code=code)
        fresh_filled.state()


def test_migrate_prints_the_same(tmp_path: Path) -> None:
    """A database that needs every step, then one that is up to date."""
    require_postgres()
    schema = new_schema()
    try:
        (tmp_path / "state.db").touch()  # SQLite's empty database is an empty file
        dbs = {"sqlite": str(tmp_path / "state.db"), "postgres": schema_dsn(schema)}
        locations = {"sqlite": dbs["sqlite"], "postgres": ""}
        with StateStore.open(dbs["postgres"], migrate=False) as store:
            locations["postgres"] = store.backend.location
        both = Pair(dbs, locations)
        got = both.run(["migrate", "--dry-run"])
        assert got["sqlite"][0] == got["postgres"][0] == 1  # nothing to read yet
        applied = {
            name: json.loads(out) for name, (_, out, _) in both.run(["migrate", "--json"]).items()
        }
        for data in applied.values():
            # The steps' names and order are the same; the text of one differs on
            # purpose (PostgreSQL keeps the session index in a table that step adds).
            for step in data["pending"]:
                step["description"] = "..."
        assert applied["sqlite"] == applied["postgres"]
        assert applied["sqlite"]["applied"] == [s["name"] for s in applied["sqlite"]["pending"]]
        assert applied["sqlite"]["schema_version"] > applied["sqlite"]["schema_version_before"]
        for args in (("migrate",), ("migrate", "--json"), ("migrate", "--dry-run")):
            both.same(*args)
        both.same("threads", "--json")
        both.same("jobs")
    finally:
        drop_schema(schema)


def test_demo_prints_the_same(empty: Pair) -> None:
    created = json.loads(empty.same("demo", "--json"))
    assert created == {"created": [MAIN, CI, OLD], "database": "<location>"}
    assert empty.same("demo", "--if-empty").strip() == ""  # not empty any more
    assert json.loads(empty.same("demo", "--if-empty", "--json")) == {"created": []}
    text = empty.same("demo")
    assert "<location>" in text and len(text.splitlines()) == 2
    empty.state()


def _leaf_commands(group: click.Group, prefix: str = "") -> list[str]:
    ctx = click.Context(group)
    names = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            names.extend(_leaf_commands(command, f"{prefix}{name} "))
        else:
            names.append(f"{prefix}{name}")
    return names


def _command_of(args: Sequence[str], leaves: list[str]) -> str | None:
    """The command path ``args`` runs (``checkpoint show``), global options skipped."""
    words = [a for a in args if a != "--json"]
    for leaf in leaves:
        if words[: len(leaf.split())] == leaf.split():
            return leaf
    return None


def test_every_command_is_checked_on_both_backends() -> None:
    leaves = _leaf_commands(cli)
    runs = [args for args, _ in READS] + [args for args, _ in WRITES] + OTHERS
    here = {_command_of(args, leaves) for args in runs}
    missing = [leaf for leaf in leaves if leaf not in here and leaf not in ELSEWHERE]
    assert not missing, (
        f"commands not run on both backends: {missing}; add them to READS or the writing "
        "steps of this module (or, with their own cross-backend test, to ELSEWHERE)"
    )
    for command, test_file in ELSEWHERE.items():
        assert command in leaves, f"{command} is no longer a command"
        text = (ROOT / test_file).read_text(encoding="utf-8")
        assert f'"{command}"' in text, f"{test_file} does not run {command}"
