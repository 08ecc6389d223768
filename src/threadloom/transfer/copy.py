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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._sealed_store import known_key_ids, register_key
from ..contract import Backend, CopyTable
from ..errors import Conflict, SchemaError, ThreadloomError
from ..records import SessionIndexEntry
from ..store import StateStore

__all__ = [
    "SESSION_INDEX",
    "CopyMode",
    "CopyReport",
    "DestinationNotEmpty",
    "TableReport",
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
        reason: Why, without the way out (a caller names its own ``mode`` spelling).
        rows: Rows the destination holds, by table (tables holding none are left out).
        modes_help: Whether another ``mode`` would take this destination (it merely
            holds rows); the message then names ``mode="resume"``/``mode="merge"``.
    """

    def __init__(self, reason: str, rows: dict[str, int], *, modes_help: bool = False) -> None:
        way_out = (
            '. Copy into an empty store, resume an interrupted copy of this source (mode="resume"), '
            'or merge into it (mode="merge")'
            if modes_help
            else ""
        )
        super().__init__(reason + way_out)
        self.reason = reason
        self.rows = rows
        self.modes_help = modes_help


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


def _row_hash(row: Sequence[Any]) -> int:
    text = json.dumps(list(row), ensure_ascii=False, separators=(",", ":"), default=str)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest(), "big")


def _checksum(
    side: Backend,
    spec: CopyTable,
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
    for batch in side.read_rows(spec, size):
        count += len(batch)
        for row in batch:
            digest = _row_hash(row)
            total = (total + digest) % (1 << 256)
            if collect is not None:
                collect.add(digest)
            if against is not None and digest not in against:
                absent += 1
    return count, f"{total:064x}", absent


def _index_row(e: SessionIndexEntry) -> tuple[Any, ...]:
    return (e.thread_id, e.thread_name, e.updated_at, e.rollout_path)


def _index_rows(store: StateStore) -> list[tuple[Any, ...]]:
    return [_index_row(e) for e in store.session_index_entries()]


def _rows_checksum(rows: Sequence[Sequence[Any]]) -> str:
    total = 0
    for row in rows:
        total = (total + _row_hash(row)) % (1 << 256)
    return f"{total:064x}"


def _compare(
    src: Backend, dst: Backend, spec: CopyTable, size: int
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
        for batch in dst.read_rows(spec, size)
        for row in batch
    }
    alike: set[tuple[Any, ...]] = set()
    clashes: list[tuple[Any, ...]] = []
    for batch in src.read_rows(spec, size):
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


def _keys(spec: CopyTable, keys: Sequence[tuple[Any, ...]], total: int) -> str:
    shown = [
        spec.name + " " + ", ".join(f"{c}={v!r}" for c, v in zip(spec.key, key, strict=True))
        for key in keys[:3]
    ]
    return "; ".join(shown) + ("; ..." if total > 3 else "")


def _check_destination(
    mode: CopyMode,
    src: Backend,
    dst: Backend,
    tables: Sequence[CopyTable],
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
            f"the destination {where} is not empty ({listed} rows); nothing was copied",
            held,
            modes_help=True,
        )
    for spec in tables:
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
        SchemaError: The two stores' tables differ.
        ThreadloomError: A row cannot be written (invalid JSON, a seed-era text
            ``current_leaf_id``), or either store fails.
        ValueError: ``batch_size`` below 1 or an unknown ``mode``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    mode = CopyMode(mode)
    src, dst = source.backend, target.backend
    tables = src.copy_tables()
    if dst.copy_tables() != tables:
        raise SchemaError(
            f"cannot copy {src.location} into {dst.location}: their tables differ "
            "(run `threadloom migrate` on both with the same threadloom)"
        )
    report = CopyReport(source=src.location, target=dst.location, mode=mode)
    merge = mode is CopyMode.MERGE
    counts: list[tuple[TableReport, int]] = []
    for spec in tables:
        table = TableReport(spec.name, merged=merge)
        counted = src.count_rows(spec)
        table.source_rows, table.orphans_skipped = counted.rows, counted.orphans
        held_rows = dst.count_rows(spec)
        counts.append((table, held_rows.rows + held_rows.orphans))
    held = {t.name: have for t, have in counts if have}
    _check_destination(mode, src, dst, tables, (report.source, report.target), held, batch_size)
    # Sealed values are copied as they are: the target must know it holds them, so that
    # it reads them as EncryptedData without a key rather than as text.
    for key_id in known_key_ids(src):
        register_key(dst, key_id, 0)
    for spec, (table, have) in zip(tables, counts, strict=True):
        report.tables.append(table)
        done = 0
        if have == table.source_rows and not merge:
            done = have  # complete already (verification below still checks it)
        else:
            for batch in src.read_rows(spec, batch_size):
                try:
                    table.copied += dst.write_rows(spec, batch)
                except ThreadloomError as exc:
                    raise ThreadloomError(f"copy stopped in table {spec.name}: {exc}") from exc
                done += len(batch)
                if progress is not None:
                    progress(spec.name, done, table.source_rows)
        if progress is not None and done == have:
            progress(spec.name, done, table.source_rows)
    # The session index: the latest entry per thread, appended where the target differs.
    entries = source.session_index_entries()
    wanted = [_index_row(e) for e in entries]
    present = set(_index_rows(target))
    index = TableReport(SESSION_INDEX, source_rows=len(wanted), merged=merge)
    report.tables.append(index)
    for start in range(0, len(wanted), batch_size):
        missing = [e for e in entries[start : start + batch_size] if _index_row(e) not in present]
        if missing:
            dst.append_index_entries(missing)
            index.copied += len(missing)
        if progress is not None:
            progress(SESSION_INDEX, min(start + batch_size, len(wanted)), len(wanted))
    # Verify: counts and checksums of what both sides now hold.
    for table, spec in zip(report.tables, tables, strict=False):
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
