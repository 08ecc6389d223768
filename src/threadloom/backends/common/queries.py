"""The store's core operations, written once for both SQL dialects.

:class:`CoreStatements` builds every statement on the core tables (threads, goals,
messages, dynamic tools, checkpoints, jobs) once, at import, from the shared column
lists and a :class:`CoreDialect`; :class:`CoreQueries` implements the operations with
them over a few connection primitives each backend supplies (a one-row read, an
all-rows read, a one-statement write). What each engine does its own way (an append,
a thread's deletion, the record of deleted threads) stays in its backend module.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ...errors import Conflict, InvalidRecord, NotFound
from ...records import (
    CheckpointRecord,
    DynamicToolRecord,
    JobStateRecord,
    MessageRecord,
    ThreadGoalRecord,
    ThreadMetadata,
)
from .branch import PARENT, finish_branch
from .maintenance import Executor
from .rows import (
    GOAL_COLUMNS,
    JOB_COLUMNS,
    THREAD_COLUMNS,
    THREAD_WRITE_COLUMNS,
    Decoder,
    checkpoint_from_row,
    goal_from_row,
    job_from_row,
    message_from_row,
    messages_from_rows,
    set_from_excluded,
    text_decoder,
    thread_from_row,
    threads_from_rows,
    tool_from_row,
)
from .transactions import TransactionalBackend

if TYPE_CHECKING:
    from ...contract import ToolRow

__all__ = ["DELETED_TABLE", "CoreDialect", "CoreQueries", "CoreStatements"]

#: threadloom's record of the threads a database deleted (schema step threadloom-v2).
DELETED_TABLE = "threadloom_deleted_threads"

C = TypeVar("C", bound=Executor)
Row = Sequence[Any]


@dataclass(frozen=True, slots=True)
class CoreDialect:
    """What differs between the SQL dialects on the core tables.

    The defaults describe an engine that stores text as it is and JSON as text.

    Attributes:
        param: The positional placeholder (``?``, ``%s``).
        named: The named placeholder, with ``{}`` for the name (``:{}``, ``%({})s``).
        insertion_order: The column holding insertion order, which breaks timestamp
            ties (SQLite's ``rowid``, PostgreSQL's ``seq``).
        no_limit: The ``LIMIT`` parameter meaning no limit (``-1``, ``NULL``).
        greatest: The two-argument maximum function (``MAX``, ``GREATEST``).
        renew_order: For a replacing upsert, the ``SET`` item giving the row a new
            insertion order; ``None`` where ``INSERT OR REPLACE`` renews it (SQLite's
            delete-and-insert gives a new rowid).
        first_param_again: The placeholder naming the first parameter again (``?1``),
            where the engine has one: the latest checkpoint is then found through the
            thread's newest second (see :class:`CoreStatements`).
        lock_thread: Appended to the read of a thread row that serializes writers of
            the thread's messages (SQLite's write lock is already exclusive).
        json_casts: Casts after the placeholder of a JSON text parameter and after a
            JSON column read back as its stored text.
        escape: A text parameter in its stored form, or ``None`` where text is stored
            as it is (PostgreSQL cannot store NUL).
        unescape_row: Undoes ``escape`` on a row read back, leaving alone the JSON
            columns at the given positions.
    """

    param: str
    named: str
    insertion_order: str
    no_limit: int | None
    greatest: str
    renew_order: str | None = None
    first_param_again: str | None = None
    lock_thread: str = ""
    json_casts: tuple[str, str] = ("", "")
    escape: Callable[[str], str] | None = None
    unescape_row: Callable[[Row, tuple[int, ...]], tuple[Any, ...]] | None = None

    def marks(self, count: int) -> str:
        """``count`` positional placeholders, comma-separated."""
        return ", ".join([self.param] * count)

    def key(self, text: str) -> str:
        """One text parameter (an id) in its stored form."""
        escape = self.escape
        return text if escape is None else escape(text)

    def text(self, value: str) -> str:
        """One stored text read back (undoes ``escape``)."""
        unescape = self.unescape_row
        return value if unescape is None else str(unescape((value,), ())[0])

    def stored(self, values: tuple[Any, ...], json_at: tuple[int, ...] = ()) -> tuple[Any, ...]:
        """Write parameters in their stored form: text escaped, JSON (at ``json_at``) as is."""
        escape = self.escape
        if escape is None:
            return values
        return tuple(
            escape(v) if type(v) is str and i not in json_at else v for i, v in enumerate(values)
        )


def _replacing(d: CoreDialect, table: str, columns: str, key: tuple[str, ...], rows: str) -> str:
    """An insert of ``rows`` that replaces a row with the same key and renews its order."""
    if d.renew_order is None:
        return f"INSERT OR REPLACE INTO {table} ({columns}) {rows}"
    updates = [
        f"{c} = EXCLUDED.{c}" for c in (n.strip() for n in columns.split(",")) if c not in key
    ]
    return (
        f"INSERT INTO {table} ({columns}) {rows} ON CONFLICT ({', '.join(key)}) "
        f"DO UPDATE SET {', '.join([*updates, d.renew_order])}"
    )


class CoreStatements:
    """Every statement on the core tables in one dialect, built once, and its row mappers.

    Args:
        dialect: The dialect to write them in.
    """

    thread: Callable[[Row], ThreadMetadata]
    threads: Callable[[Sequence[Row]], list[ThreadMetadata]]
    message: Callable[[Row, Decoder], MessageRecord]
    messages: Callable[[Sequence[Row], Decoder], list[MessageRecord]]
    checkpoint: Callable[[Row, Decoder], CheckpointRecord]
    tool: Callable[[Row, str, Decoder], DynamicToolRecord]
    goal: Callable[[Row], ThreadGoalRecord]
    job: Callable[[Row], JobStateRecord]

    def __init__(self, dialect: CoreDialect) -> None:
        d = self.dialect = dialect
        self.escape = dialect.escape
        self._mappers(dialect.unescape_row)
        p, order = d.param, d.insertion_order
        json_in, js = d.json_casts
        messages = f"id, thread_id, role, content, item_json{js}, created_at, parent_entry_id"
        checkpoints = f"thread_id, checkpoint_id, state_json{js}, created_at"

        # -- threads
        self.upsert_thread = (
            f"INSERT INTO threads ({', '.join(THREAD_WRITE_COLUMNS)}) "
            f"VALUES ({d.marks(len(THREAD_WRITE_COLUMNS))}) ON CONFLICT (id) DO UPDATE SET "
            + set_from_excluded(THREAD_WRITE_COLUMNS, key="id")
        )
        self.get_thread = f"SELECT {THREAD_COLUMNS} FROM threads WHERE id = {p}"
        newest = f"ORDER BY updated_at DESC, {order} DESC LIMIT {p}"
        self.list_threads_all = f"SELECT {THREAD_COLUMNS} FROM threads {newest}"
        self.list_threads_live = f"SELECT {THREAD_COLUMNS} FROM threads WHERE archived = 0 {newest}"
        self.archive = (
            f"UPDATE threads SET archived = 1, archived_at = {p}, status = 'archived' "
            f"WHERE id = {p}"
        )
        self.unarchive = (
            "UPDATE threads SET archived = 0, archived_at = NULL, "
            f"status = CASE WHEN status = 'archived' THEN 'idle' ELSE status END WHERE id = {p}"
        )
        self.set_memory_mode = f"UPDATE threads SET memory_mode = {p} WHERE id = {p}"
        self.memory_mode = f"SELECT memory_mode FROM threads WHERE id = {p}"
        self.rollout_path = f"SELECT rollout_path FROM threads WHERE id = {p}"
        self.thread_exists = f"SELECT 1 FROM threads WHERE id = {p}"
        self.lock_thread = self.thread_exists + d.lock_thread
        self.set_leaf = f"UPDATE threads SET current_leaf_id = {p} WHERE id = {p}"
        self.clear_leaf = f"UPDATE threads SET current_leaf_id = NULL WHERE id = {p}"

        # -- goals: the insert writes no row when the thread is missing.
        self.upsert_goal = (
            f"INSERT INTO thread_goals ({GOAL_COLUMNS}) SELECT {d.marks(10)} "
            f"WHERE EXISTS (SELECT 1 FROM threads WHERE id = {p}) "
            "ON CONFLICT (thread_id) DO UPDATE SET "
            + set_from_excluded(GOAL_COLUMNS, key="thread_id")
        )
        self.get_goal = f"SELECT {GOAL_COLUMNS} FROM thread_goals WHERE thread_id = {p}"
        self.delete_goal = f"DELETE FROM thread_goals WHERE thread_id = {p}"
        self.goal_usage = (
            f"UPDATE thread_goals SET tokens_used = tokens_used + {p}, "
            f"time_used_seconds = time_used_seconds + {p}, "
            f"updated_at = {d.greatest}(updated_at, {p}) "
            f"WHERE thread_id = {p} RETURNING {GOAL_COLUMNS}"
        )
        self.goal_continuation = (
            "UPDATE thread_goals SET continuation_count = continuation_count + 1 "
            f"WHERE thread_id = {p} RETURNING {GOAL_COLUMNS}"
        )

        # -- messages
        self.message_thread = f"SELECT thread_id FROM messages WHERE id = {p}"
        self.message_parent = (
            f"SELECT parent_entry_id FROM messages WHERE id = {p} AND thread_id = {p}"
        )
        self.insert_message = (
            "INSERT INTO messages (thread_id, role, content, item_json, created_at, "
            f"parent_entry_id) VALUES ({p}, {p}, {p}, {p}{json_in}, {p}, {p}) RETURNING id"
        )
        # The current branch, walked up from a message inside the thread. Only links
        # to an older (smaller) id of the same thread are followed, so the walk ends
        # even on a corrupt chain; branch.finish_branch finishes a walk such a link
        # stopped.
        thread, depth = d.named.format("thread"), d.named.format("depth")
        walk = f"""
WITH RECURSIVE ancestors(id, thread_id, role, content, item_json, created_at,
                         parent_entry_id, depth) AS (
    SELECT {messages}, CAST(0 AS BIGINT) FROM messages
    WHERE id = {{start}} AND thread_id = {thread}
    UNION ALL
    SELECT m.id, m.thread_id, m.role, m.content, m.item_json{js}, m.created_at,
           m.parent_entry_id, a.depth + 1
    FROM messages m JOIN ancestors a ON m.id = a.parent_entry_id
    WHERE a.depth < {depth} AND a.parent_entry_id < a.id AND m.thread_id = a.thread_id
)
SELECT id, thread_id, role, content, item_json, created_at, parent_entry_id
FROM ancestors ORDER BY depth DESC
"""
        self.list_branch = walk.format(
            start=f"(SELECT current_leaf_id FROM threads WHERE id = {thread})"
        )
        self.list_branch_from = walk.format(start=d.named.format("start"))
        self.list_leaves = (
            f"SELECT m1.id, m1.thread_id, m1.role, m1.content, m1.item_json{js}, "
            "m1.created_at, m1.parent_entry_id FROM messages m1 "
            f"WHERE m1.thread_id = {p} AND NOT EXISTS "
            "(SELECT 1 FROM messages m2 WHERE m2.parent_entry_id = m1.id) ORDER BY m1.id"
        )
        self.list_all_messages = (
            f"SELECT {messages} FROM messages WHERE thread_id = {p} ORDER BY id"
        )
        self.clear_messages = f"DELETE FROM messages WHERE thread_id = {p}"

        # -- dynamic tools
        self.delete_tools = f"DELETE FROM thread_dynamic_tools WHERE thread_id = {p}"
        self.insert_tool = (
            "INSERT INTO thread_dynamic_tools (thread_id, position, name, description, "
            f"input_schema) VALUES ({p}, {p}, {p}, {p}, {p}{json_in})"
        )
        self.get_tools = (
            f"SELECT position, name, description, input_schema{js} FROM thread_dynamic_tools "
            f"WHERE thread_id = {p} ORDER BY position"
        )

        # -- checkpoints: a re-saved checkpoint is the latest even within one second.
        self.save_checkpoint = _replacing(
            d,
            "checkpoints",
            "thread_id, checkpoint_id, state_json, created_at",
            ("thread_id", "checkpoint_id"),
            f"SELECT id, {p}, {p}{json_in}, {p} FROM threads WHERE id = {p}",
        )
        # Latest second first, then the last saved within it. On SQLite written as a
        # lookup of the newest second (not ORDER BY created_at DESC, rowid DESC), so it
        # walks the index instead of sorting every checkpoint of the thread with its
        # state; PostgreSQL's index on (thread_id, created_at DESC, seq DESC) serves
        # the plain order.
        again = d.first_param_again
        self.latest_checkpoint = f"SELECT {checkpoints} FROM checkpoints WHERE thread_id = {p} " + (
            f"ORDER BY created_at DESC, {order} DESC LIMIT 1"
            if again is None
            else f"AND created_at = (SELECT MAX(created_at) FROM checkpoints "
            f"WHERE thread_id = {again}) ORDER BY {order} DESC LIMIT 1"
        )
        self.get_checkpoint = (
            f"SELECT {checkpoints} FROM checkpoints WHERE thread_id = {p} AND checkpoint_id = {p}"
        )
        self.list_checkpoints = (
            f"SELECT {checkpoints} FROM checkpoints WHERE thread_id = {p} "
            f"ORDER BY created_at DESC, {order} DESC LIMIT {p}"
        )
        self.delete_checkpoint = (
            f"DELETE FROM checkpoints WHERE thread_id = {p} AND checkpoint_id = {p}"
        )

        # -- jobs: the job written last wins ties on updated_at.
        self.upsert_job = _replacing(d, "jobs", JOB_COLUMNS, ("id",), f"VALUES ({d.marks(7)})")
        self.get_job = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = {p}"
        self.list_jobs = (
            f"SELECT {JOB_COLUMNS} FROM jobs ORDER BY updated_at DESC, {order} DESC LIMIT {p}"
        )
        self.delete_job = f"DELETE FROM jobs WHERE id = {p}"

    def _mappers(self, unescape: Callable[[Row, tuple[int, ...]], tuple[Any, ...]] | None) -> None:
        if unescape is None:
            # Rows go straight to the shared mappers: no call in between on the hot reads.
            self.thread, self.message, self.checkpoint = (
                thread_from_row,
                message_from_row,
                checkpoint_from_row,
            )
            self.tool, self.goal, self.job = tool_from_row, goal_from_row, job_from_row
            self.messages, self.threads = messages_from_rows, threads_from_rows
            return
        # The JSON columns (kept as written) are message 4, checkpoint 2, tool 3.
        self.thread = lambda row: thread_from_row(unescape(row, ()))
        self.threads = lambda rows: threads_from_rows([unescape(row, ()) for row in rows])
        self.message = lambda row, decode: message_from_row(unescape(row, (4,)), decode)
        self.messages = lambda rows, decode: messages_from_rows(
            [unescape(row, (4,)) for row in rows], decode
        )
        self.checkpoint = lambda row, decode: checkpoint_from_row(unescape(row, (2,)), decode)
        self.tool = lambda row, thread_id, decode: tool_from_row(
            unescape(row, (3,)), thread_id, decode
        )
        self.goal = lambda row: goal_from_row(unescape(row, ()))
        self.job = lambda row: job_from_row(unescape(row, ()))


def _thread_values(thread: ThreadMetadata) -> tuple[Any, ...]:
    """An upsert's parameters, in ``THREAD_WRITE_COLUMNS`` order."""
    return (
        thread.id,
        thread.rollout_path,
        thread.preview,
        int(thread.ephemeral),
        thread.model_provider,
        thread.created_at,
        thread.updated_at,
        thread.status.value,
        thread.path,
        thread.cwd,
        thread.cli_version,
        thread.source.value,
        thread.name,
        thread.sandbox_policy,
        thread.approval_mode,
        int(thread.archived),
        thread.archived_at,
        thread.git_sha,
        thread.git_branch,
        thread.git_origin_url,
        thread.memory_mode,
    )


def _check_usage(thread_id: str, tokens_delta: int, seconds_delta: int) -> Callable[[Row], None]:
    def check(row: Row) -> None:
        if type(row[5]) is not int or type(row[6]) is not int:
            # SQLite turns an overflowing integer sum into a REAL instead of failing
            # (PostgreSQL's bigint raises); stored, it would break every later read.
            raise InvalidRecord(
                f"goal usage of thread {thread_id} would overflow a 64-bit counter "
                f"(+{tokens_delta} tokens, +{seconds_delta} seconds)"
            )

    return check


class CoreQueries(TransactionalBackend[C]):
    """The core operations of :class:`~threadloom.contract.Backend` over a dialect.

    A backend sets :attr:`_core` and supplies the primitives below; it keeps its own
    ``append_message``, ``delete_thread`` and ``deleted_threads``.
    """

    _core: ClassVar[CoreStatements]

    if TYPE_CHECKING:  # supplied by the backend's transfer mixin

        def _run_many(self, conn: C, sql: str, params: Sequence[Sequence[Any]]) -> int: ...

    # -- primitives ------------------------------------------------------------------

    @abstractmethod
    def _one(self, what: str, sql: str, params: Any = ()) -> Row | None:
        """Read one row (``None`` if there is none)."""

    @abstractmethod
    def _all(self, what: str, sql: str, params: Any = ()) -> list[Any]:
        """Read every row."""

    @abstractmethod
    def _writing(self, what: str, *, checked: bool = False) -> AbstractContextManager[C]:
        """A connection for one writing statement (SQLite: a write transaction, or
        inside one the statement alone; PostgreSQL: the statement alone, atomic by
        itself). ``checked``: Python code may still refuse the statement's result,
        so a SQLite block inside a transaction needs its savepoint."""

    def _insert_returning_id(self, conn: C, params: Sequence[Any]) -> int:
        """Insert a message and give its new id (``RETURNING id``; SQLite overrides)."""
        row: Any = conn.execute(self._core.insert_message, params).fetchone()
        return int(row[0])

    def _write_count(self, what: str, sql: str, params: Sequence[Any]) -> int:
        """Run one writing statement; the rows it changed."""
        with self._writing(what) as conn:
            count: int = conn.execute(sql, params).rowcount
            return count

    def _write_one(
        self,
        what: str,
        sql: str,
        params: Any,
        check: Callable[[Row], None] | None = None,
    ) -> Row | None:
        """Run one writing statement; its first returned row, which ``check`` (if given)
        sees before the write is final: raising rolls a SQLite write back (PostgreSQL's
        typed columns refuse what the checks look for before they could run)."""
        with self._writing(what, checked=check is not None) as conn:
            row: Row | None = conn.execute(sql, params).fetchone()
            if check is not None and row is not None:
                check(row)
            return row

    # -- threads ---------------------------------------------------------------------

    def upsert_thread(self, thread: ThreadMetadata) -> None:
        q = self._core
        self._write_count(
            f"failed to upsert thread {thread.id}",
            q.upsert_thread,
            q.dialect.stored(_thread_values(thread)),
        )

    def get_thread(self, thread_id: str) -> ThreadMetadata | None:
        q = self._core
        escape = q.escape  # inline, not dialect.key(): this read is on the hot path
        key = thread_id if escape is None else escape(thread_id)
        row = self._one(f"failed to read thread {thread_id}", q.get_thread, (key,))
        return None if row is None else q.thread(row)

    def list_threads(self, *, include_archived: bool, limit: int) -> list[ThreadMetadata]:
        q = self._core
        sql = q.list_threads_all if include_archived else q.list_threads_live
        return q.threads(self._all("failed to list threads", sql, (limit,)))

    def iter_threads(self, *, include_archived: bool) -> Iterator[ThreadMetadata]:
        q = self._core
        sql = q.list_threads_all if include_archived else q.list_threads_live
        for row in self._all("failed to list threads", sql, (q.dialect.no_limit,)):
            yield q.thread(row)

    def mark_archived(self, thread_id: str, now: int) -> bool:
        q = self._core
        what = f"failed to archive thread {thread_id}"
        return self._write_count(what, q.archive, (now, q.dialect.key(thread_id))) > 0

    def mark_unarchived(self, thread_id: str) -> bool:
        q = self._core
        what = f"failed to unarchive thread {thread_id}"
        return self._write_count(what, q.unarchive, (q.dialect.key(thread_id),)) > 0

    def set_thread_memory_mode(self, thread_id: str, mode: str | None) -> None:
        q = self._core
        params = q.dialect.stored((mode, thread_id))
        if (
            self._write_count(
                f"failed to set memory mode of thread {thread_id}", q.set_memory_mode, params
            )
            == 0
        ):
            raise NotFound(f"thread {thread_id} not found")

    def _thread_text(self, what: str, sql: str, thread_id: str) -> str | None:
        d = self._core.dialect
        row = self._one(what, sql, (d.key(thread_id),))
        value: str | None = None if row is None else row[0]
        return None if value is None else d.text(value)

    def get_thread_memory_mode(self, thread_id: str) -> str | None:
        what = f"failed to read memory mode of thread {thread_id}"
        return self._thread_text(what, self._core.memory_mode, thread_id)

    def find_rollout_path_by_id(self, thread_id: str) -> str | None:
        what = f"failed to look up rollout path of thread {thread_id}"
        return self._thread_text(what, self._core.rollout_path, thread_id)

    # -- goals -----------------------------------------------------------------------

    def upsert_thread_goal(self, goal: ThreadGoalRecord) -> None:
        q = self._core
        params = q.dialect.stored(
            (
                goal.thread_id,
                goal.goal_id,
                goal.objective,
                goal.status.value,
                goal.token_budget,
                goal.tokens_used,
                goal.time_used_seconds,
                goal.created_at,
                goal.updated_at,
                goal.continuation_count,
                goal.thread_id,
            )
        )
        what = f"failed to save goal of thread {goal.thread_id}"
        if self._write_count(what, q.upsert_goal, params) == 0:
            raise NotFound(f"thread {goal.thread_id} not found")

    def get_thread_goal(self, thread_id: str) -> ThreadGoalRecord | None:
        q = self._core
        d = q.dialect
        what = f"failed to read goal of thread {thread_id}"
        row = self._one(what, q.get_goal, (d.key(thread_id),))
        return None if row is None else q.goal(row)

    def delete_thread_goal(self, thread_id: str) -> bool:
        q = self._core
        what = f"failed to delete goal of thread {thread_id}"
        return self._write_count(what, q.delete_goal, (q.dialect.key(thread_id),)) > 0

    def record_thread_goal_usage(
        self, thread_id: str, tokens_delta: int, seconds_delta: int, now: int
    ) -> ThreadGoalRecord | None:
        q = self._core
        d = q.dialect
        row = self._write_one(
            f"failed to record goal usage of thread {thread_id}",
            q.goal_usage,
            (tokens_delta, seconds_delta, now, d.key(thread_id)),
            _check_usage(thread_id, tokens_delta, seconds_delta),
        )
        return None if row is None else q.goal(row)

    def record_thread_goal_continuation(self, thread_id: str) -> ThreadGoalRecord | None:
        q = self._core
        d = q.dialect
        what = f"failed to record goal continuation of thread {thread_id}"
        row = self._write_one(what, q.goal_continuation, (d.key(thread_id),))
        return None if row is None else q.goal(row)

    # -- messages --------------------------------------------------------------------

    def fork_at_message(
        self, message_id: int, role: str, content: str, item_json: str | None, now: int
    ) -> int:
        q = self._core
        with self.write(f"failed to fork at message {message_id}") as conn:
            row = conn.execute(q.message_thread, (message_id,)).fetchone()
            if row is None:
                raise NotFound(f"message {message_id} not found")
            # Serialize with appends to the same thread: the fork moves the leaf too.
            if conn.execute(q.lock_thread, (row[0],)).fetchone() is None:
                raise NotFound(
                    f"thread {q.dialect.text(row[0])} of message {message_id} not found "
                    "(the message is an orphan of a deleted thread)"
                )
            params = q.dialect.stored((row[0], role, content, item_json, now, message_id), (0, 3))
            new_id = self._insert_returning_id(conn, params)
            conn.execute(q.set_leaf, (new_id, row[0]))
            return new_id

    def list_messages(self, thread_id: str, limit: int) -> list[MessageRecord]:
        if limit == 0:
            return []
        q = self._core
        what = f"failed to list messages of thread {thread_id}"
        key = q.dialect.key(thread_id)
        rows = self._all(what, q.list_branch, {"thread": key, "depth": limit - 1})
        return q.messages(self._finish_walk(what, thread_id, key, rows, limit), text_decoder)

    def list_messages_before(
        self, thread_id: str, message_id: int, limit: int
    ) -> list[MessageRecord]:
        q = self._core
        what = f"failed to list messages of thread {thread_id} before message {message_id}"
        key = q.dialect.key(thread_id)
        row = self._one(what, q.message_parent, (message_id, key))
        if row is None:
            raise NotFound(f"message {message_id} not found in thread {thread_id}")
        parent = row[0]
        if parent is None or limit == 0:
            return []
        params = {"thread": key, "depth": limit - 1, "start": parent}
        rows = self._all(what, q.list_branch_from, params)
        return q.messages(self._finish_walk(what, thread_id, key, rows, limit), text_decoder)

    def _finish_walk(
        self, what: str, thread_id: str, key: str, rows: list[Any], limit: int
    ) -> list[Any]:
        """``rows`` of a decreasing-id walk, finished by the careful walk if a link
        that does not go to an older message stopped it (rare: kept off the common path)."""
        if rows and len(rows) < limit and rows[0][PARENT] is not None:
            q = self._core
            return finish_branch(
                thread_id,
                rows,
                limit,
                lambda start, n: self._all(
                    what, q.list_branch_from, {"thread": key, "depth": n - 1, "start": start}
                ),
            )
        return rows

    def _messages(self, what: str, sql: str, thread_id: str) -> list[MessageRecord]:
        q = self._core
        rows = self._all(what, sql, (q.dialect.key(thread_id),))
        return q.messages(rows, text_decoder)

    def list_leaf_messages(self, thread_id: str) -> list[MessageRecord]:
        what = f"failed to list leaf messages of thread {thread_id}"
        return self._messages(what, self._core.list_leaves, thread_id)

    def list_all_messages(self, thread_id: str) -> list[MessageRecord]:
        what = f"failed to list messages of thread {thread_id}"
        return self._messages(what, self._core.list_all_messages, thread_id)

    def set_current_leaf_id(self, thread_id: str, message_id: int) -> None:
        q = self._core
        key = q.dialect.key(thread_id)
        with self.write(f"failed to set the current leaf of thread {thread_id}") as conn:
            if conn.execute(q.lock_thread, (key,)).fetchone() is None:
                raise NotFound(f"thread {thread_id} not found")
            row = conn.execute(q.message_thread, (message_id,)).fetchone()
            if row is None:
                raise NotFound(f"message {message_id} not found")
            if row[0] != key:
                raise Conflict(
                    f"message {message_id} belongs to thread {q.dialect.text(row[0])}, "
                    f"not to thread {thread_id}"
                )
            conn.execute(q.set_leaf, (message_id, key))

    def clear_messages(self, thread_id: str) -> int:
        q = self._core
        key = (q.dialect.key(thread_id),)
        with self.write(f"failed to clear messages of thread {thread_id}") as conn:
            conn.execute(q.clear_leaf, key)
            count: int = conn.execute(q.clear_messages, key).rowcount
            return count

    # -- dynamic tools ---------------------------------------------------------------

    def persist_dynamic_tools(self, thread_id: str, tools: Sequence[ToolRow]) -> None:
        q = self._core
        d = q.dialect
        key = d.key(thread_id)
        with self.write(f"failed to persist dynamic tools of thread {thread_id}") as conn:
            # No lock on the thread row: tool writes need not wait for appends.
            if conn.execute(q.thread_exists, (key,)).fetchone() is None:
                raise NotFound(f"thread {thread_id} not found")
            seen: set[int] = set()
            for tool in tools:
                if tool.position in seen:
                    raise Conflict(
                        f"failed to persist dynamic tool {tool.name} of thread {thread_id}: "
                        f"position {tool.position} is used twice"
                    )
                seen.add(tool.position)
            conn.execute(q.delete_tools, (key,))
            if tools:
                rows = [
                    d.stored(
                        (thread_id, t.position, t.name, t.description, t.input_schema_json), (4,)
                    )
                    for t in tools
                ]
                self._run_many(conn, q.insert_tool, rows)

    def get_dynamic_tools(self, thread_id: str) -> list[DynamicToolRecord]:
        q = self._core
        d = q.dialect
        what = f"failed to read dynamic tools of thread {thread_id}"
        rows = self._all(what, q.get_tools, (d.key(thread_id),))
        return [q.tool(row, thread_id, text_decoder) for row in rows]

    # -- checkpoints -----------------------------------------------------------------

    def save_checkpoint(
        self, thread_id: str, checkpoint_id: str, state_json: str, now: int
    ) -> None:
        q = self._core
        params = q.dialect.stored((checkpoint_id, state_json, now, thread_id), (1,))
        what = f"failed to save checkpoint {checkpoint_id} of thread {thread_id}"
        if self._write_count(what, q.save_checkpoint, params) == 0:
            raise NotFound(f"thread {thread_id} not found")

    def load_checkpoint(self, thread_id: str, checkpoint_id: str | None) -> CheckpointRecord | None:
        q = self._core
        escape = q.escape  # inline, not dialect.key(): this read is on the hot path
        key = thread_id if escape is None else escape(thread_id)
        if checkpoint_id is None:
            what = f"failed to load the latest checkpoint of thread {thread_id}"
            row = self._one(what, q.latest_checkpoint, (key,))
        else:
            what = f"failed to load checkpoint {checkpoint_id} of thread {thread_id}"
            row = self._one(what, q.get_checkpoint, (key, q.dialect.key(checkpoint_id)))
        return None if row is None else q.checkpoint(row, text_decoder)

    def list_checkpoints(self, thread_id: str, limit: int) -> list[CheckpointRecord]:
        q = self._core
        d = q.dialect
        what = f"failed to list checkpoints of thread {thread_id}"
        rows = self._all(what, q.list_checkpoints, (d.key(thread_id), limit))
        checkpoint = q.checkpoint
        return [checkpoint(row, text_decoder) for row in rows]

    def delete_checkpoint(self, thread_id: str, checkpoint_id: str) -> bool:
        q = self._core
        what = f"failed to delete checkpoint {checkpoint_id} of thread {thread_id}"
        params = q.dialect.stored((thread_id, checkpoint_id))
        return self._write_count(what, q.delete_checkpoint, params) > 0

    # -- jobs ------------------------------------------------------------------------

    def upsert_job(self, job: JobStateRecord) -> None:
        q = self._core
        params = q.dialect.stored(
            (
                job.id,
                job.name,
                job.status.value,
                job.progress,
                job.detail,
                job.created_at,
                job.updated_at,
            )
        )
        self._write_count(f"failed to upsert job {job.id}", q.upsert_job, params)

    def get_job(self, job_id: str) -> JobStateRecord | None:
        q = self._core
        d = q.dialect
        row = self._one(f"failed to read job {job_id}", q.get_job, (d.key(job_id),))
        return None if row is None else q.job(row)

    def list_jobs(self, limit: int) -> list[JobStateRecord]:
        q = self._core
        job = q.job
        return [job(row) for row in self._all("failed to list jobs", q.list_jobs, (limit,))]

    def delete_job(self, job_id: str) -> bool:
        q = self._core
        what = f"failed to delete job {job_id}"
        return self._write_count(what, q.delete_job, (q.dialect.key(job_id),)) > 0
