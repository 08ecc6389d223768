"""Import and bulk copy, written once for both backends.

:class:`TransferQueries` implements :class:`~threadloom.contract.TransferOperations`
over a backend's ``read``/``write`` blocks; a backend supplies a
:class:`TransferDialect` (placeholders, JSON casts, text escaping, insertion order,
insert-or-skip syntax) and four small hooks that run statements on its connections.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ...contract.traces import TRACE_COLUMNS, TraceTable
from ...contract.transfer import CopyTable, MessageRow, Row, RowCount, ThreadImport
from ...errors import Conflict
from .rows import GOAL_COLUMNS, JOB_COLUMNS, MESSAGE_COLUMNS, THREAD_COLUMNS, chunks
from .transactions import TransactionalBackend

if TYPE_CHECKING:
    from ...contract import ToolRow
    from ...records import ThreadGoalRecord, ThreadMetadata

__all__ = ["TABLES", "TransferDialect", "TransferQueries"]

C = TypeVar("C")


def _cols(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(","))


_THREAD = ("thread_id", "threads")
_RUN = ("workflow_run_id", TraceTable.RUNS.value)

#: Every data table in dependency order: a table a foreign key points at comes first
#: (``tests/postgres/test_copy.py`` checks this against both schemas). The nullable
#: ``branch_run_id`` of leaf runs and candidates points at branch runs, copied before
#: them too. Schema bookkeeping (``threadloom_meta``, migrations) and
#: ``threadloom_deleted_threads`` (what this very database deleted) stay with each
#: store; the session index is copied apart, as entries.
TABLES: tuple[CopyTable, ...] = (
    CopyTable("threads", _cols(THREAD_COLUMNS)),
    CopyTable("messages", _cols(MESSAGE_COLUMNS), parents=(_THREAD,)),
    CopyTable(
        "checkpoints",
        ("thread_id", "checkpoint_id", "state_json", "created_at"),
        parents=(_THREAD,),
        key=("thread_id", "checkpoint_id"),
    ),
    CopyTable(
        "thread_dynamic_tools",
        ("thread_id", "position", "name", "description", "input_schema"),
        parents=(_THREAD,),
        key=("thread_id", "position"),
    ),
    CopyTable("thread_goals", _cols(GOAL_COLUMNS), parents=(_THREAD,), key=("thread_id",)),
    CopyTable("jobs", _cols(JOB_COLUMNS)),
    CopyTable(TraceTable.RUNS.value, TRACE_COLUMNS[TraceTable.RUNS]),
    CopyTable(TraceTable.BRANCHES.value, TRACE_COLUMNS[TraceTable.BRANCHES], parents=(_RUN,)),
    CopyTable(TraceTable.LEAVES.value, TRACE_COLUMNS[TraceTable.LEAVES], parents=(_RUN,)),
    CopyTable(
        TraceTable.CONTROL_NODES.value, TRACE_COLUMNS[TraceTable.CONTROL_NODES], parents=(_RUN,)
    ),
    CopyTable(
        TraceTable.CANDIDATES.value,
        TRACE_COLUMNS[TraceTable.CANDIDATES],
        parents=(_RUN, ("control_node_run_id", TraceTable.CONTROL_NODES.value)),
    ),
    # The framework adapters' own tables (threadloom-v4).
    CopyTable(
        "threadloom_graph_checkpoints",
        (
            "thread_id",
            "checkpoint_ns",
            "checkpoint_id",
            "parent_checkpoint_id",
            "run_id",
            "type",
            "checkpoint",
            "metadata",
            "created_at",
        ),
        parents=(_THREAD,),
        key=("thread_id", "checkpoint_ns", "checkpoint_id"),
    ),
    CopyTable(
        "threadloom_graph_writes",
        (
            "thread_id",
            "checkpoint_ns",
            "checkpoint_id",
            "task_id",
            "task_path",
            "idx",
            "channel",
            "type",
            "value",
        ),
        parents=(_THREAD,),
        key=("thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx"),
    ),
    CopyTable(
        "threadloom_kv",
        ("namespace", "key", "thread_id", "value", "updated_at"),
        key=("namespace", "key"),
    ),
)

_BY_NAME = {table.name: table for table in TABLES}


def _same(row: Sequence[Any], keep: tuple[int, ...] = ()) -> tuple[Any, ...]:
    return tuple(row)


def _plain(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class TransferDialect:
    """What differs between the backends' SQL for import and copy.

    Attributes:
        mark: The parameter placeholder.
        json_cast: Appended to a JSON column's placeholder.
        json_text: Appended to a JSON column read, so it comes back as its stored text.
        insert_or_skip: The words before and after ``{table} (columns) VALUES (...)``
            of an insert that skips rows whose key is taken.
        order_by: The insertion-order ``ORDER BY`` of a table (ties on timestamps
            list by it).
        escape: Text as stored (PostgreSQL cannot store NUL).
        unescape_row: A stored row's text back as written, the JSON columns (indexes
            given) left alone.
    """

    mark: str
    json_cast: str
    json_text: str
    insert_or_skip: tuple[str, str]
    order_by: Callable[[CopyTable], str]
    escape: Callable[[str], str] = _plain
    unescape_row: Callable[[Sequence[Any], tuple[int, ...]], tuple[Any, ...]] = _same

    def marks(self, table: CopyTable) -> str:
        """The ``VALUES`` placeholders of a whole row."""
        json_at = table.json_at
        return ", ".join(
            self.mark + self.json_cast if i in json_at else self.mark
            for i in range(len(table.columns))
        )

    def stored(self, json_at: tuple[int, ...], row: Sequence[Any]) -> Sequence[Any]:
        """A logical row as its insert's parameters (text escaped, JSON as is).

        ``json_at`` is the table's :attr:`~CopyTable.json_at`, worked out once per batch.
        """
        escape = self.escape
        if escape is _plain:  # the engine stores text as written: the row as it is
            return row
        return tuple(
            escape(v) if type(v) is str and i not in json_at else v for i, v in enumerate(row)
        )


def kept_filter(table: CopyTable) -> str:
    """The ``WHERE`` keeping rows whose parents are kept (orphans of orphans too)."""
    if not table.parents:
        return ""
    tests = (
        f"{column} IN (SELECT id FROM {parent}{kept_filter(_BY_NAME[parent])})"
        for column, parent in table.parents
    )
    return " WHERE " + " AND ".join(tests)


class TransferQueries(TransactionalBackend[C]):
    """:class:`~threadloom.contract.TransferOperations` for a backend's connections."""

    _transfer_dialect: ClassVar[TransferDialect]

    if TYPE_CHECKING:  # the backend's own operations, which an import reuses

        def upsert_thread(self, thread: ThreadMetadata) -> None: ...
        def set_current_leaf_id(self, thread_id: str, message_id: int) -> None: ...
        def save_checkpoint(
            self, thread_id: str, checkpoint_id: str, state_json: str, now: int
        ) -> None: ...
        def persist_dynamic_tools(self, thread_id: str, tools: Sequence[ToolRow]) -> None: ...
        def upsert_thread_goal(self, goal: ThreadGoalRecord) -> None: ...

    # -- hooks: one statement on the backend's connection ------------------------

    def _fetch(self, conn: C, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run ``sql``; its rows (both drivers' connections execute and fetch alike)."""
        rows: list[tuple[Any, ...]] = conn.execute(sql, params).fetchall()  # type: ignore[attr-defined]
        return rows

    @abstractmethod
    def _run_many(self, conn: C, sql: str, params: Sequence[Sequence[Any]]) -> int:
        """Run ``sql`` once per parameter row; rows changed."""

    @abstractmethod
    def _stream(self, conn: C, table: str, sql: str, size: int) -> Iterator[list[tuple[Any, ...]]]:
        """Run ``sql`` and hand out its rows ``size`` at a time."""

    @abstractmethod
    def _reserve(self, conn: C, count: int) -> list[int]:
        """``count`` fresh message ids, inside the open write."""

    def _ids_written(self, conn: C, top: int) -> None:
        """Explicit message ids up to ``top`` are about to be written."""

    def _lock_thread_id(self, conn: C, thread_id: str) -> None:
        """Keep a concurrent import of ``thread_id`` out until this write ends."""

    # -- import ------------------------------------------------------------------

    def taken_message_ids(self, ids: Collection[int]) -> set[int]:
        wanted = sorted(set(ids))
        taken: set[int] = set()
        with self.read("failed to look up message ids") as conn:
            for chunk in chunks(wanted):
                marks = ", ".join([self._transfer_dialect.mark] * len(chunk))
                rows = self._fetch(conn, f"SELECT id FROM messages WHERE id IN ({marks})", chunk)
                taken.update(int(row[0]) for row in rows)
        return taken

    def reserve_message_ids(self, count: int) -> list[int]:
        if count <= 0:
            return []
        with self.write("failed to reserve message ids") as conn:
            return sorted(self._reserve(conn, count))

    def import_thread(self, data: ThreadImport) -> None:
        thread = data.thread
        d = self._transfer_dialect
        with self.write(f"failed to import thread {thread.id}") as conn:
            self._lock_thread_id(conn, thread.id)
            if self._fetch(
                conn, f"SELECT 1 FROM threads WHERE id = {d.mark}", (d.escape(thread.id),)
            ):
                raise Conflict(f"thread {thread.id} already exists; nothing was imported")
            self.upsert_thread(thread)
            if data.messages:
                self._ids_written(conn, max(m.id for m in data.messages))
                self._run_many(
                    conn,
                    f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES "
                    f"({d.marks(_BY_NAME['messages'])})",
                    [_message_params(d, thread.id, m) for m in data.messages],
                )
            if thread.current_leaf_id is not None:
                self.set_current_leaf_id(thread.id, thread.current_leaf_id)
            for checkpoint in data.checkpoints:
                self.save_checkpoint(
                    thread.id,
                    checkpoint.checkpoint_id,
                    checkpoint.state_json,
                    checkpoint.created_at,
                )
            if data.tools:
                self.persist_dynamic_tools(thread.id, data.tools)
            if data.goal is not None:
                self.upsert_thread_goal(data.goal)

    # -- bulk copy ---------------------------------------------------------------

    def copy_tables(self) -> tuple[CopyTable, ...]:
        return TABLES

    def count_rows(self, table: CopyTable) -> RowCount:
        with self.read(f"failed to count {table.name}") as conn:
            total = self._fetch(conn, f"SELECT count(*) FROM {table.name}", ())[0][0]
            kept = self._fetch(conn, f"SELECT count(*) FROM {table.name}{kept_filter(table)}", ())[
                0
            ][0]
        return RowCount(rows=int(kept), orphans=int(total) - int(kept))

    def read_rows(self, table: CopyTable, batch_size: int) -> Iterator[list[Row]]:
        d = self._transfer_dialect
        json_at = table.json_at
        select = ", ".join(
            c + d.json_text if i in json_at else c for i, c in enumerate(table.columns)
        )
        sql = f"SELECT {select} FROM {table.name}{kept_filter(table)} ORDER BY {d.order_by(table)}"
        with self.read(f"failed to read {table.name}") as conn:
            for batch in self._stream(conn, table.name, sql, batch_size):
                yield [d.unescape_row(row, json_at) for row in batch]

    def write_rows(self, table: CopyTable, rows: Sequence[Row]) -> int:
        if not rows:
            return 0
        d = self._transfer_dialect
        before, after = d.insert_or_skip
        sql = f"{before} {table.name} ({', '.join(table.columns)}) VALUES ({d.marks(table)}){after}"
        with self.write(f"failed to copy rows into {table.name}") as conn:
            if table.name == "messages":
                self._ids_written(conn, max(int(row[0]) for row in rows))
            json_at = table.json_at
            return self._run_many(conn, sql, [d.stored(json_at, row) for row in rows])


def _message_params(d: TransferDialect, thread_id: str, m: MessageRow) -> tuple[Any, ...]:
    return (
        m.id,
        d.escape(thread_id),
        d.escape(m.role),
        d.escape(m.content),
        m.item_json,
        m.created_at,
        m.parent_entry_id,
    )
