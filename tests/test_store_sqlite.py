"""SQLite-only behaviour of the store: files, modes, pragmas, raw stored data, threads.

Raw rows are written with :mod:`sqlite3` directly, the way the original (or a damaged
disk) could have left them, to check how the store reads them back.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from tests.support.filestate import file_state
from threadloom import (
    CorruptData,
    JobStateRecord,
    JobStateStatus,
    SessionSource,
    StateStore,
    StoreBusy,
    ThreadGoalRecord,
    ThreadGoalStatus,
    ThreadloomError,
    ThreadMetadata,
    ThreadStatus,
    default_state_db_path,
)
from threadloom.backends.sqlite import SqliteBackend


def _thread(thread_id: str = "t1", **fields: Any) -> ThreadMetadata:
    return ThreadMetadata.create(thread_id, cwd="/w", now=100, **fields)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _pragma(store: StateStore, name: str) -> Any:
    conn = cast(SqliteBackend, store.backend).connection()
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


@pytest.fixture
def raw(sqlite_store: StateStore) -> Iterator[sqlite3.Connection]:
    """A second, plain connection to the store's file (autocommit)."""
    conn = sqlite3.connect(sqlite_store.db_path(), isolation_level=None)
    yield conn
    conn.close()


# -- corrupt and unexpected stored data ---------------------------------------------


def test_unparsable_checkpoint_raises_corrupt_data(
    sqlite_store: StateStore, raw: sqlite3.Connection
) -> None:
    sqlite_store.upsert_thread(_thread())
    sqlite_store.save_checkpoint("t1", "good", {"a": 1})
    raw.execute(
        "INSERT INTO checkpoints VALUES ('t1', 'bad', '{not json', 1)",
    )
    with pytest.raises(CorruptData) as caught:
        sqlite_store.load_checkpoint("t1", "bad")
    assert caught.value.table == "checkpoints"
    assert "'bad'" in caught.value.row and "'t1'" in caught.value.row
    with pytest.raises(CorruptData):
        sqlite_store.list_checkpoints("t1")
    # Other rows stay readable.
    good = sqlite_store.load_checkpoint("t1", "good")
    assert good is not None and good.state == {"a": 1}


def test_unparsable_message_item_raises_corrupt_data(
    sqlite_store: StateStore, raw: sqlite3.Connection
) -> None:
    sqlite_store.upsert_thread(_thread())
    message_id = sqlite_store.append_message("t1", "user", "x", {"ok": 1})
    raw.execute("UPDATE messages SET item_json = '[1,' WHERE id = ?", (message_id,))
    for call in (
        sqlite_store.list_messages,
        sqlite_store.list_leaf_messages,
        sqlite_store.list_all_messages,
    ):
        with pytest.raises(CorruptData) as caught:
            call("t1")
        assert caught.value.table == "messages"
        assert caught.value.row == f"id={message_id}"


def test_unparsable_tool_schema_raises_corrupt_data(
    sqlite_store: StateStore, raw: sqlite3.Connection
) -> None:
    sqlite_store.upsert_thread(_thread())
    raw.execute(
        "INSERT INTO thread_dynamic_tools VALUES ('t1', 3, 'grep', NULL, 'nope')",
    )
    with pytest.raises(CorruptData) as caught:
        sqlite_store.get_dynamic_tools("t1")
    assert caught.value.table == "thread_dynamic_tools"
    assert "position=3" in caught.value.row


def test_unknown_stored_statuses_read_as_fallbacks(
    sqlite_store: StateStore, raw: sqlite3.Connection
) -> None:
    sqlite_store.upsert_thread(_thread())
    raw.execute("UPDATE threads SET status = 'exploded', source = 'carrier-pigeon'")
    thread = sqlite_store.get_thread("t1")
    assert thread is not None
    assert thread.status is ThreadStatus.IDLE and thread.source is SessionSource.UNKNOWN
    raw.execute("INSERT INTO jobs VALUES ('j', 'n', 'vanished', 300, NULL, 1, 2)")
    raw.execute("INSERT INTO jobs VALUES ('k', 'n', 'running', -1, NULL, 1, 1)")
    job = sqlite_store.get_job("j")
    assert job is not None and job.status is JobStateStatus.QUEUED and job.progress is None
    other = sqlite_store.get_job("k")
    assert other is not None and other.progress is None


def test_unknown_stored_goal_status_reads_paused(
    sqlite_store: StateStore, raw: sqlite3.Connection
) -> None:
    sqlite_store.upsert_thread(_thread())
    sqlite_store.upsert_thread_goal(
        ThreadGoalRecord(
            thread_id="t1",
            goal_id="g",
            objective="o",
            status=ThreadGoalStatus.ACTIVE,
            token_budget=None,
            tokens_used=0,
            time_used_seconds=0,
            created_at=1,
            updated_at=1,
        )
    )
    # The table's CHECK forbids unknown statuses; a newer writer may still leave one.
    raw.execute("PRAGMA ignore_check_constraints = ON")
    raw.execute("UPDATE thread_goals SET status = 'from_the_future'")
    goal = sqlite_store.get_thread_goal("t1")
    # Fail closed: an unknown goal status is paused, never active (the original's later rule).
    assert goal is not None and goal.status is ThreadGoalStatus.PAUSED


def test_garbage_current_leaf_is_corrupt_data(
    sqlite_store: StateStore, raw: sqlite3.Connection
) -> None:
    sqlite_store.upsert_thread(_thread())
    # The seed stored any text here; such a row must not read as a valid thread.
    raw.execute("UPDATE threads SET current_leaf_id = 'not-a-number'")
    with pytest.raises(CorruptData) as caught:
        sqlite_store.get_thread("t1")
    assert caught.value.table == "threads" and "t1" in caught.value.row
    with pytest.raises(CorruptData):
        sqlite_store.append_message("t1", "user", "x")
    # A numeric text is stored as an integer by column affinity, as in the original.
    raw.execute("UPDATE threads SET current_leaf_id = '7'")
    thread = sqlite_store.get_thread("t1")
    assert thread is not None and thread.current_leaf_id == 7


def test_delete_thread_removes_rows_orphaned_by_the_original(
    sqlite_store: StateStore, raw: sqlite3.Connection
) -> None:
    # The seed deleted threads with foreign keys off; deleting again cleans up.
    raw.execute("INSERT INTO checkpoints VALUES ('ghost', 'c', '1', 1)")
    raw.execute(
        "INSERT INTO messages(thread_id, role, content, created_at) VALUES ('ghost', 'u', 'x', 1)"
    )
    assert sqlite_store.load_checkpoint("ghost") is not None
    assert sqlite_store.delete_thread("ghost") is True
    assert sqlite_store.load_checkpoint("ghost") is None
    assert sqlite_store.list_all_messages("ghost") == []


def test_foreign_keys_cascade_at_the_sql_level(
    sqlite_store: StateStore, raw: sqlite3.Connection
) -> None:
    sqlite_store.upsert_thread(_thread())
    sqlite_store.append_message("t1", "user", "x")
    conn = cast(SqliteBackend, sqlite_store.backend).connection()
    conn.execute("DELETE FROM threads WHERE id = 't1'")
    assert raw.execute("SELECT count(*) FROM messages").fetchone()[0] == 0


# -- default location ---------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake home directory, with CODEWHALE_HOME unset."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CODEWHALE_HOME", raising=False)
    return home


def test_default_path_is_codewhale(home: Path) -> None:
    assert default_state_db_path() == home / ".codewhale" / "state.db"
    with StateStore.open() as store:
        assert store.db_path() == home / ".codewhale" / "state.db"
        store.upsert_thread(_thread())
    assert (home / ".codewhale" / "state.db").is_file()
    assert (home / ".codewhale" / "session_index.jsonl").is_file()
    assert _mode(home / ".codewhale") == 0o700


def test_default_path_falls_back_to_legacy_deepseek(home: Path) -> None:
    legacy = home / ".deepseek" / "state.db"
    legacy.parent.mkdir()
    StateStore.open(legacy).close()
    assert default_state_db_path() == legacy
    with StateStore.open() as store:
        assert store.db_path() == legacy
    # Once the primary exists, it wins.
    primary = home / ".codewhale" / "state.db"
    StateStore.open(primary).close()
    assert default_state_db_path() == primary


def test_codewhale_home_wins_without_fallback(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy = home / ".deepseek" / "state.db"
    legacy.parent.mkdir()
    StateStore.open(legacy).close()
    custom = tmp_path / "custom"
    monkeypatch.setenv("CODEWHALE_HOME", str(custom))
    assert default_state_db_path() == custom / "state.db"
    with StateStore.open() as store:
        assert store.db_path() == custom / "state.db"
    assert _mode(custom) == 0o700


def test_default_path_takes_an_environment_mapping(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "CODEWHALE_HOME": ""}
    assert default_state_db_path(env) == tmp_path / ".codewhale" / "state.db"
    env["CODEWHALE_HOME"] = str(tmp_path / "x")
    assert default_state_db_path(env) == tmp_path / "x" / "state.db"


# -- permissions --------------------------------------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Umask 0, so only explicit modes keep files private."""
    old = os.umask(0)
    yield
    os.umask(old)


@pytest.mark.usefixtures("open_umask")
def test_new_directories_0700_and_files_0600(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "state.db"
    with StateStore.open(db) as store:
        store.upsert_thread(_thread())
        store.append_message("t1", "user", "secret")
    assert _mode(tmp_path / "a") == 0o700
    assert _mode(tmp_path / "a" / "b") == 0o700
    for name in ("state.db", "session_index.jsonl", "session_index.jsonl.lock"):
        assert _mode(db.parent / name) == 0o600, name
    for extra in db.parent.glob("state.db-*"):
        assert _mode(extra) == 0o600, extra.name


@pytest.mark.usefixtures("open_umask")
def test_existing_permissions_are_never_loosened_or_changed(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o750)
    os.chmod(folder, 0o750)
    db = folder / "state.db"
    StateStore.open(db).close()
    index = folder / "session_index.jsonl"
    index.write_bytes(b"")
    os.chmod(db, 0o640)
    os.chmod(index, 0o644)
    with StateStore.open(db) as store:
        store.upsert_thread(_thread())
        store.compact_session_index()
    assert _mode(folder) == 0o750
    assert _mode(db) == 0o640
    # Compaction replaces the file; the replacement keeps the user's chosen mode.
    assert _mode(index) == 0o644


# -- connections and pragmas --------------------------------------------------------


@pytest.mark.parametrize(("durability", "level"), [("normal", 1), ("full", 2)])
def test_durability_pragmas(tmp_path: Path, durability: str, level: int) -> None:
    with StateStore.open(tmp_path / "state.db", durability=durability) as store:
        assert _pragma(store, "synchronous") == level
        assert _pragma(store, "journal_mode") == "wal"
        assert _pragma(store, "foreign_keys") == 1
        assert _pragma(store, "busy_timeout") == 5000


def test_busy_timeout_option(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "state.db", busy_timeout=0.25) as store:
        assert _pragma(store, "busy_timeout") == 250


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"durability": "fast"}, ValueError),
        ({"busy_timeout": -1}, ValueError),
        ({"busy_timeout": True}, ValueError),
        ({"pool_size": 3}, TypeError),
    ],
)
def test_bad_open_options(tmp_path: Path, options: dict[str, Any], error: type) -> None:
    # Both the built-in class (for callers that catch it) and threadloom's base class.
    with pytest.raises(error) as raised:
        StateStore.open(tmp_path / "state.db", **options)
    assert isinstance(raised.value, ThreadloomError)
    assert not (tmp_path / "state.db").exists()


def test_directory_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ThreadloomError, match="directory"):
        StateStore.open(tmp_path)


def test_db_path_and_repr(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "state.db") as store:
        assert store.db_path() == tmp_path / "state.db"
        assert "state.db" in repr(store)


def test_write_lock_held_elsewhere_raises_store_busy(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with StateStore.open(db, busy_timeout=0.05) as store:
        store.upsert_thread(_thread())
        other = sqlite3.connect(db, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(StoreBusy):
                store.append_message("t1", "user", "x")
            other.execute("ROLLBACK")
        finally:
            other.close()
        store.append_message("t1", "user", "now it works")
        assert len(store.list_messages("t1")) == 1


def test_two_stores_on_one_file_see_each_other(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with StateStore.open(db) as first, StateStore.open(db) as second:
        first.upsert_thread(_thread(name="Shared"))
        mid = second.append_message("t1", "user", "from second")
        assert [m.id for m in first.list_messages("t1")] == [mid]
        assert second.find_thread_name_by_id("t1") == "Shared"


def test_threads_share_one_store(sqlite_store: StateStore) -> None:
    sqlite_store.upsert_thread(_thread("shared"))
    per_thread = 40
    workers = 4
    errors: list[BaseException] = []
    connections: set[int] = set()
    guard = threading.Lock()

    def work(n: int) -> None:
        try:
            own = f"own{n}"
            sqlite_store.upsert_thread(_thread(own))
            for k in range(per_thread):
                sqlite_store.append_message(own, "user", str(k))
                sqlite_store.append_message("shared", "user", f"{n}:{k}")
                sqlite_store.save_checkpoint(own, "latest", {"k": k})
            with guard:
                connections.add(id(cast(SqliteBackend, sqlite_store.backend).connection()))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(connections) == workers
    for n in range(workers):
        assert [m.content for m in sqlite_store.list_messages(f"own{n}")] == [
            str(k) for k in range(per_thread)
        ]
        checkpoint = sqlite_store.load_checkpoint(f"own{n}")
        assert checkpoint is not None and checkpoint.state == {"k": per_thread - 1}
    # Appends to one thread from several threads still form a single chain.
    shared = sqlite_store.list_messages("shared", 10_000)
    assert len(shared) == per_thread * workers
    assert all(b.parent_entry_id == a.id for a, b in itertools.pairwise(shared))


def test_store_survives_fork(sqlite_store: StateStore) -> None:
    sqlite_store.upsert_thread(_thread())
    sqlite_store.append_message("t1", "user", "parent")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            sqlite_store.append_message("t1", "user", "child")
            sqlite_store.append_thread_name("t1", "From child", 5)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [m.content for m in sqlite_store.list_messages("t1")] == ["parent", "child"]
    assert sqlite_store.find_thread_name_by_id("t1") == "From child"


def test_every_write_begins_immediate(sqlite_store: StateStore) -> None:
    statements: list[str] = []
    conn = cast(SqliteBackend, sqlite_store.backend).connection()
    conn.set_trace_callback(statements.append)
    try:
        sqlite_store.upsert_thread(_thread())
        message = sqlite_store.append_message("t1", "user", "x")
        sqlite_store.fork_at_message(message, "user", "y")
        sqlite_store.save_checkpoint("t1", "c", 1)
        sqlite_store.upsert_job(
            JobStateRecord.from_dict(
                {"id": "j", "name": "n", "status": "queued", "created_at": 1, "updated_at": 1}
            )
        )
        sqlite_store.delete_thread("t1")
    finally:
        conn.set_trace_callback(None)
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE"] * 6
    assert statements.count("COMMIT") == 6


# -- read-only open ----------------------------------------------------------------

_LEGACY = Path(__file__).parent / "fixtures"


def _everything(store: StateStore) -> dict[str, Any]:
    """Every read the store offers, over every thread (to compare two opens)."""
    threads = store.list_threads(include_archived=True, limit=1000)
    out: dict[str, Any] = {"threads": threads, "jobs": store.list_jobs(1000)}
    reads: tuple[Callable[[str], Any], ...] = (
        lambda tid: store.list_messages(tid, 10_000),
        store.list_all_messages,
        store.list_leaf_messages,
        lambda tid: store.list_checkpoints(tid, 1000),
        store.get_dynamic_tools,
        store.get_thread_goal,
    )
    for t in threads:
        for read in reads:
            try:
                value: Any = read(t.id)
            except CorruptData as exc:  # the fixtures hold bad JSON on purpose
                value = str(exc)
            out.setdefault(t.id, []).append(value)
    return out


def _legacy_copy(tmp_path: Path, name: str) -> Path:
    if name == "seed_v3":
        from tests.support.shared import require_fixtures

        source = require_fixtures() / "seed_v3" / "state.db"
    else:
        source = _LEGACY / f"{name}.db"
    folder = tmp_path / name
    folder.mkdir()
    target = folder / "state.db"
    target.write_bytes(source.read_bytes())
    target.chmod(0o640)
    return target


@pytest.mark.parametrize("name", ["legacy_v0", "legacy_v1", "legacy_v2", "seed_v3"])
def test_read_only_reads_a_file_that_needs_schema_steps_as_if_migrated(
    tmp_path: Path, name: str
) -> None:
    path = _legacy_copy(tmp_path, name)
    before = file_state(path)
    assert before[2] == "delete"  # a rollback-journal file: WAL would be a change
    with StateStore.open(path, read_only=True) as reader:
        pending = [step.name for step in reader.schema_info().pending]
        seen = _everything(reader)
    assert pending  # every one of these files needs steps
    assert file_state(path) == before
    migrated = path.with_name("migrated.db")
    migrated.write_bytes(path.read_bytes())
    with StateStore.open(migrated) as writer:
        assert seen == _everything(writer)
    assert seen["threads"]


def test_read_only_refuses_every_write_and_changes_nothing(tmp_path: Path) -> None:
    from threadloom import NotFound, ReadOnlyStore

    path = _legacy_copy(tmp_path, "legacy_v2")
    with StateStore.open(path, read_only=True) as reader:
        thread = reader.list_threads(include_archived=True, limit=1)[0]
        leaf = reader.list_messages(thread.id, 1)[0].id
        before = file_state(path)
        writes: list[Callable[[], object]] = [
            lambda: reader.upsert_thread(thread),
            lambda: reader.append_message(thread.id, "user", "hi"),
            lambda: reader.fork_at_message(leaf, "user", "hi"),
            lambda: reader.set_current_leaf_id(thread.id, leaf),
            lambda: reader.save_checkpoint(thread.id, "latest", {"a": 1}),
            lambda: reader.mark_archived(thread.id),
            lambda: reader.delete_thread(thread.id),
            lambda: reader.upsert_job(
                JobStateRecord(
                    id="j",
                    name="job",
                    status=JobStateStatus.QUEUED,
                    progress=None,
                    detail=None,
                    created_at=1,
                    updated_at=1,
                )
            ),
            lambda: reader.append_thread_name(thread.id, "name", 1),
            reader.compact_session_index,
            reader.migrate,
        ]
        for write in writes:
            with pytest.raises(ReadOnlyStore, match="read-only"):
                write()
        with pytest.raises(ReadOnlyStore), reader.transaction():
            pass
        assert reader.get_thread(thread.id) == thread
    assert file_state(path) == before
    # Nothing is created either: not the file, not its folder.
    missing = tmp_path / "nowhere" / "state.db"
    with pytest.raises(NotFound, match="no database at"):
        StateStore.open(missing, read_only=True)
    assert not missing.parent.exists()


def test_read_only_refuses_empty_and_foreign_files_untouched(tmp_path: Path) -> None:
    from threadloom import SchemaError

    empty = tmp_path / "empty.db"
    empty.touch()
    text = tmp_path / "notes.db"
    text.write_text("not a database\n" * 100)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    conn.close()
    states = {p: file_state(p) for p in (empty, text, other)}
    with pytest.raises(SchemaError, match=r"empty file \(0 bytes\)"):
        StateStore.open(empty, read_only=True)
    with pytest.raises(CorruptData, match="not a database"):
        StateStore.open(text, read_only=True)
    with pytest.raises(SchemaError, match="no threads table"):
        StateStore.open(other, read_only=True)
    for path, state in states.items():
        assert file_state(path) == state


def test_read_only_reader_sees_a_live_writers_commits(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as writer:
        writer.upsert_thread(_thread("t1"))
        writer.append_message("t1", "user", "one")
        with StateStore.open(path, read_only=True) as reader:
            assert [m.content for m in reader.list_messages("t1", 10)] == ["one"]
            writer.append_message("t1", "assistant", "two")
            assert [m.content for m in reader.list_messages("t1", 10)] == ["one", "two"]
            assert reader.find_thread_name_by_id("t1") is None
