"""Migrating the original's historical databases (v0, v1, v2, pre-versioning) to ours.

The legacy files live in ``tests/fixtures/`` (copied from ``../shared/fixtures/``) so
these tests always run. ``legacy_vN.expected.jsonl`` is what the original answers after
migrating a copy; we answer the same except for the deliberate improvements, which
are asserted explicitly.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.support.legacy_v0 import message_tree, random_v0
from tests.support.ops import apply_op
from tests.support.shared import require_fixtures
from threadloom import CorruptData, SchemaError, StateStore, ThreadGoalRecord
from threadloom.backends.sqlite import schema as schema_module
from threadloom.backends.sqlite.schema import OWN_SCHEMA_VERSION, SCHEMA_VERSION

FIXTURES = Path(__file__).parent / "fixtures"
VERSIONS = (0, 1, 2)

#: Ops whose answer differs from the original's because of a deliberate improvement.
#: version -> line number (1-based) -> improvement name.
IMPROVEMENTS: dict[int, dict[int, str]] = {
    0: {
        1: "v0 current leaf = chain end",
        8: "v0 current leaf = chain end",
        9: "v0 current leaf = chain end",
        19: "corrupt checkpoint raises CorruptData",
    },
    1: {22: "corrupt checkpoint raises CorruptData"},
    2: {22: "corrupt checkpoint raises CorruptData"},
}


def _copy_legacy(version: int, tmp_path: Path) -> Path:
    target = tmp_path / f"v{version}" / "state.db"
    target.parent.mkdir()
    shutil.copyfile(FIXTURES / f"legacy_v{version}.db", target)
    return target


def _jsonl(path: Path) -> list[Any]:
    # split("\n"), not splitlines(): JSON text may hold U+2028 and friends.
    return [json.loads(line) for line in path.read_text("utf-8").split("\n") if line]


def _user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("version", VERSIONS)
def test_legacy_database_migrates_to_current(version: int, tmp_path: Path) -> None:
    db = _copy_legacy(version, tmp_path)
    assert _user_version(db) == version
    with StateStore.open(db) as store:
        info = store.schema_info()
        assert info.schema_version == SCHEMA_VERSION
        assert info.pending == ()
    assert _user_version(db) == SCHEMA_VERSION


@pytest.mark.parametrize("version", VERSIONS)
def test_legacy_answers_match_original(version: int, tmp_path: Path) -> None:
    db = _copy_legacy(version, tmp_path)
    ops = _jsonl(FIXTURES / f"legacy_v{version}.ops.jsonl")
    expected = _jsonl(FIXTURES / f"legacy_v{version}.expected.jsonl")
    assert len(ops) == len(expected)
    improvements = IMPROVEMENTS[version]
    with StateStore.open(db) as store:
        for number, (op, want) in enumerate(zip(ops, expected, strict=True), start=1):
            got = apply_op(store, op)
            if number in improvements:
                assert got != want, f"line {number}: improvement no longer differs"
                continue
            assert got == want, f"line {number}: {op}"
        _assert_improvements(store, version)


def _assert_improvements(store: StateStore, version: int) -> None:
    """Our answers where the original's differ on purpose."""
    # "corrupt checkpoint raises CorruptData": the original read cp-broken as null.
    with pytest.raises(CorruptData) as caught:
        store.list_checkpoints("L-chain")
    assert caught.value.table == "checkpoints"
    assert "cp-broken" in caught.value.row
    with pytest.raises(CorruptData):
        store.load_checkpoint("L-chain", "cp-broken")
    loaded = store.load_checkpoint("L-chain", "cp-legacy")
    assert loaded is not None and loaded.state == {"turn": 2}
    if version == 0:
        # "v0 current leaf = chain end": the leaf is the newest message by created_at,
        # so the active branch holds every message of the linear history.
        everything = store.list_all_messages("L-disorder")
        newest = max(everything, key=lambda m: (m.created_at, m.id))
        thread = store.get_thread("L-disorder")
        assert thread is not None and thread.current_leaf_id == newest.id
        branch = store.list_messages("L-disorder")
        assert sorted(m.id for m in branch) == sorted(m.id for m in everything)
        assert [m.created_at for m in branch] == sorted(m.created_at for m in everything)


def _schema_of(conn: sqlite3.Connection) -> dict[str, Any]:
    """Tables with their columns, indexes (with columns) and foreign keys."""
    out: dict[str, Any] = {}
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    for table in tables:
        columns = [tuple(r) for r in conn.execute(f"PRAGMA table_info({table})")]
        indexes = {}
        for idx in conn.execute(f"PRAGMA index_list({table})"):
            name, unique, origin, partial = idx[1], idx[2], idx[3], idx[4]
            # Automatic indexes are named by SQLite; key them by origin and columns.
            cols = tuple((r[2],) for r in conn.execute(f"PRAGMA index_xinfo('{name}')") if r[5])
            desc = tuple(r[3] for r in conn.execute(f"PRAGMA index_xinfo('{name}')") if r[5])
            key = name if not name.startswith("sqlite_autoindex") else f"auto:{cols}"
            indexes[key] = (unique, origin, partial, cols, desc)
        fks = sorted(tuple(r[2:]) for r in conn.execute(f"PRAGMA foreign_key_list({table})"))
        out[table] = {"columns": columns, "indexes": indexes, "fks": fks}
    return out


def _original_schema(version: int) -> dict[str, Any]:
    text = (FIXTURES / f"legacy_v{version}.migrated.sql").read_text("utf-8")
    # The header comment holds a ';' of its own: drop comment lines before splitting.
    sql = "\n".join(line for line in text.split("\n") if not line.startswith("--"))
    conn = sqlite3.connect(":memory:")
    try:
        # sqlite_sequence is internal: SQLite creates it with the first AUTOINCREMENT table.
        statements = [s for s in sql.split(";") if s.strip() and "sqlite_sequence" not in s]
        for statement in statements:
            conn.execute(statement)
        return _schema_of(conn)
    finally:
        conn.close()


def _our_additions(schema: dict[str, Any]) -> dict[str, Any]:
    """Strip what only we add: ``continuation_count`` (v4) and ``threadloom_*`` tables."""
    ours = dict(schema)
    for name in [t for t in ours if t.startswith("threadloom_")]:
        del ours[name]
    goals = dict(ours["thread_goals"])
    extra = [c for c in goals["columns"] if c[1] == "continuation_count"]
    assert extra == [(9, "continuation_count", "INTEGER", 1, "0", 0)]
    goals["columns"] = [c for c in goals["columns"] if c[1] != "continuation_count"]
    ours["thread_goals"] = goals
    return ours


@pytest.mark.parametrize("version", VERSIONS)
def test_migrated_schema_matches_original(version: int, tmp_path: Path) -> None:
    db = _copy_legacy(version, tmp_path)
    StateStore.open(db).close()
    with sqlite3.connect(db) as conn:
        ours = _schema_of(conn)
    assert "threadloom_meta" in ours
    assert _our_additions(ours) == _original_schema(version)


def test_fresh_schema_matches_original(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    StateStore.open(db).close()
    with sqlite3.connect(db) as conn:
        ours = _schema_of(conn)
    assert _our_additions(ours) == _original_schema(0)


def _create_pre_versioning_with_tree_columns(db: Path) -> None:
    """user_version 0, but the tables already carry the v1 tree columns."""
    conn = sqlite3.connect(db)
    try:
        conn.executescript(
            """
            CREATE TABLE threads (
                id TEXT PRIMARY KEY, rollout_path TEXT, preview TEXT NOT NULL,
                ephemeral INTEGER NOT NULL, model_provider TEXT NOT NULL,
                created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, status TEXT NOT NULL,
                path TEXT, cwd TEXT NOT NULL, cli_version TEXT NOT NULL, source TEXT NOT NULL,
                title TEXT, sandbox_policy TEXT, approval_mode TEXT,
                archived INTEGER NOT NULL DEFAULT 0, archived_at INTEGER, git_sha TEXT,
                git_branch TEXT, git_origin_url TEXT, memory_mode TEXT,
                current_leaf_id INTEGER NULL);
            CREATE TABLE messages (
                id INTEGER PRIMARY KEY AUTOINCREMENT, thread_id TEXT NOT NULL,
                role TEXT NOT NULL, content TEXT NOT NULL, item_json TEXT,
                created_at INTEGER NOT NULL, parent_entry_id INTEGER NULL,
                FOREIGN KEY(thread_id) REFERENCES threads(id) ON DELETE CASCADE);
            INSERT INTO threads (id, preview, ephemeral, model_provider, created_at,
                updated_at, status, cwd, cli_version, source, current_leaf_id)
                VALUES ('p', 'pre', 0, 'x', 1, 2, 'idle', '/', '0.1', 'api', 1);
            -- A fork: 2 and 3 are both children of 1; the leaf points at 1's first
            -- child branch end (1), so the stored tree must be kept, not re-derived.
            INSERT INTO messages VALUES (1, 'p', 'user', 'root', NULL, 10, NULL);
            INSERT INTO messages VALUES (2, 'p', 'assistant', 'a', NULL, 11, 1);
            INSERT INTO messages VALUES (3, 'p', 'assistant', 'b', NULL, 12, 1);
            PRAGMA user_version = 0;
            """
        )
    finally:
        conn.close()


def test_pre_versioning_database_with_tree_columns_opens(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    _create_pre_versioning_with_tree_columns(db)
    with StateStore.open(db) as store:
        assert store.schema_info().schema_version == SCHEMA_VERSION
        # The stored tree survives: the migration must not re-derive parents.
        assert [(m.id, m.parent_entry_id) for m in store.list_all_messages("p")] == [
            (1, None),
            (2, 1),
            (3, 1),
        ]
        thread = store.get_thread("p")
        assert thread is not None and thread.current_leaf_id == 1
        assert [m.id for m in store.list_leaf_messages("p")] == [2, 3]


def test_newer_database_raises_schema_error_and_is_untouched(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE threads (id TEXT PRIMARY KEY)")
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = _sha(db)
    with pytest.raises(SchemaError) as caught:
        StateStore.open(db)
    assert caught.value.found == 99
    assert caught.value.supported == SCHEMA_VERSION
    assert "99" in str(caught.value) and str(SCHEMA_VERSION) in str(caught.value)
    assert _sha(db) == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["state.db"]


def test_garbage_file_raises_corrupt_data_and_is_untouched(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.write_bytes(b"definitely not a SQLite database, " * 64)
    before = _sha(db)
    with pytest.raises(CorruptData):
        StateStore.open(db)
    assert _sha(db) == before


def test_each_migration_step_is_its_own_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _copy_legacy(1, tmp_path)

    def explode(conn: sqlite3.Connection) -> None:
        # Do part of the step's work first, so a rollback has something to undo.
        conn.execute("CREATE TABLE thread_goals (thread_id TEXT PRIMARY KEY)")
        raise RuntimeError("simulated crash in the v3 step")

    steps = tuple(
        schema_module.Migration(m.version, m.description, then=explode) if m.version == 3 else m
        for m in schema_module.MIGRATIONS
    )
    monkeypatch.setattr(schema_module, "MIGRATIONS", steps)
    with pytest.raises(RuntimeError, match="simulated crash"):
        StateStore.open(db)
    # v2 was committed on its own; v3 rolled back entirely.
    assert _user_version(db) == 2
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "workflow_runs" in tables
    assert "thread_goals" not in tables

    monkeypatch.undo()
    with StateStore.open(db) as store:
        assert store.schema_info().schema_version == SCHEMA_VERSION
        assert store.get_thread("L-chain") is not None


def test_open_without_migrate_lists_pending_steps(tmp_path: Path) -> None:
    db = _copy_legacy(1, tmp_path)
    with StateStore.open(db, migrate=False) as store:
        info = store.schema_info()
        assert info.schema_version == 1
        steps = ["v2", "v3", "v4", "threadloom-v1", "threadloom-v2", "threadloom-v3"]
        assert [s.name for s in info.pending] == steps
        applied = store.migrate()
        assert [s.name for s in applied] == steps
        assert store.schema_info().pending == ()
        assert store.migrate() == []
    assert _user_version(db) == SCHEMA_VERSION


def test_newer_threadloom_tables_raise_schema_error_and_are_untouched(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    StateStore.open(db).close()
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE threadloom_meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    before = _sha(db)
    with pytest.raises(SchemaError) as caught:
        StateStore.open(db, migrate=False)
    assert (caught.value.found, caught.value.supported) == (99, OWN_SCHEMA_VERSION)
    assert _sha(db) == before


# -- the v0 derivation on random histories; goal usage after every migration -----------


@pytest.mark.parametrize("seed", range(5))
def test_v0_parents_follow_time_order_and_the_leaf_ends_the_chain(
    seed: int, tmp_path: Path
) -> None:
    db = tmp_path / "state.db"
    random_v0(db, seed)
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT id, thread_id, created_at FROM messages").fetchall()
    conn.close()
    with StateStore.open(db) as store:
        parents, leaves = message_tree(db)
        for thread_id in {t for _, t, _ in before} & set(leaves):  # not the orphan L-ghost
            chain = [mid for _, mid in sorted((s, m) for m, t, s in before if t == thread_id)]
            # Each message's parent is the one before it by (created_at, id).
            assert [parents[m] for m in chain] == [None, *chain[:-1]]
            assert leaves[thread_id] == chain[-1]
            # So the active branch is the whole history, oldest first.
            assert [m.id for m in store.list_messages(thread_id, 10**6)] == chain


@pytest.mark.parametrize("version", VERSIONS)
def test_goal_usage_after_migrating(version: int, tmp_path: Path) -> None:
    db = _copy_legacy(version, tmp_path)
    with StateStore.open(db) as store:
        goal = ThreadGoalRecord.from_dict(
            {
                "thread_id": "L-chain",
                "goal_id": "g",
                "objective": "migrated",
                "status": "active",
                "token_budget": 1000,
                "tokens_used": 5,
                "time_used_seconds": 7,
                "created_at": 10,
                "updated_at": 20,
            }
        )
        store.upsert_thread_goal(goal)
        after = store.record_thread_goal_usage("L-chain", 100, 3, now=15)
        assert after is not None
        assert (after.tokens_used, after.time_used_seconds, after.updated_at) == (105, 10, 20)
        after = store.record_thread_goal_usage("L-chain", 1, 1, now=30)
        assert after is not None and (after.tokens_used, after.updated_at) == (106, 30)
        assert after.continuation_count == 0
        assert store.record_thread_goal_usage("L-ghost-none", 1, 1) is None


def test_goal_usage_on_goals_the_original_wrote(tmp_path: Path) -> None:
    # seed_v3/state.db: goals the seed wrote at schema 3, before the v4 step that adds
    # continuation_count; usage adds to the original's stored counters.
    source = require_fixtures() / "seed_v3" / "state.db"
    db = tmp_path / "state.db"
    shutil.copyfile(source, db)
    with sqlite3.connect(db) as conn:
        stored = conn.execute(
            "SELECT thread_id, tokens_used, time_used_seconds, updated_at FROM thread_goals"
        ).fetchall()
    conn.close()
    assert stored, "the fixture has goals"
    with StateStore.open(db) as store:
        assert store.schema_info().schema_version == SCHEMA_VERSION
        for thread_id, tokens, seconds, updated in stored:
            if store.get_thread(thread_id) is None:
                continue  # an orphan the seed left behind
            after = store.record_thread_goal_usage(thread_id, 250, 4, now=updated - 1)
            assert after is not None
            assert (after.tokens_used, after.time_used_seconds) == (tokens + 250, seconds + 4)
            assert after.updated_at == updated  # never goes back
            assert after.continuation_count == 0
            assert store.get_thread_goal(thread_id) == after
