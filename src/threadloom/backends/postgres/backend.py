"""The server backend: the store's tables in PostgreSQL, the session index in a table.

Semantics are the SQLite backend's (the contract suite runs on both). What differs is
how they are had:

- Appends to one thread serialize on the thread row (``FOR NO KEY UPDATE``: it
  excludes other appends and forks but not the foreign-key checks of checkpoint and
  tool writes, which take ``KEY SHARE``), so two writers never both read the same leaf
  and branch by accident; different threads never wait on each other. An append is
  one statement (lock, insert, move the leaf), so it is one round trip and atomic
  even on an autocommit connection.
- Ties on the second-resolution timestamps break by ``seq`` (insertion order), the
  role SQLite's rowid plays; re-saving a checkpoint or a job renews it, as ``REPLACE``
  renews the rowid.
- Text is stored through :mod:`.nul` so NUL characters round-trip.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

import psycopg

from ...contract import MigrationStep, SchemaInfo, ToolRow
from ...errors import Conflict, InvalidRecord, NotFound, ReadOnlyStore, SchemaError
from ...records import (
    CheckpointRecord,
    DynamicToolRecord,
    JobStateRecord,
    MessageRecord,
    ThreadGoalRecord,
    ThreadMetadata,
)
from ..common.branch import PARENT, finish_branch
from ..common.rows import (
    GOAL_COLUMNS,
    JOB_COLUMNS,
    THREAD_COLUMNS,
    THREAD_WRITE_COLUMNS,
    checkpoint_from_row,
    goal_from_row,
    job_from_row,
    message_from_row,
    set_from_excluded,
    text_decoder,
    thread_from_row,
    tool_from_row,
)
from ..common.transactions import TransactionalBackend, schema_info_from, steps_from
from .connection import PgConnections
from .maintenance import PgMaintenance
from .nul import escape, escape_opt, unescape_row
from .schema import apply_migrations, plan_migrations
from .session_index import PgSessionIndex
from .traces import PgTraces
from .transfer import PgTransfer

__all__ = ["PostgresBackend"]

#: threadloom's record of the threads this schema deleted (step threadloom-v2).
_DELETED_TABLE = "threadloom_deleted_threads"

# JSON columns are read as their stored text and decoded by the shared row mappers.
_MESSAGE_COLUMNS = "id, thread_id, role, content, item_json::text, created_at, parent_entry_id"
_MESSAGE_JSON = (4,)
_CHECKPOINT_COLUMNS = "thread_id, checkpoint_id, state_json::text, created_at"
_CHECKPOINT_JSON = (2,)
_TOOL_COLUMNS = "position, name, description, input_schema::text"
_TOOL_JSON = (3,)

_UPSERT_THREAD = f"""
INSERT INTO threads ({", ".join(THREAD_WRITE_COLUMNS)})
VALUES ({", ".join(["%s"] * len(THREAD_WRITE_COLUMNS))})
ON CONFLICT (id) DO UPDATE SET
    {set_from_excluded(THREAD_WRITE_COLUMNS, key="id")}
"""

_LIST_THREADS_ALL = (
    f"SELECT {THREAD_COLUMNS} FROM threads ORDER BY updated_at DESC, seq DESC LIMIT %s"
)
_LIST_THREADS_LIVE = (
    f"SELECT {THREAD_COLUMNS} FROM threads WHERE archived = 0 "
    "ORDER BY updated_at DESC, seq DESC LIMIT %s"
)

# One statement: lock the thread row, insert under its leaf, move the leaf. In READ
# COMMITTED a writer that waited for the lock re-reads the row, so it sees the leaf
# the previous writer set.
_APPEND = """
WITH t AS (
    SELECT id, current_leaf_id FROM threads WHERE id = %(thread)s FOR NO KEY UPDATE
), ins AS (
    INSERT INTO messages (thread_id, role, content, item_json, created_at, parent_entry_id)
    SELECT t.id, %(role)s, %(content)s, %(item)s::json, %(now)s, t.current_leaf_id FROM t
    RETURNING id
), upd AS (
    UPDATE threads SET current_leaf_id = ins.id FROM ins WHERE threads.id = %(thread)s
)
SELECT id FROM ins
"""

# The current branch, walked up from a message inside the thread. Only links to an
# older (smaller) id of the same thread are followed, so the walk ends even on a
# corrupt chain; backends/common/branch.py finishes a walk such a link stopped.
_WALK_BRANCH = f"""
WITH RECURSIVE ancestors(id, thread_id, role, content, item_json, created_at,
                         parent_entry_id, depth) AS (
    SELECT {_MESSAGE_COLUMNS}, 0::bigint FROM messages
    WHERE id = {{start}} AND thread_id = %(thread)s
    UNION ALL
    SELECT m.id, m.thread_id, m.role, m.content, m.item_json::text, m.created_at,
           m.parent_entry_id, a.depth + 1
    FROM messages m JOIN ancestors a ON m.id = a.parent_entry_id
    WHERE a.depth < %(depth)s AND a.parent_entry_id < a.id AND m.thread_id = a.thread_id
)
SELECT id, thread_id, role, content, item_json, created_at, parent_entry_id
FROM ancestors ORDER BY depth DESC
"""
_LIST_BRANCH = _WALK_BRANCH.format(
    start="(SELECT current_leaf_id FROM threads WHERE id = %(thread)s)"
)
_LIST_BRANCH_FROM = _WALK_BRANCH.format(start="%(start)s")

_UPSERT_GOAL = f"""
INSERT INTO thread_goals ({GOAL_COLUMNS})
SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s WHERE EXISTS (SELECT 1 FROM threads WHERE id = %s)
ON CONFLICT (thread_id) DO UPDATE SET
    {set_from_excluded(GOAL_COLUMNS, key="thread_id")}
RETURNING 1
"""

_SAVE_CHECKPOINT = """
INSERT INTO checkpoints (thread_id, checkpoint_id, state_json, created_at)
SELECT id, %s, %s::json, %s FROM threads WHERE id = %s
ON CONFLICT (thread_id, checkpoint_id) DO UPDATE SET
    state_json = EXCLUDED.state_json,
    created_at = EXCLUDED.created_at,
    seq = nextval('threadloom_insert_seq')
RETURNING 1
"""

_UPSERT_JOB = f"""
INSERT INTO jobs ({JOB_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name,
    status = EXCLUDED.status,
    progress = EXCLUDED.progress,
    detail = EXCLUDED.detail,
    created_at = EXCLUDED.created_at,
    updated_at = EXCLUDED.updated_at,
    seq = nextval('threadloom_insert_seq')
"""


def _thread(row: Sequence[Any]) -> ThreadMetadata:
    return thread_from_row(unescape_row(row))


def _message(row: Sequence[Any]) -> MessageRecord:
    return message_from_row(unescape_row(row, _MESSAGE_JSON), text_decoder)


def _checkpoint(row: Sequence[Any]) -> CheckpointRecord:
    return checkpoint_from_row(unescape_row(row, _CHECKPOINT_JSON), text_decoder)


def _goal(row: Sequence[Any]) -> ThreadGoalRecord:
    return goal_from_row(unescape_row(row))


def _job(row: Sequence[Any]) -> JobStateRecord:
    return job_from_row(unescape_row(row))


class PostgresBackend(
    PgTraces, PgTransfer, PgMaintenance, TransactionalBackend[psycopg.Connection[Any]]
):
    """The store's tables in a PostgreSQL schema (the connection's ``search_path``).

    Open it with :meth:`open` (``StateStore.open`` does).
    """

    _conns: PgConnections

    def __init__(self, conns: PgConnections, *, migrate: bool = True) -> None:
        self._conns = conns
        self.location = conns.location
        self.read_only = conns.read_only
        self.session_index = PgSessionIndex(conns)
        try:
            if migrate and not self.read_only:
                apply_migrations(conns)
            else:
                plan = plan_migrations(conns)
                if self.read_only and plan.schema_version == 0:
                    # Reads of a schema without its tables would fail one by one (a
                    # later pending step is reported by schema_info() instead).
                    steps = ", ".join(step.name for step in plan.pending)
                    raise SchemaError(
                        f"the PostgreSQL schema at {self.location} needs schema steps "
                        f"({steps}) before it can be read: run `threadloom migrate`",
                        found=plan.schema_version,
                    )
        except BaseException:
            conns.close()
            raise

    @classmethod
    def open(
        cls,
        target: Any,
        *,
        durability: object = "normal",
        busy_timeout: float = 5.0,
        migrate: bool = True,
        pool_size: int = 10,
        pool_min_size: int = 1,
        pool_timeout: float = 30.0,
        connect_timeout: float = 5.0,
        prepare_threshold: int | None = 5,
        read_only: bool = False,
    ) -> PostgresBackend:
        """Open the backend on a DSN, a ``psycopg.Connection`` or a ``ConnectionPool``.

        Args:
            target: Where the data lives. A DSN opens a pool threadloom owns and closes;
                a connection or pool stays the caller's (``close()`` leaves it open).
            durability: ``"full"`` forces ``synchronous_commit=on`` on connections
                threadloom opens; ``"normal"`` keeps the server's setting.
            busy_timeout: Seconds to wait for a row lock (``lock_timeout``) before
                :class:`~threadloom.errors.StoreBusy`, on connections threadloom opens.
            migrate: Apply pending schema steps.
            pool_size: Most connections of an owned pool.
            pool_min_size: Connections an owned pool keeps open.
            pool_timeout: Seconds to wait for a free pooled connection.
            connect_timeout: Seconds to wait for the server.
            prepare_threshold: psycopg's ``prepare_threshold`` for connections threadloom
                opens; ``None`` turns prepared statements off (PgBouncer in
                transaction mode).
            read_only: Apply no schema step (a schema without our tables is refused) and
                run everything in ``READ ONLY`` transactions.

        Raises:
            ThreadloomError: ``target`` is not usable, or the server cannot be reached.
            SchemaError: The schema is newer than this threadloom.
            StoreBusy: Another process held the migration lock too long.
        """
        for name, value in (
            ("pool_size", pool_size),
            ("pool_min_size", pool_min_size),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidRecord(f"{name} must be a non-negative int, got {value!r}")
        if pool_size < 1:
            raise InvalidRecord(f"pool_size must be at least 1, got {pool_size}")
        conns = PgConnections(
            target,
            pool_size=pool_size,
            pool_min_size=pool_min_size,
            pool_timeout=pool_timeout,
            connect_timeout=connect_timeout,
            prepare_threshold=prepare_threshold,
            lock_timeout=busy_timeout,
            synchronous_commit=str(durability) == "full",
            read_only=read_only,
        )
        return cls(conns, migrate=migrate)

    # -- lifecycle ---------------------------------------------------------------

    @property
    def connections(self) -> PgConnections:
        """The connection source (for the workflow trace store and maintenance)."""
        return self._conns

    def close(self) -> None:
        """Close what threadloom opened; a caller's connection or pool stays open."""
        self._conns.close()
        self.session_index.close()

    def schema_info(self) -> SchemaInfo:
        """Schema versions and steps, read without writing."""
        return schema_info_from(plan_migrations(self._conns))

    def migrate(self) -> list[MigrationStep]:
        """Apply pending steps; those applied by this call.

        Raises:
            ReadOnlyStore: The store was opened read-only.
        """
        if self.read_only:
            raise ReadOnlyStore(f"cannot migrate {self.location}: the store was opened read-only")
        return steps_from(apply_migrations(self._conns))

    def _all(
        self, what: str, sql: str, params: Sequence[object] | Mapping[str, object] = ()
    ) -> list[tuple[Any, ...]]:
        with self._conns.call(what) as conn:
            return conn.execute(sql, params).fetchall()

    def _one(
        self,
        what: str,
        sql: str,
        params: Sequence[object] | Mapping[str, object] = (),
        *,
        writes: bool = False,
    ) -> tuple[Any, ...] | None:
        with self._conns.call(what, writes=writes) as conn:
            return conn.execute(sql, params).fetchone()

    def _count(self, what: str, sql: str, params: Sequence[object]) -> int:
        with self._conns.call(what, writes=True) as conn:
            return conn.execute(sql, params).rowcount

    # -- threads -----------------------------------------------------------------

    def upsert_thread(self, thread: ThreadMetadata) -> None:
        with self._conns.call(f"failed to upsert thread {thread.id}", writes=True) as conn:
            conn.execute(
                _UPSERT_THREAD,
                (
                    escape(thread.id),
                    escape_opt(thread.rollout_path),
                    escape(thread.preview),
                    int(thread.ephemeral),
                    escape(thread.model_provider),
                    thread.created_at,
                    thread.updated_at,
                    thread.status.value,
                    escape_opt(thread.path),
                    escape(thread.cwd),
                    escape(thread.cli_version),
                    thread.source.value,
                    escape_opt(thread.name),
                    escape_opt(thread.sandbox_policy),
                    escape_opt(thread.approval_mode),
                    int(thread.archived),
                    thread.archived_at,
                    escape_opt(thread.git_sha),
                    escape_opt(thread.git_branch),
                    escape_opt(thread.git_origin_url),
                    escape_opt(thread.memory_mode),
                ),
            )

    def get_thread(self, thread_id: str) -> ThreadMetadata | None:
        row = self._one(
            f"failed to read thread {thread_id}",
            f"SELECT {THREAD_COLUMNS} FROM threads WHERE id = %s",
            (escape(thread_id),),
        )
        return None if row is None else _thread(row)

    def list_threads(self, *, include_archived: bool, limit: int) -> list[ThreadMetadata]:
        rows = self._all(
            "failed to list threads",
            _LIST_THREADS_ALL if include_archived else _LIST_THREADS_LIVE,
            (limit,),
        )
        return [_thread(row) for row in rows]

    def iter_threads(self, *, include_archived: bool) -> Iterator[ThreadMetadata]:
        sql = _LIST_THREADS_ALL if include_archived else _LIST_THREADS_LIVE
        # LIMIT NULL is LIMIT ALL.
        for row in self._all("failed to list threads", sql, (None,)):
            yield _thread(row)

    def mark_archived(self, thread_id: str, now: int) -> bool:
        return (
            self._count(
                f"failed to archive thread {thread_id}",
                "UPDATE threads SET archived = 1, archived_at = %s, status = 'archived' "
                "WHERE id = %s",
                (now, escape(thread_id)),
            )
            > 0
        )

    def mark_unarchived(self, thread_id: str) -> bool:
        return (
            self._count(
                f"failed to unarchive thread {thread_id}",
                "UPDATE threads SET archived = 0, archived_at = NULL, "
                "status = CASE WHEN status = 'archived' THEN 'idle' ELSE status END "
                "WHERE id = %s",
                (escape(thread_id),),
            )
            > 0
        )

    def delete_thread(self, thread_id: str) -> bool:
        # Foreign keys cascade to messages, checkpoints, tools and the goal; they are
        # enforced here from the start, so no orphans of earlier deletes can exist.
        # The deletion is recorded in the same statement, as on SQLite, so repair may
        # drop the thread's session-index rows (a schema opened with migrate=False may
        # predate the table: then the delete goes unrecorded, and the rows stay).
        with self._conns.call(f"failed to delete thread {thread_id}", writes=True) as conn:
            row = conn.execute(f"SELECT to_regclass('{_DELETED_TABLE}') IS NOT NULL").fetchone()
            if row is None or not row[0]:
                return (
                    conn.execute("DELETE FROM threads WHERE id = %s", (escape(thread_id),)).rowcount
                    > 0
                )
            return (
                conn.execute(
                    f"WITH gone AS (DELETE FROM threads WHERE id = %s RETURNING id) "
                    f"INSERT INTO {_DELETED_TABLE} (thread_id, deleted_at) "
                    "SELECT id, extract(epoch FROM now())::bigint FROM gone "
                    "ON CONFLICT (thread_id) DO UPDATE SET deleted_at = excluded.deleted_at",
                    (escape(thread_id),),
                ).rowcount
                > 0
            )

    def deleted_threads(self, thread_ids: Collection[str]) -> set[str]:
        wanted = sorted({escape(t) for t in thread_ids})
        if not wanted:
            return set()
        with self._conns.call("failed to read the deleted threads") as conn:
            row = conn.execute(f"SELECT to_regclass('{_DELETED_TABLE}') IS NOT NULL").fetchone()
            if row is None or not row[0]:
                return set()
            rows = conn.execute(
                f"SELECT d.thread_id FROM {_DELETED_TABLE} d WHERE d.thread_id = ANY(%s) "
                "AND NOT EXISTS (SELECT 1 FROM threads t WHERE t.id = d.thread_id)",
                (wanted,),
            ).fetchall()
        return {unescape_row(r)[0] for r in rows}

    def set_thread_memory_mode(self, thread_id: str, mode: str | None) -> None:
        changed = self._count(
            f"failed to set memory mode of thread {thread_id}",
            "UPDATE threads SET memory_mode = %s WHERE id = %s",
            (escape_opt(mode), escape(thread_id)),
        )
        if changed == 0:
            raise NotFound(f"thread {thread_id} not found")

    def get_thread_memory_mode(self, thread_id: str) -> str | None:
        row = self._one(
            f"failed to read memory mode of thread {thread_id}",
            "SELECT memory_mode FROM threads WHERE id = %s",
            (escape(thread_id),),
        )
        return None if row is None else unescape_row(row)[0]

    def find_rollout_path_by_id(self, thread_id: str) -> str | None:
        row = self._one(
            f"failed to look up rollout path of thread {thread_id}",
            "SELECT rollout_path FROM threads WHERE id = %s",
            (escape(thread_id),),
        )
        return None if row is None else unescape_row(row)[0]

    # -- goals -------------------------------------------------------------------

    def upsert_thread_goal(self, goal: ThreadGoalRecord) -> None:
        thread_id = escape(goal.thread_id)
        row = self._one(
            f"failed to save goal of thread {goal.thread_id}",
            _UPSERT_GOAL,
            (
                thread_id,
                escape(goal.goal_id),
                escape(goal.objective),
                goal.status.value,
                goal.token_budget,
                goal.tokens_used,
                goal.time_used_seconds,
                goal.created_at,
                goal.updated_at,
                goal.continuation_count,
                thread_id,
            ),
            writes=True,
        )
        if row is None:
            raise NotFound(f"thread {goal.thread_id} not found")

    def get_thread_goal(self, thread_id: str) -> ThreadGoalRecord | None:
        row = self._one(
            f"failed to read goal of thread {thread_id}",
            f"SELECT {GOAL_COLUMNS} FROM thread_goals WHERE thread_id = %s",
            (escape(thread_id),),
        )
        return None if row is None else _goal(row)

    def delete_thread_goal(self, thread_id: str) -> bool:
        return (
            self._count(
                f"failed to delete goal of thread {thread_id}",
                "DELETE FROM thread_goals WHERE thread_id = %s",
                (escape(thread_id),),
            )
            > 0
        )

    def record_thread_goal_usage(
        self, thread_id: str, tokens_delta: int, seconds_delta: int, now: int
    ) -> ThreadGoalRecord | None:
        row = self._one(
            f"failed to record goal usage of thread {thread_id}",
            "UPDATE thread_goals SET tokens_used = tokens_used + %s, "
            "time_used_seconds = time_used_seconds + %s, "
            "updated_at = GREATEST(updated_at, %s) "
            f"WHERE thread_id = %s RETURNING {GOAL_COLUMNS}",
            (tokens_delta, seconds_delta, now, escape(thread_id)),
            writes=True,
        )
        return None if row is None else _goal(row)

    def record_thread_goal_continuation(self, thread_id: str) -> ThreadGoalRecord | None:
        row = self._one(
            f"failed to record goal continuation of thread {thread_id}",
            "UPDATE thread_goals SET continuation_count = continuation_count + 1 "
            f"WHERE thread_id = %s RETURNING {GOAL_COLUMNS}",
            (escape(thread_id),),
            writes=True,
        )
        return None if row is None else _goal(row)

    # -- messages ----------------------------------------------------------------

    def append_message(
        self, thread_id: str, role: str, content: str, item_json: str | None, now: int
    ) -> int:
        row = self._one(
            f"failed to append message to thread {thread_id}",
            _APPEND,
            {
                "thread": escape(thread_id),
                "role": escape(role),
                "content": escape(content),
                "item": item_json,
                "now": now,
            },
            writes=True,
        )
        if row is None:
            raise NotFound(f"thread {thread_id} not found")
        return int(row[0])

    def fork_at_message(
        self, message_id: int, role: str, content: str, item_json: str | None, now: int
    ) -> int:
        with self._conns.write(f"failed to fork at message {message_id}") as conn:
            row = conn.execute(
                "SELECT thread_id FROM messages WHERE id = %s", (message_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"message {message_id} not found")
            # Serialize with appends to the same thread: the fork moves the leaf too.
            locked = conn.execute(
                "SELECT 1 FROM threads WHERE id = %s FOR NO KEY UPDATE", (row[0],)
            ).fetchone()
            if locked is None:
                raise NotFound(f"thread of message {message_id} not found")
            inserted = conn.execute(
                "INSERT INTO messages (thread_id, role, content, item_json, created_at, "
                "parent_entry_id) VALUES (%s, %s, %s, %s::json, %s, %s) RETURNING id",
                (row[0], escape(role), escape(content), item_json, now, message_id),
            ).fetchone()
            assert inserted is not None
            conn.execute(
                "UPDATE threads SET current_leaf_id = %s WHERE id = %s", (inserted[0], row[0])
            )
            return int(inserted[0])

    def list_messages(self, thread_id: str, limit: int) -> list[MessageRecord]:
        if limit == 0:
            return []
        what = f"failed to list messages of thread {thread_id}"
        thread = escape(thread_id)
        rows = self._all(what, _LIST_BRANCH, {"thread": thread, "depth": limit - 1})
        if rows and len(rows) < limit and rows[0][PARENT] is not None:
            # The walk met a link that does not go to an older message: rare, so the
            # careful walk (cycle detection) is kept off the common path.
            rows = finish_branch(
                thread_id,
                rows,
                limit,
                lambda start, n: self._all(
                    what, _LIST_BRANCH_FROM, {"thread": thread, "depth": n - 1, "start": start}
                ),
            )
        return [_message(row) for row in rows]

    def list_leaf_messages(self, thread_id: str) -> list[MessageRecord]:
        rows = self._all(
            f"failed to list leaf messages of thread {thread_id}",
            "SELECT m1.id, m1.thread_id, m1.role, m1.content, m1.item_json::text, "
            "m1.created_at, m1.parent_entry_id FROM messages m1 "
            "WHERE m1.thread_id = %s AND NOT EXISTS "
            "(SELECT 1 FROM messages m2 WHERE m2.parent_entry_id = m1.id) ORDER BY m1.id",
            (escape(thread_id),),
        )
        return [_message(row) for row in rows]

    def list_all_messages(self, thread_id: str) -> list[MessageRecord]:
        rows = self._all(
            f"failed to list messages of thread {thread_id}",
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE thread_id = %s ORDER BY id",
            (escape(thread_id),),
        )
        return [_message(row) for row in rows]

    def set_current_leaf_id(self, thread_id: str, message_id: int) -> None:
        stored_id = escape(thread_id)
        with self._conns.write(f"failed to set the current leaf of thread {thread_id}") as conn:
            if (
                conn.execute(
                    "SELECT 1 FROM threads WHERE id = %s FOR NO KEY UPDATE", (stored_id,)
                ).fetchone()
                is None
            ):
                raise NotFound(f"thread {thread_id} not found")
            row = conn.execute(
                "SELECT thread_id FROM messages WHERE id = %s", (message_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"message {message_id} not found")
            if row[0] != stored_id:
                owner = unescape_row(row)[0]
                raise Conflict(
                    f"message {message_id} belongs to thread {owner}, not to thread {thread_id}"
                )
            conn.execute(
                "UPDATE threads SET current_leaf_id = %s WHERE id = %s", (message_id, stored_id)
            )

    def clear_messages(self, thread_id: str) -> int:
        stored_id = escape(thread_id)
        with self._conns.write(f"failed to clear messages of thread {thread_id}") as conn:
            conn.execute("UPDATE threads SET current_leaf_id = NULL WHERE id = %s", (stored_id,))
            return conn.execute("DELETE FROM messages WHERE thread_id = %s", (stored_id,)).rowcount

    # -- dynamic tools -----------------------------------------------------------

    def persist_dynamic_tools(self, thread_id: str, tools: Sequence[ToolRow]) -> None:
        seen: dict[int, str] = {}
        for tool in tools:
            if tool.position in seen:
                raise Conflict(
                    f"failed to persist dynamic tool {tool.name} of thread {thread_id}: "
                    f"position {tool.position} is used twice"
                )
            seen[tool.position] = tool.name
        stored_id = escape(thread_id)
        with self._conns.write(f"failed to persist dynamic tools of thread {thread_id}") as conn:
            if conn.execute("SELECT 1 FROM threads WHERE id = %s", (stored_id,)).fetchone() is None:
                raise NotFound(f"thread {thread_id} not found")
            conn.execute("DELETE FROM thread_dynamic_tools WHERE thread_id = %s", (stored_id,))
            if tools:
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO thread_dynamic_tools (thread_id, position, name, "
                        "description, input_schema) VALUES (%s, %s, %s, %s, %s::json)",
                        [
                            (
                                stored_id,
                                tool.position,
                                escape(tool.name),
                                escape_opt(tool.description),
                                tool.input_schema_json,
                            )
                            for tool in tools
                        ],
                    )

    def get_dynamic_tools(self, thread_id: str) -> list[DynamicToolRecord]:
        rows = self._all(
            f"failed to read dynamic tools of thread {thread_id}",
            f"SELECT {_TOOL_COLUMNS} FROM thread_dynamic_tools WHERE thread_id = %s "
            "ORDER BY position",
            (escape(thread_id),),
        )
        return [
            tool_from_row(unescape_row(row, _TOOL_JSON), thread_id, text_decoder) for row in rows
        ]

    # -- checkpoints -------------------------------------------------------------

    def save_checkpoint(
        self, thread_id: str, checkpoint_id: str, state_json: str, now: int
    ) -> None:
        row = self._one(
            f"failed to save checkpoint {checkpoint_id} of thread {thread_id}",
            _SAVE_CHECKPOINT,
            (escape(checkpoint_id), state_json, now, escape(thread_id)),
            writes=True,
        )
        if row is None:
            raise NotFound(f"thread {thread_id} not found")

    def load_checkpoint(self, thread_id: str, checkpoint_id: str | None) -> CheckpointRecord | None:
        if checkpoint_id is None:
            row = self._one(
                f"failed to load the latest checkpoint of thread {thread_id}",
                f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints WHERE thread_id = %s "
                "ORDER BY created_at DESC, seq DESC LIMIT 1",
                (escape(thread_id),),
            )
        else:
            row = self._one(
                f"failed to load checkpoint {checkpoint_id} of thread {thread_id}",
                f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints "
                "WHERE thread_id = %s AND checkpoint_id = %s",
                (escape(thread_id), escape(checkpoint_id)),
            )
        return None if row is None else _checkpoint(row)

    def list_checkpoints(self, thread_id: str, limit: int) -> list[CheckpointRecord]:
        rows = self._all(
            f"failed to list checkpoints of thread {thread_id}",
            f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints WHERE thread_id = %s "
            "ORDER BY created_at DESC, seq DESC LIMIT %s",
            (escape(thread_id), limit),
        )
        return [_checkpoint(row) for row in rows]

    def delete_checkpoint(self, thread_id: str, checkpoint_id: str) -> bool:
        return (
            self._count(
                f"failed to delete checkpoint {checkpoint_id} of thread {thread_id}",
                "DELETE FROM checkpoints WHERE thread_id = %s AND checkpoint_id = %s",
                (escape(thread_id), escape(checkpoint_id)),
            )
            > 0
        )

    # -- jobs --------------------------------------------------------------------

    def upsert_job(self, job: JobStateRecord) -> None:
        with self._conns.call(f"failed to upsert job {job.id}", writes=True) as conn:
            conn.execute(
                _UPSERT_JOB,
                (
                    escape(job.id),
                    escape(job.name),
                    job.status.value,
                    job.progress,
                    escape_opt(job.detail),
                    job.created_at,
                    job.updated_at,
                ),
            )

    def get_job(self, job_id: str) -> JobStateRecord | None:
        row = self._one(
            f"failed to read job {job_id}",
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = %s",
            (escape(job_id),),
        )
        return None if row is None else _job(row)

    def list_jobs(self, limit: int) -> list[JobStateRecord]:
        rows = self._all(
            "failed to list jobs",
            f"SELECT {JOB_COLUMNS} FROM jobs ORDER BY updated_at DESC, seq DESC LIMIT %s",
            (limit,),
        )
        return [_job(row) for row in rows]

    def delete_job(self, job_id: str) -> bool:
        return (
            self._count(
                f"failed to delete job {job_id}",
                "DELETE FROM jobs WHERE id = %s",
                (escape(job_id),),
            )
            > 0
        )
