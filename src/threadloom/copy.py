"""Copy a whole store between backends: SQLite → PostgreSQL and back.

Table by table, rows move with their keys (message ids included) in the source's
insertion order, so ties that list by insertion order still list alike in the copy.
Every batch is its own transaction and inserts skip rows already present, so an
interrupted copy is resumed by running it again with ``mode="resume"``: tables
already complete are skipped, others continue where they stopped. At the end each table is verified on
both sides: row count and a checksum (an order-independent sum of the SHA-256 of
every row's logical values).

Tables go parents first, so every foreign key of a row points at a row already
copied: threads, then their messages, checkpoints, tools and goals; jobs; then the
five workflow trace tables (runs, branch runs, leaf runs, control-node runs, teacher
candidates), which are copied like the rest.

The destination must be empty unless the caller says otherwise, and is checked before
anything is written (:class:`DestinationNotEmpty`): ``mode="resume"`` finishes an
interrupted copy of the same source (every row of the destination must be a row of
the source); ``mode="merge"`` adds the source's
rows to whatever the destination holds (rows it holds alike are skipped, a key it
holds with other values refuses the merge, and verification checks that every source
row is there).

The session index is copied as the latest entry of each thread (the JSONL file keeps
superseded lines, the table need not): every lookup answers the same. Rows a SQLite
file of the original left orphaned (messages of a deleted thread, written with
foreign keys off; a candidate whose control node is gone) are not reachable through
the API and are not copied; the report counts them.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .backends.rows import GOAL_COLUMNS, JOB_COLUMNS, THREAD_COLUMNS
from .errors import Conflict, ThreadloomError
from .records import SessionIndexEntry
from .store import StateStore
from .workflows.rows import COLUMNS as TRACE_COLUMNS
from .workflows.rows import Table as TraceTable

__all__ = [
    "TABLES",
    "CopyMode",
    "CopyReport",
    "DestinationNotEmpty",
    "TableReport",
    "TableSpec",
    "copy_store",
]

#: ``progress(table, rows_done, rows_total)``, called after every batch.
Progress = Callable[[str, int, int], None]


class CopyMode(enum.StrEnum):
    """What :func:`copy_store` may find in the destination."""

    #: The destination must hold no row (the default).
    NEW = "new"
    #: The destination holds an interrupted copy of this source: finish it.
    RESUME = "resume"
    #: Add the source's rows to what the destination holds.
    MERGE = "merge"


class DestinationNotEmpty(Conflict):
    """:func:`copy_store` refused the destination before writing anything.

    Attributes:
        rows: Rows the destination holds, by table (tables holding none are left out).
    """

    def __init__(self, message: str, rows: dict[str, int]) -> None:
        super().__init__(message)
        self.rows = rows


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One table to copy: its logical columns (no ``seq``/rowid) and what they hold."""

    name: str
    columns: tuple[str, ...]
    #: The rows each row needs (``(column, parent table)``, column NOT NULL): a row
    #: whose parent is missing is an orphan, skipped.
    parents: tuple[tuple[str, str], ...] = ()
    #: Whether the PostgreSQL table has a ``seq`` column (insertion order).
    has_seq: bool = True
    #: Column to order by on PostgreSQL without ``seq``.
    order: str = "id"
    #: The primary key's columns (a merge refuses a key both sides hold differently).
    key: tuple[str, ...] = ("id",)

    @property
    def json_at(self) -> tuple[int, ...]:
        """Indexes of the JSON columns."""
        return tuple(i for i, c in enumerate(self.columns) if _is_json(c))


def _is_json(column: str) -> bool:
    return column.endswith("_json") or column == "input_schema"


def _cols(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(","))


_THREAD = ("thread_id", "threads")
_RUN = ("workflow_run_id", TraceTable.RUNS.value)

#: Tables in dependency order: every table a foreign key points at comes first
#: (``tests/postgres/test_copy.py`` checks this against both schemas). The nullable
#: ``branch_run_id`` of leaf runs and candidates points at branch runs, copied before
#: them too.
TABLES: tuple[TableSpec, ...] = (
    TableSpec("threads", _cols(THREAD_COLUMNS)),
    TableSpec(
        "messages",
        ("id", "thread_id", "role", "content", "item_json", "created_at", "parent_entry_id"),
        parents=(_THREAD,),
        has_seq=False,
    ),
    TableSpec(
        "checkpoints",
        ("thread_id", "checkpoint_id", "state_json", "created_at"),
        parents=(_THREAD,),
        key=("thread_id", "checkpoint_id"),
    ),
    TableSpec(
        "thread_dynamic_tools",
        ("thread_id", "position", "name", "description", "input_schema"),
        parents=(_THREAD,),
        has_seq=False,
        order="thread_id, position",
        key=("thread_id", "position"),
    ),
    TableSpec(
        "thread_goals",
        _cols(GOAL_COLUMNS),
        parents=(_THREAD,),
        has_seq=False,
        order="thread_id",
        key=("thread_id",),
    ),
    TableSpec("jobs", _cols(JOB_COLUMNS)),
    TableSpec(TraceTable.RUNS.value, TRACE_COLUMNS[TraceTable.RUNS]),
    TableSpec(TraceTable.BRANCHES.value, TRACE_COLUMNS[TraceTable.BRANCHES], parents=(_RUN,)),
    TableSpec(TraceTable.LEAVES.value, TRACE_COLUMNS[TraceTable.LEAVES], parents=(_RUN,)),
    TableSpec(
        TraceTable.CONTROL_NODES.value, TRACE_COLUMNS[TraceTable.CONTROL_NODES], parents=(_RUN,)
    ),
    TableSpec(
        TraceTable.CANDIDATES.value,
        TRACE_COLUMNS[TraceTable.CANDIDATES],
        parents=(_RUN, ("control_node_run_id", TraceTable.CONTROL_NODES.value)),
    ),
)

_SPECS = {spec.name: spec for spec in TABLES}

SESSION_INDEX = "session_index"


@dataclass
class TableReport:
    """What happened to one table.

    Attributes:
        name: The table (or ``session_index``).
        source_rows: Rows the source holds (orphans excluded).
        copied: Rows this run inserted into the destination.
        orphans_skipped: Source rows whose parent row is missing: not copied.
        target_rows: Rows the destination holds after the copy.
        source_checksum: Order-independent checksum of the source's rows.
        target_checksum: The same of the destination's rows.
        merged: The copy was a merge: the destination may hold other rows too.
        missing: (merge) Source rows the destination does not hold as they are (a
            row whose key the destination already had with other values).
    """

    name: str
    source_rows: int = 0
    copied: int = 0
    orphans_skipped: int = 0
    target_rows: int = 0
    source_checksum: str = ""
    target_checksum: str = ""
    merged: bool = False
    missing: int = 0

    @property
    def verified(self) -> bool:
        """Counts and checksums agree on both sides (merge: every source row is there)."""
        if self.merged:
            return self.missing == 0
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum


@dataclass
class CopyReport:
    """The result of :func:`copy_store`."""

    source: str
    target: str
    mode: CopyMode = CopyMode.NEW
    tables: list[TableReport] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        """Every table verified."""
        return all(t.verified for t in self.tables)


class _Side(Protocol):
    """A store's tables, read and written as logical rows (text unescaped)."""

    def count(self, spec: TableSpec) -> tuple[int, int]: ...
    def batches(self, spec: TableSpec, size: int) -> Iterator[list[tuple[Any, ...]]]: ...
    def insert(self, spec: TableSpec, rows: Sequence[tuple[Any, ...]]) -> int: ...
    def finish(self) -> None: ...
    def append_index(self, rows: Sequence[tuple[Any, ...]]) -> None: ...


class _SqliteSide:
    def __init__(self, store: StateStore) -> None:
        from .backends.sqlite import SqliteBackend

        backend = store.backend
        assert isinstance(backend, SqliteBackend)
        self._backend = backend

    def _where(self, spec: TableSpec) -> str:
        """The filter keeping rows whose parents are kept (orphans of orphans too)."""
        if not spec.parents:
            return ""
        tests = (
            f"{column} IN (SELECT id FROM {parent}{self._where(_SPECS[parent])})"
            for column, parent in spec.parents
        )
        return " WHERE " + " AND ".join(tests)

    def count(self, spec: TableSpec) -> tuple[int, int]:
        conn = self._backend.connection()
        total = conn.execute(f"SELECT count(*) FROM {spec.name}").fetchone()[0]
        kept = conn.execute(f"SELECT count(*) FROM {spec.name}{self._where(spec)}").fetchone()[0]
        return int(kept), int(total) - int(kept)

    def batches(self, spec: TableSpec, size: int) -> Iterator[list[tuple[Any, ...]]]:
        with self._backend.read(f"failed to read {spec.name}") as conn:
            cur = conn.execute(
                f"SELECT {', '.join(spec.columns)} FROM {spec.name}{self._where(spec)} "
                "ORDER BY rowid"
            )
            while rows := cur.fetchmany(size):
                yield [tuple(r) for r in rows]

    def insert(self, spec: TableSpec, rows: Sequence[tuple[Any, ...]]) -> int:
        marks = ", ".join("?" * len(spec.columns))
        with self._backend.write(f"failed to copy rows into {spec.name}") as conn:
            before = conn.total_changes
            conn.executemany(
                f"INSERT OR IGNORE INTO {spec.name} ({', '.join(spec.columns)}) VALUES ({marks})",
                rows,
            )
            return conn.total_changes - before

    def finish(self) -> None:
        """Nothing: AUTOINCREMENT follows explicit message ids by itself."""

    def append_index(self, rows: Sequence[tuple[Any, ...]]) -> None:
        index = self._backend.session_index
        for row in rows:
            index.append(
                SessionIndexEntry(
                    thread_id=row[0], thread_name=row[1], updated_at=row[2], rollout_path=row[3]
                )
            )


class _PostgresSide:
    def __init__(self, store: StateStore) -> None:
        from .backends.postgres import PostgresBackend

        backend = store.backend
        assert isinstance(backend, PostgresBackend)
        self._conns = backend.connections

    def append_index(self, rows: Sequence[tuple[Any, ...]]) -> None:
        from .backends.postgres.nul import escape, escape_opt
        from .backends.postgres.session_index import ascii_casefold

        with (
            self._conns.write("failed to copy the session index") as conn,
            conn.cursor() as cur,
        ):
            cur.executemany(
                "INSERT INTO session_index (thread_id, thread_name, updated_at, rollout_path, "
                "name_key) VALUES (%s, %s, %s, %s, %s)",
                [
                    (
                        escape(r[0]),
                        escape_opt(r[1]),
                        r[2],
                        escape_opt(r[3]),
                        None if r[1] is None else escape(ascii_casefold(r[1])),
                    )
                    for r in rows
                ],
            )

    def count(self, spec: TableSpec) -> tuple[int, int]:
        with self._conns.call(f"failed to count {spec.name}") as conn:
            row = conn.execute(f"SELECT count(*) FROM {spec.name}").fetchone()
        assert row is not None
        return int(row[0]), 0  # foreign keys: no orphans here

    def batches(self, spec: TableSpec, size: int) -> Iterator[list[tuple[Any, ...]]]:
        from .backends.postgres.nul import unescape_row

        select = ", ".join(f"{c}::text" if _is_json(c) else c for c in spec.columns)
        order = "seq" if spec.has_seq else spec.order
        with (
            self._conns.read(f"failed to read {spec.name}") as conn,
            conn.cursor(name=f"threadloom_copy_{spec.name}") as cur,
        ):
            cur.execute(f"SELECT {select} FROM {spec.name} ORDER BY {order}")
            while rows := cur.fetchmany(size):
                yield [unescape_row(r, spec.json_at) for r in rows]

    def insert(self, spec: TableSpec, rows: Sequence[tuple[Any, ...]]) -> int:
        from .backends.postgres.nul import escape

        json_at = spec.json_at
        marks = ", ".join("%s::json" if i in json_at else "%s" for i in range(len(spec.columns)))
        params = [
            tuple(
                escape(v) if type(v) is str and i not in json_at else v for i, v in enumerate(row)
            )
            for row in rows
        ]
        sql = (
            f"INSERT INTO {spec.name} ({', '.join(spec.columns)}) VALUES ({marks}) "
            "ON CONFLICT DO NOTHING"
        )
        with (
            self._conns.write(f"failed to copy rows into {spec.name}") as conn,
            conn.cursor() as cur,
        ):
            cur.executemany(sql, params)
            return max(cur.rowcount, 0)

    def finish(self) -> None:
        # Explicit ids do not advance the identity sequence: move it past the copied ids.
        with self._conns.call("failed to advance the message id sequence") as conn:
            conn.execute(
                "SELECT setval(pg_get_serial_sequence('messages', 'id'), "
                "GREATEST((SELECT max(id) FROM messages), 1), "
                "(SELECT max(id) FROM messages) IS NOT NULL)"
            )


def _side(store: StateStore) -> _Side:
    from .backends.sqlite import SqliteBackend

    if isinstance(store.backend, SqliteBackend):
        return _SqliteSide(store)
    return _PostgresSide(store)


def _row_hash(row: Sequence[Any]) -> int:
    text = json.dumps(list(row), ensure_ascii=False, separators=(",", ":"), default=str)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest(), "big")


def _checksum(
    side: _Side,
    spec: TableSpec,
    size: int,
    *,
    collect: set[int] | None = None,
    against: set[int] | None = None,
) -> tuple[int, str, int]:
    """Row count and checksum of a table, in one pass.

    Args:
        collect: Receives every row's hash.
        against: Hashes to look each row up in.

    Returns:
        ``(rows, checksum, rows whose hash is not in against)``.
    """
    count = 0
    total = 0
    absent = 0
    for batch in side.batches(spec, size):
        count += len(batch)
        for row in batch:
            digest = _row_hash(row)
            total = (total + digest) % (1 << 256)
            if collect is not None:
                collect.add(digest)
            if against is not None and digest not in against:
                absent += 1
    return count, f"{total:064x}", absent


def _index_rows(store: StateStore) -> list[tuple[Any, ...]]:
    return [
        (e.thread_id, e.thread_name, e.updated_at, e.rollout_path)
        for e in store.session_index_entries()
    ]


def _rows_checksum(rows: Sequence[Sequence[Any]]) -> str:
    total = 0
    for row in rows:
        total = (total + _row_hash(row)) % (1 << 256)
    return f"{total:064x}"


def _compare(
    src: _Side, dst: _Side, spec: TableSpec, size: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The keys of ``spec``'s destination rows that the source does not hold alike.

    Holds the destination's keys (and a hash of each row) in memory.

    Returns:
        ``(foreign, clashes)``: keys of destination rows the source lacks or holds
        with other values, and the keys of the latter (first by source order).
    """
    at = [spec.columns.index(c) for c in spec.key]
    theirs = {
        tuple(row[i] for i in at): _row_hash(row)
        for batch in dst.batches(spec, size)
        for row in batch
    }
    alike: set[tuple[Any, ...]] = set()
    clashes: list[tuple[Any, ...]] = []
    for batch in src.batches(spec, size):
        for row in batch:
            key = tuple(row[i] for i in at)
            held = theirs.get(key)
            if held is None:
                continue
            if held == _row_hash(row):
                alike.add(key)
            else:
                clashes.append(key)
    return [k for k in theirs if k not in alike], clashes


def _keys(spec: TableSpec, keys: Sequence[tuple[Any, ...]], total: int) -> str:
    shown = [
        spec.name + " " + ", ".join(f"{c}={v!r}" for c, v in zip(spec.key, key, strict=True))
        for key in keys[:3]
    ]
    return "; ".join(shown) + ("; ..." if total > 3 else "")


def _check_destination(
    mode: CopyMode,
    src: _Side,
    dst: _Side,
    names: tuple[str, str],
    held: dict[str, int],
    size: int,
) -> None:
    """Refuse a destination ``mode`` does not allow, before anything is written.

    ``resume`` needs every destination row to be a source row (then finishing the copy
    gives the source exactly); ``merge`` needs no key on both sides with different
    values (ids are kept, so such a row could not be copied: a message would stay
    another thread's). Both read the tables holding rows on each side.

    Args:
        names: The source's and the destination's locations.
        held: Rows the destination holds, by table (empty tables left out).

    Raises:
        DestinationNotEmpty: With the reason and the first few offending keys.
    """
    source, where = names
    if not held:
        return
    listed = ", ".join(f"{name} {rows}" for name, rows in held.items())
    if mode is CopyMode.NEW:
        raise DestinationNotEmpty(
            f"the destination {where} is not empty ({listed} rows); nothing was copied. "
            "Copy into an empty store, resume an interrupted copy of this source "
            '(mode="resume"), or merge into it (mode="merge")',
            held,
        )
    for spec in TABLES:
        if not held.get(spec.name):
            continue
        foreign, clashes = _compare(src, dst, spec, size)
        if mode is CopyMode.RESUME and foreign:
            raise DestinationNotEmpty(
                f"the destination {where} does not hold an interrupted copy of {source}: "
                f"{len(foreign)} of its {spec.name} rows are not in the source as they "
                f"are ({_keys(spec, foreign, len(foreign))}); nothing was copied",
                held,
            )
        if mode is CopyMode.MERGE and clashes:
            raise DestinationNotEmpty(
                f"cannot merge into {where}: {len(clashes)} {spec.name} row(s) of the "
                "source have a key the destination holds with other values "
                f"({_keys(spec, clashes, len(clashes))}); nothing was copied (ids are "
                "kept: to add single threads under new ids, export and import them)",
                held,
            )


def copy_store(
    source: StateStore,
    target: StateStore,
    *,
    batch_size: int = 500,
    progress: Progress | None = None,
    mode: CopyMode | str = CopyMode.NEW,
) -> CopyReport:
    """Copy every table of ``source`` into ``target``, then verify both sides.

    Nothing is written until the destination is known to suit ``mode``. After an
    interruption, run it again with ``mode="resume"``: rows already copied are skipped.
    A resume is refused unless every row of the destination is a row of the source;
    a merge is refused when a key (a message id, a thread id...) is on both sides with
    different values: ids are kept, so such rows could not be copied.

    Args:
        source: The store to read (SQLite or PostgreSQL).
        target: The store to fill.
        batch_size: Rows per transaction.
        progress: Called as ``progress(table, rows_done, rows_total)`` after each batch.
        mode: ``new`` (the destination must be empty), ``resume`` (it holds an
            interrupted copy of this source) or ``merge`` (add to what it holds).

    Returns:
        Per-table counts and checksums; ``report.verified`` says whether they agree.

    Raises:
        DestinationNotEmpty: The destination does not suit ``mode`` (nothing written).
        ThreadloomError: A row cannot be written (invalid JSON, a seed-era text
            ``current_leaf_id``), or either store fails.
        ValueError: ``batch_size`` below 1 or an unknown ``mode``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    mode = CopyMode(mode)
    src, dst = _side(source), _side(target)
    report = CopyReport(source=source.backend.location, target=target.backend.location, mode=mode)
    merge = mode is CopyMode.MERGE
    counts: list[tuple[TableReport, int]] = []
    for spec in TABLES:
        table = TableReport(spec.name, merged=merge)
        table.source_rows, table.orphans_skipped = src.count(spec)
        counts.append((table, sum(dst.count(spec))))
    held = {t.name: have for t, have in counts if have}
    _check_destination(mode, src, dst, (report.source, report.target), held, batch_size)
    for spec, (table, have) in zip(TABLES, counts, strict=True):
        report.tables.append(table)
        done = 0
        if have == table.source_rows and not merge:
            done = have  # complete already (verification below still checks it)
        else:
            for batch in src.batches(spec, batch_size):
                try:
                    table.copied += dst.insert(spec, batch)
                except ThreadloomError as exc:
                    raise ThreadloomError(f"copy stopped in table {spec.name}: {exc}") from exc
                done += len(batch)
                if progress is not None:
                    progress(spec.name, done, table.source_rows)
        if progress is not None and done == have:
            progress(spec.name, done, table.source_rows)
    dst.finish()
    # The session index: the latest entry per thread, appended where the target differs.
    wanted = _index_rows(source)
    present = set(_index_rows(target))
    index = TableReport(SESSION_INDEX, source_rows=len(wanted), merged=merge)
    report.tables.append(index)
    for start in range(0, len(wanted), batch_size):
        batch = [row for row in wanted[start : start + batch_size] if row not in present]
        if batch:
            dst.append_index(batch)
            index.copied += len(batch)
        if progress is not None:
            progress(SESSION_INDEX, min(start + batch_size, len(wanted)), len(wanted))
    # Verify: counts and checksums of what both sides now hold.
    for table, spec in zip(report.tables, TABLES, strict=False):
        # A merge checks that each source row is there, so it remembers the target's.
        there: set[int] | None = set() if merge else None
        table.target_rows, table.target_checksum, _ = _checksum(
            dst, spec, batch_size, collect=there
        )
        table.source_rows, table.source_checksum, table.missing = _checksum(
            src, spec, batch_size, against=there
        )
    final = _index_rows(target)
    index.source_checksum = _rows_checksum(wanted)
    index.target_rows, index.target_checksum = len(final), _rows_checksum(final)
    index.missing = len(set(wanted) - set(final))
    return report
