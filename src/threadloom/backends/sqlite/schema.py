"""The SQLite schema and its migrations.

``PRAGMA user_version`` keeps the meaning the original gave it: the original's schema
version (0 to 3 in the seed, 4 after its later ``continuation_count`` addition). Every
step is applied in its own ``BEGIN IMMEDIATE`` transaction together with its version
bump, so a crash leaves the database at a whole version, and two processes opening a
fresh database at once migrate it once (the second re-reads the version under the
write lock and finds nothing to do).

What is ours alone (not the original's) lives in tables prefixed ``threadloom_``, with
their own version in ``threadloom_meta``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import SchemaError
from ..common.schema import TRACE_INDEXES
from .connection import translate_errors

__all__ = [
    "OWN_SCHEMA_VERSION",
    "SCHEMA_VERSION",
    "Migration",
    "MigrationPlan",
    "apply_migrations",
    "plan_migrations",
    "prepare_read_only",
    "run_statements",
]

#: The newest original schema version this threadloom knows.
SCHEMA_VERSION = 4
#: The version of threadloom's own tables.
OWN_SCHEMA_VERSION = 3

_THREADS_V0: tuple[str, ...] = (
    """
CREATE TABLE IF NOT EXISTS threads (
    id TEXT PRIMARY KEY,
    rollout_path TEXT,
    preview TEXT NOT NULL,
    ephemeral INTEGER NOT NULL,
    model_provider TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    path TEXT,
    cwd TEXT NOT NULL,
    cli_version TEXT NOT NULL,
    source TEXT NOT NULL,
    title TEXT,
    sandbox_policy TEXT,
    approval_mode TEXT,
    archived INTEGER NOT NULL DEFAULT 0,
    archived_at INTEGER,
    git_sha TEXT,
    git_branch TEXT,
    git_origin_url TEXT,
    memory_mode TEXT
)
""",
    "CREATE INDEX IF NOT EXISTS idx_threads_updated_at ON threads(updated_at DESC)",
    "CREATE INDEX IF NOT EXISTS idx_threads_archived_at ON threads(archived_at DESC)",
    "CREATE INDEX IF NOT EXISTS idx_threads_archived_updated ON threads(archived, updated_at DESC)",
    """
CREATE TABLE IF NOT EXISTS thread_dynamic_tools (
    thread_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    input_schema TEXT NOT NULL,
    PRIMARY KEY (thread_id, position),
    FOREIGN KEY(thread_id) REFERENCES threads(id) ON DELETE CASCADE
)
""",
    """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    item_json TEXT,
    created_at INTEGER NOT NULL,
    FOREIGN KEY(thread_id) REFERENCES threads(id) ON DELETE CASCADE
)
""",
    "CREATE INDEX IF NOT EXISTS idx_messages_thread_created_at ON messages(thread_id, created_at ASC)",
    """
CREATE TABLE IF NOT EXISTS checkpoints (
    thread_id TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    state_json TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY(thread_id, checkpoint_id),
    FOREIGN KEY(thread_id) REFERENCES threads(id) ON DELETE CASCADE
)
""",
    "CREATE INDEX IF NOT EXISTS idx_checkpoints_thread_created_at ON checkpoints(thread_id, created_at DESC)",
    """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    progress INTEGER,
    detail TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
)
""",
    "CREATE INDEX IF NOT EXISTS idx_jobs_updated_at ON jobs(updated_at DESC)",
)

_WORKFLOW_V2: tuple[str, ...] = (
    """
CREATE TABLE IF NOT EXISTS workflow_runs (
    id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    goal TEXT NOT NULL,
    status TEXT NOT NULL,
    input_hash TEXT,
    started_at INTEGER NOT NULL,
    completed_at INTEGER,
    metadata_json TEXT NOT NULL DEFAULT '{}'
)
""",
    TRACE_INDEXES["idx_workflow_runs_status_started_at"],
    TRACE_INDEXES["idx_workflow_runs_workflow_started_at"],
    """
CREATE TABLE IF NOT EXISTS branch_runs (
    id TEXT PRIMARY KEY,
    workflow_run_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    completed_at INTEGER,
    result_json TEXT NOT NULL DEFAULT '{}',
    FOREIGN KEY(workflow_run_id) REFERENCES workflow_runs(id) ON DELETE CASCADE
)
""",
    "CREATE INDEX IF NOT EXISTS idx_branch_runs_workflow_run_id ON branch_runs(workflow_run_id)",
    "CREATE INDEX IF NOT EXISTS idx_branch_runs_branch_id ON branch_runs(branch_id)",
    """
CREATE TABLE IF NOT EXISTS leaf_runs (
    id TEXT PRIMARY KEY,
    workflow_run_id TEXT NOT NULL,
    branch_run_id TEXT,
    leaf_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    input_hash TEXT,
    status TEXT NOT NULL,
    output_json TEXT NOT NULL DEFAULT '{}',
    artifacts_json TEXT NOT NULL DEFAULT '[]',
    started_at INTEGER NOT NULL,
    completed_at INTEGER,
    FOREIGN KEY(workflow_run_id) REFERENCES workflow_runs(id) ON DELETE CASCADE,
    FOREIGN KEY(branch_run_id) REFERENCES branch_runs(id) ON DELETE SET NULL
)
""",
    "CREATE INDEX IF NOT EXISTS idx_leaf_runs_workflow_run_id ON leaf_runs(workflow_run_id)",
    TRACE_INDEXES["idx_leaf_runs_replay_lookup"],
    """
CREATE TABLE IF NOT EXISTS control_node_runs (
    id TEXT PRIMARY KEY,
    workflow_run_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    selected_children_json TEXT NOT NULL DEFAULT '[]',
    result_json TEXT NOT NULL DEFAULT '{}',
    started_at INTEGER NOT NULL,
    completed_at INTEGER,
    FOREIGN KEY(workflow_run_id) REFERENCES workflow_runs(id) ON DELETE CASCADE
)
""",
    TRACE_INDEXES["idx_control_node_runs_workflow_run_id"],
    "CREATE INDEX IF NOT EXISTS idx_control_node_runs_node_id ON control_node_runs(node_id)",
    """
CREATE TABLE IF NOT EXISTS teacher_candidates (
    id TEXT PRIMARY KEY,
    workflow_run_id TEXT NOT NULL,
    control_node_run_id TEXT NOT NULL,
    candidate_id TEXT NOT NULL,
    branch_run_id TEXT,
    score REAL,
    passed INTEGER,
    rationale_json TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    FOREIGN KEY(workflow_run_id) REFERENCES workflow_runs(id) ON DELETE CASCADE,
    FOREIGN KEY(control_node_run_id) REFERENCES control_node_runs(id) ON DELETE CASCADE,
    FOREIGN KEY(branch_run_id) REFERENCES branch_runs(id) ON DELETE SET NULL
)
""",
    TRACE_INDEXES["idx_teacher_candidates_workflow_run_id"],
    TRACE_INDEXES["idx_teacher_candidates_control_node_run_id"],
)

_GOALS_V3: tuple[str, ...] = (
    """
CREATE TABLE IF NOT EXISTS thread_goals (
    thread_id TEXT PRIMARY KEY NOT NULL,
    goal_id TEXT NOT NULL,
    objective TEXT NOT NULL,
    status TEXT NOT NULL CHECK(status IN (
        'active', 'paused', 'blocked', 'usage_limited', 'budget_limited', 'complete'
    )),
    token_budget INTEGER,
    tokens_used INTEGER NOT NULL DEFAULT 0,
    time_used_seconds INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    FOREIGN KEY(thread_id) REFERENCES threads(id) ON DELETE CASCADE
)
""",
)

_OWN_V1: tuple[str, ...] = (
    """
CREATE TABLE IF NOT EXISTS threadloom_meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
)
""",
)

# Threads this database deleted. session_index.jsonl is shared by every database in
# its folder, so an entry of a thread that is not in this database may well belong to
# a sibling database: only an id recorded here proves the entry was ours to drop.
_OWN_V2: tuple[str, ...] = (
    """
CREATE TABLE IF NOT EXISTS threadloom_deleted_threads (
    thread_id TEXT PRIMARY KEY NOT NULL,
    deleted_at INTEGER NOT NULL
)
""",
)

# Data lifecycle (issue 17): idempotency keys of retried writes (deleted with their
# thread) and threadloom's stored settings (the retention policy, encryption key ids).
_OWN_V3: tuple[str, ...] = (
    """
CREATE TABLE IF NOT EXISTS threadloom_idempotency_keys (
    thread_id TEXT NOT NULL,
    key TEXT NOT NULL,
    operation TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    result TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (thread_id, key),
    FOREIGN KEY(thread_id) REFERENCES threads(id) ON DELETE CASCADE
)
""",
    "CREATE INDEX IF NOT EXISTS idx_threadloom_idempotency_keys_created_at "
    "ON threadloom_idempotency_keys(created_at)",
    """
CREATE TABLE IF NOT EXISTS threadloom_settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL
)
""",
)


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def run_statements(conn: sqlite3.Connection, statements: Sequence[str]) -> None:
    """Execute a step's statements, one ``execute()`` each, inside the open transaction.

    A step is a tuple of whole statements rather than one script split on ``;``: a
    trigger body or a string literal may hold a ``;`` of its own. executescript() is
    no option either: it would COMMIT the open transaction first.
    """
    for statement in statements:
        conn.execute(statement)


def _to_v1(conn: sqlite3.Connection) -> None:
    """The message tree columns, after the original's base tables (``_THREADS_V0``).

    A database made before versioning may already have the tree columns; the original
    fails on such a file (``duplicate column name``), we add only what is missing.
    """
    if "parent_entry_id" not in _columns(conn, "messages"):
        conn.execute("ALTER TABLE messages ADD COLUMN parent_entry_id INTEGER NULL")
        # Each message's parent is the message before it in its thread, by
        # (created_at, id): the original's rule.
        conn.execute(
            """
            UPDATE messages SET parent_entry_id = (
                SELECT m2.id FROM messages m2
                WHERE m2.thread_id = messages.thread_id
                  AND (m2.created_at < messages.created_at
                       OR (m2.created_at = messages.created_at AND m2.id < messages.id))
                ORDER BY m2.created_at DESC, m2.id DESC
                LIMIT 1
            )
            """
        )
    conn.execute(
        "CREATE INDEX IF NOT EXISTS idx_messages_parent_entry_id ON messages(parent_entry_id)"
    )
    if "current_leaf_id" not in _columns(conn, "threads"):
        conn.execute("ALTER TABLE threads ADD COLUMN current_leaf_id INTEGER NULL")
        # Improvement over the original: the leaf is the end of the chain built above
        # (last by created_at, then id). The original took the largest id, which drops
        # the newest message off the active branch when ids and times disagree.
        conn.execute(
            """
            UPDATE threads SET current_leaf_id = (
                SELECT m.id FROM messages m
                WHERE m.thread_id = threads.id
                ORDER BY m.created_at DESC, m.id DESC
                LIMIT 1
            )
            """
        )


def _to_v4(conn: sqlite3.Connection) -> None:
    """The original's later ``continuation_count`` on goals."""
    if "continuation_count" not in _columns(conn, "thread_goals"):
        conn.execute(
            "ALTER TABLE thread_goals ADD COLUMN continuation_count INTEGER NOT NULL DEFAULT 0"
        )


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered, append-only schema step.


    Attributes:
        version: The version the step brings the database to.
        description: What it adds (``threadloom migrate`` shows it).
        statements: Whole SQL statements, run in order.
        then: Python work after them (a column added only where missing, data derived).
        own: A step of threadloom's own tables (``threadloom_meta``) rather than the
            original's (``PRAGMA user_version``).
    """

    version: int
    description: str
    statements: tuple[str, ...] = ()
    then: Callable[[sqlite3.Connection], None] | None = None
    own: bool = False

    @property
    def name(self) -> str:
        """``v3`` for the original's steps, ``threadloom-v1`` for ours."""
        return f"threadloom-v{self.version}" if self.own else f"v{self.version}"

    def apply(self, conn: sqlite3.Connection) -> None:
        """Run the step inside the caller's transaction (without its version bump)."""
        run_statements(conn, self.statements)
        if self.then is not None:
            self.then(conn)


#: The original's steps, in order; append only.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "threads, messages, checkpoints, jobs, dynamic tools; message tree",
        _THREADS_V0,
        then=_to_v1,
    ),
    Migration(2, "workflow trace tables", _WORKFLOW_V2),
    Migration(3, "thread goals", _GOALS_V3),
    Migration(4, "goal continuation count", then=_to_v4),
)
#: threadloom's own steps, in order; append only.
OWN_MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "threadloom_meta table", _OWN_V1, own=True),
    Migration(2, "threadloom_deleted_threads table", _OWN_V2, own=True),
    Migration(3, "idempotency keys and settings tables", _OWN_V3, own=True),
)


@dataclass(frozen=True, slots=True)
class MigrationPlan:
    """What a database has and what opening it would apply."""

    schema_version: int
    own_version: int
    applied: tuple[Migration, ...]
    pending: tuple[Migration, ...]


def _own_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'threadloom_meta'"
    ).fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT value FROM threadloom_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row is not None else 0


def _check_supported(version: int, own: int, path: Path | str) -> None:
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"{path} has schema version {version}, newer than {SCHEMA_VERSION}, the newest "
            "this threadloom knows; upgrade threadloom (the file was left untouched)",
            found=version,
            supported=SCHEMA_VERSION,
        )
    if own > OWN_SCHEMA_VERSION:
        raise SchemaError(
            f"{path} has threadloom table version {own}, newer than {OWN_SCHEMA_VERSION}; "
            "upgrade threadloom (the file was left untouched)",
            found=own,
            supported=OWN_SCHEMA_VERSION,
        )


def plan_migrations(conn: sqlite3.Connection, path: Path | str) -> MigrationPlan:
    """Read (never write) which steps a database has and which are pending.

    Raises:
        SchemaError: The database is newer than this threadloom.
        CorruptData: The file is not a SQLite database.
    """
    with translate_errors("failed to read the schema version", path):
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        own = _own_version(conn)
    _check_supported(version, own, path)
    return MigrationPlan(
        schema_version=version,
        own_version=own,
        applied=tuple(m for m in MIGRATIONS if m.version <= version)
        + tuple(m for m in OWN_MIGRATIONS if m.version <= own),
        pending=tuple(m for m in MIGRATIONS if m.version > version)
        + tuple(m for m in OWN_MIGRATIONS if m.version > own),
    )


def apply_migrations(conn: sqlite3.Connection, path: Path | str) -> list[Migration]:
    """Apply every pending step, each in its own transaction with its version bump.

    Returns:
        The steps applied by this call (empty when another process got there first).

    Raises:
        SchemaError: The database is newer than this threadloom.
        StoreBusy: Another process held the write lock past the busy timeout.
    """
    applied: list[Migration] = []
    plan = plan_migrations(conn, path)
    if not plan.pending:
        return applied
    for migration in plan.pending:
        with translate_errors(f"failed to apply schema step {migration.name}", path):
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Re-read under the write lock: another process may have migrated.
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                own = _own_version(conn)
                _check_supported(version, own, path)
                current = own if migration.own else version
                if current >= migration.version:
                    conn.execute("ROLLBACK")
                    continue
                migration.apply(conn)
                if migration.own:
                    conn.execute(
                        "INSERT INTO threadloom_meta(key, value) VALUES ('schema_version', ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (str(migration.version),),
                    )
                else:
                    conn.execute(f"PRAGMA user_version = {migration.version}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        applied.append(migration)
    return applied


# -- reading a database that needs schema steps, without writing it ------------------

#: Columns later steps added, computed the way those steps fill them (``t`` is the
#: table's row; ``messages`` resolves to the overlay view when there is one).
_DERIVED_COLUMNS: dict[str, dict[str, str]] = {
    "messages": {
        "parent_entry_id": (
            "(SELECT m2.id FROM main.messages m2 WHERE m2.thread_id = t.thread_id AND "
            "(m2.created_at < t.created_at OR (m2.created_at = t.created_at AND m2.id < t.id)) "
            "ORDER BY m2.created_at DESC, m2.id DESC LIMIT 1)"
        ),
    },
    "threads": {
        "current_leaf_id": (
            "(SELECT m.id FROM messages m WHERE m.thread_id = t.id "
            "ORDER BY m.created_at DESC, m.id DESC LIMIT 1)"
        ),
    },
    "thread_goals": {"continuation_count": "0"},
}


def _temp_tables() -> dict[str, str]:
    """Every table the steps create, as a ``CREATE TEMP TABLE`` statement, by name."""
    out = {}
    for statements in (_THREADS_V0, _WORKFLOW_V2, _GOALS_V3, _OWN_V1, _OWN_V2, _OWN_V3):
        for statement in statements:
            words = statement.split()
            if words[:2] == ["CREATE", "TABLE"]:
                out[words[5]] = statement.replace("CREATE TABLE IF NOT EXISTS", "CREATE TEMP TABLE")
    return out


#: What a read-only connection creates for a table a pending step would add.
_TEMP_TABLES = _temp_tables()


def prepare_read_only(conn: sqlite3.Connection, path: Path | str) -> MigrationPlan:
    """Make a database that needs schema steps readable as if they were applied.

    Nothing is written to the file: what a pending step would add is overlaid with
    TEMP objects of this connection only (they shadow ``main``'s for unqualified
    names). A missing table becomes an empty TEMP table; a missing column becomes a
    TEMP view of the table that computes it as the step would (the v0 message tree
    from ``created_at`` order, goals' ``continuation_count`` as 0). Reads then give
    what they would give after ``threadloom migrate``.

    Returns:
        The database's migration plan.

    Raises:
        SchemaError: The database is newer than this threadloom, empty, or has no
            ``threads`` table (not a threadloom or CodeWhale database).
        CorruptData: The file is not a SQLite database.
    """
    plan = plan_migrations(conn, path)
    with translate_errors("failed to read the schema", path):
        tables = {
            str(row[0])
            for row in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")
        }
        if "threads" not in tables:
            what = "an empty database" if not tables else "not a threadloom or CodeWhale database"
            raise SchemaError(
                f"{path} is {what} (it has no threads table)", found=plan.schema_version
            )
        if not plan.pending:
            return plan
        for table, statement in _TEMP_TABLES.items():
            if table not in tables:
                conn.execute(statement)
        for table, derived in _DERIVED_COLUMNS.items():
            schema = "main" if table in tables else "temp"
            present = {row[1] for row in conn.execute(f"PRAGMA {schema}.table_info({table})")}
            missing = {name: expr for name, expr in derived.items() if name not in present}
            if not missing:
                continue
            if schema == "temp":  # our own empty table: a plain column will do
                for name in missing:
                    conn.execute(f"ALTER TABLE temp.{table} ADD COLUMN {name} INTEGER")
                continue
            extra = ", ".join(f"{expr} AS {name}" for name, expr in missing.items())
            # rowid is kept as a column: queries break ties on it, and a view has none.
            conn.execute(
                f"CREATE TEMP VIEW {table} AS SELECT t.rowid AS rowid, t.*, {extra} "
                f"FROM main.{table} AS t"
            )
    return plan
