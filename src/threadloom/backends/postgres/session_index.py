"""The session index as a table: the same lookups and answers as ``session_index.jsonl``.

Each append is a row (the JSONL file's line); a thread's entry is its latest row by
insertion sequence. Names are matched ignoring ASCII case only, ties going to the
entry written last, as the file-backed index does. Rows are never updated, so
concurrent appenders need no lock; compaction deletes only rows that a newer row of
the same thread supersedes, so it cannot drop an entry appended meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...records import SessionIndexEntry
from ...session_index import CompactionReport, DropPolicy, IndexHealth
from .connection import PgConnections
from .nul import escape, escape_opt, unescape_row

__all__ = ["PgSessionIndex", "ascii_casefold"]

#: Compact automatically past this many rows (the original's figure for its file).
DEFAULT_COMPACT_THRESHOLD = 5000

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

_COLUMNS = "thread_id, thread_name, updated_at, rollout_path"
_LATEST = f"SELECT DISTINCT ON (thread_id) {_COLUMNS}, seq, name_key FROM session_index"


def ascii_casefold(name: str) -> str:
    """Lower-case ASCII letters only, like Rust's ``eq_ignore_ascii_case``."""
    return name.translate(_ASCII_LOWER)


def _entry(row: Any) -> SessionIndexEntry:
    values = unescape_row(row)
    return SessionIndexEntry(
        thread_id=values[0], thread_name=values[1], updated_at=values[2], rollout_path=values[3]
    )


class PgSessionIndex:
    """The session index in the ``session_index`` table.

    Args:
        conns: The backend's connections.
        compact_threshold: Row count past which an append compacts the table.
    """

    def __init__(
        self, conns: PgConnections, *, compact_threshold: int = DEFAULT_COMPACT_THRESHOLD
    ) -> None:
        self._conns = conns
        self._compact_threshold = compact_threshold
        self._appended = 0

    def append(self, entry: SessionIndexEntry) -> None:
        """Record ``entry`` as the thread's latest name and path.

        Raises:
            ThreadloomError: The row could not be written.
        """
        name = entry.thread_name
        with self._conns.call(f"failed to index thread {entry.thread_id}", writes=True) as conn:
            conn.execute(
                "INSERT INTO session_index (thread_id, thread_name, updated_at, rollout_path, "
                "name_key) VALUES (%s, %s, %s, %s, %s)",
                (
                    escape(entry.thread_id),
                    escape_opt(name),
                    entry.updated_at,
                    escape_opt(entry.rollout_path),
                    None if name is None else escape(ascii_casefold(name)),
                ),
            )
        # Inside a transaction: if it rolls back, write the entry again (the index is a
        # log of names, not rolled back with the data, as on SQLite).
        self._conns.on_rollback(lambda: self.append(entry))
        # Counting our own appends spares a count per append (as the file index does).
        self._appended += 1
        if self._appended > self._compact_threshold and not self._conns.in_transaction:
            self._appended = 0
            health = self.health()
            if health.lines > self._compact_threshold and health.lines > 2 * health.threads:
                self.compact()

    def get(self, thread_id: str) -> SessionIndexEntry | None:
        """The latest entry of ``thread_id``, or ``None``."""
        with self._conns.call(f"failed to look up thread {thread_id} in the index") as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM session_index WHERE thread_id = %s "
                "ORDER BY seq DESC LIMIT 1",
                (escape(thread_id),),
            ).fetchone()
        return None if row is None else _entry(row)

    def get_many(self, thread_ids: Iterable[str]) -> dict[str, SessionIndexEntry | None]:
        """The latest entry of each id (``None`` for unknown ids)."""
        wanted = list(thread_ids)
        out: dict[str, SessionIndexEntry | None] = dict.fromkeys(wanted)
        if not wanted:
            return out
        with self._conns.call("failed to look up threads in the index") as conn:
            rows = conn.execute(
                f"{_LATEST} WHERE thread_id = ANY(%s) ORDER BY thread_id, seq DESC",
                ([escape(t) for t in dict.fromkeys(wanted)],),
            ).fetchall()
        for row in rows:
            entry = _entry(row)
            out[entry.thread_id] = entry
        return out

    def find_by_name(self, name: str) -> SessionIndexEntry | None:
        """The latest entry named ``name`` (ASCII case ignored), most recently updated.

        Only a thread's latest entry counts (a renamed thread no longer answers to its
        old name); ties on ``updated_at`` go to the entry written last.
        """
        key = escape(ascii_casefold(name))
        with self._conns.call("failed to look up a thread name in the index") as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM ({_LATEST} WHERE thread_id IN "
                "(SELECT thread_id FROM session_index WHERE name_key = %s) "
                "ORDER BY thread_id, seq DESC) latest "
                "WHERE name_key = %s ORDER BY updated_at DESC, seq DESC LIMIT 1",
                (key, key),
            ).fetchone()
        return None if row is None else _entry(row)

    def entries(self) -> list[SessionIndexEntry]:
        """The latest entry of every thread, in the order they were last written."""
        with self._conns.call("failed to read the session index") as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM ({_LATEST} ORDER BY thread_id, seq DESC) latest "
                "ORDER BY seq"
            ).fetchall()
        return [_entry(row) for row in rows]

    def health(self) -> IndexHealth:
        """Rows written, distinct threads, and the table's size; nothing is ever corrupt."""
        with self._conns.call("failed to read the session index") as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT thread_id), "
                "pg_total_relation_size(to_regclass('session_index')) FROM session_index"
            ).fetchone()
        assert row is not None
        return IndexHealth(
            location=f"{self._conns.location} (table session_index)",
            lines=int(row[0]),
            threads=int(row[1]),
            skipped_lines=0,
            torn_tail=False,
            size_bytes=int(row[2] or 0),
        )

    def compact(self, *, drop: DropPolicy | None = None) -> CompactionReport:
        """Delete every row superseded by a newer row of the same thread.

        Args:
            drop: Called with the ids of the threads in the table; every row of the
                ids it returns goes too, unless the thread exists again by then (the
                delete re-checks ``threads`` in the same statement, so a thread
                re-created meanwhile keeps its entry).

        Raises:
            ThreadloomError: The rows could not be deleted.
        """
        with self._conns.write("failed to compact the session index") as conn:
            before = conn.execute("SELECT count(*) FROM session_index").fetchone()
            deleted = conn.execute(
                "DELETE FROM session_index s WHERE EXISTS (SELECT 1 FROM session_index n "
                "WHERE n.thread_id = s.thread_id AND n.seq > s.seq)"
            ).rowcount
            dropped: list[str] = []
            if drop is not None:
                present = [
                    unescape_row(row)[0]
                    for row in conn.execute("SELECT DISTINCT thread_id FROM session_index")
                ]
                wanted = sorted(set(drop(present)) & set(present))
                if wanted:
                    dropped = [
                        unescape_row(row)[0]
                        for row in conn.execute(
                            "DELETE FROM session_index s WHERE s.thread_id = ANY(%s) "
                            "AND NOT EXISTS (SELECT 1 FROM threads t WHERE t.id = s.thread_id) "
                            "RETURNING s.thread_id",
                            ([escape(t) for t in wanted],),
                        )
                    ]
                    deleted += len(dropped)
        lines_before = int(before[0]) if before is not None else 0
        return CompactionReport(
            lines_before=lines_before,
            lines_after=lines_before - deleted,
            skipped_lines=0,
            dropped_threads=tuple(sorted(set(dropped))),
        )

    def close(self) -> None:
        """Nothing to release: the index uses the backend's connections."""
