"""Full-text search in the SQLite file: FTS5 tables of threadloom's own, kept current
from a watermark.

The original's tables get no trigger and no new column: the original (and any SQLite
without FTS5) keeps reading and writing the file as before. A virtual table is only
parsed, never run, when a connection opens the file, so a SQLite without FTS5 opens
it and fails only on a statement that touches these tables, which the original never
runs. Messages written by anyone (the original included) are indexed before the next
search: message ids only grow (AUTOINCREMENT), so everything above the watermark is
new. A message deleted since it was indexed stays in the contentless index but is
joined away (every hit is read back from ``messages`` and ``threads``).

Tables (created on first use, not by a schema step: the index is derived data that
``threadloom search --reindex`` can always rebuild):

- ``threadloom_search``: FTS5, contentless (the text stays in ``messages`` only),
  ``rowid`` = message id, columns content, item, parts.
- ``threadloom_search_threads``: FTS5 over thread names and previews, ``rowid`` =
  the thread's rowid, with the raw name and preview it was built from (a stale row
  never matches).
- ``threadloom_search_state``: the watermarks and the normalizer version.

Where the SQLite in use lacks FTS5, every search scans the messages instead (with a
one-time warning).
"""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path

from ...contract.search import MessageHitRow, Progress, SearchFilters, ThreadHitRow
from ...errors import InvalidRecord, ReadOnlyError, StoreBusy
from ...records import SearchIndexStatus
from ...search.query import Query, Term
from ...search.text import NORMALIZER_VERSION, camel_parts, index_text
from ..common.rows import chunks
from ..common.search import FilterSql, filter_sql, message_document, row_matches
from .connection import ConnectionManager, translate_errors

__all__ = ["SqliteSearch", "fts5_expression"]

FTS = "threadloom_search"
THREAD_FTS = "threadloom_search_threads"
STATE = "threadloom_search_state"

_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {STATE} (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)",
    # The text is normalized before it gets here (search/text.py): unicode61 only
    # splits on the spaces already there.
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5("
    "content, item, parts, content='', tokenize='unicode61 remove_diacritics 0')",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {THREAD_FTS} USING fts5("
    "thread_id UNINDEXED, title_raw UNINDEXED, preview_raw UNINDEXED, name, preview, parts, "
    "tokenize='unicode61 remove_diacritics 0')",
)
# Content counts most; text inside items and identifier parts a little less.
_RANKS = (
    f"INSERT INTO {FTS}({FTS}, rank) VALUES ('rank', 'bm25(1.0, 0.6, 0.4)')",
    f"INSERT INTO {THREAD_FTS}({THREAD_FTS}, rank) VALUES ('rank', 'bm25(0, 0, 0, 1.0, 0.5, 0.3)')",
)

#: The newest message ids a relevance search ranks first (see SqliteSearch._best).
RANKED_WINDOW = 10_000

_warned_scan = False


def _warn_scan_once() -> None:
    global _warned_scan
    if not _warned_scan:
        _warned_scan = True
        warnings.warn(
            "this Python's SQLite has no FTS5: threadloom search reads every message "
            "(slow on a large store); a Python whose sqlite3 has FTS5 searches an index",
            RuntimeWarning,
            stacklevel=4,
        )


def _fts5_term(term: Term) -> str:
    # Tokens are runs of letters and digits (search/text.py): no quote to escape,
    # no operator to smuggle in. Doubling quotes anyway keeps that true by construction.
    body = " ".join(t.replace('"', '""') for t in term.tokens)
    return f'"{body}"' + ("*" if term.prefix else "")


def fts5_expression(query: Query) -> str:
    """The query as an FTS5 MATCH expression (every token quoted)."""
    groups = []
    for group in query.groups:
        terms = [_fts5_term(t) for t in group]
        groups.append(terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")")
    text = " AND ".join(groups)
    if query.excluded:
        text = f"({text}) NOT (" + " OR ".join(_fts5_term(t) for t in query.excluded) + ")"
    return text


class SqliteSearch:
    """:class:`~threadloom.contract.SearchOperations` of :class:`SqliteBackend`."""

    _conns: ConnectionManager
    path: Path
    read_only: bool
    check_writable: Callable[[str], None]
    _has_fts5: bool | None = None

    # -- what the file and the engine have ---------------------------------------

    def _fts5(self, conn: sqlite3.Connection) -> bool:
        if self._has_fts5 is None:
            modules = {row[0] for row in conn.execute("PRAGMA module_list")}
            self._has_fts5 = "fts5" in modules
        return self._has_fts5

    @staticmethod
    def _tables(conn: sqlite3.Connection) -> set[str]:
        return {
            str(row[0])
            for row in conn.execute(
                "SELECT name FROM main.sqlite_master WHERE name IN (?, ?, ?)",
                (FTS, THREAD_FTS, STATE),
            )
        }

    def _state(self, conn: sqlite3.Connection) -> dict[str, int] | None:
        """The index's watermarks, or ``None`` when there is no usable index."""
        if not self._fts5(conn) or len(self._tables(conn)) < 3:
            return None
        state = {str(k): int(v) for k, v in conn.execute(f"SELECT key, value FROM {STATE}")}
        if state.get("version") != NORMALIZER_VERSION:
            return None
        return state

    def _writable(self) -> bool:
        if self.read_only:
            return False
        try:
            self.check_writable("failed to update the search index")
        except ReadOnlyError:
            return False  # inside a snapshot: search what is indexed, scan the rest
        return True

    # -- catching up ---------------------------------------------------------------

    def _create(self, conn: sqlite3.Connection, rebuild: bool) -> None:
        """Create (or, rebuilding or after a normalizer change, recreate) the index."""
        tables = self._tables(conn)
        version = None
        if STATE in tables:
            row = conn.execute(f"SELECT value FROM {STATE} WHERE key = 'version'").fetchone()
            version = None if row is None else int(row[0])
        if rebuild or (tables and version != NORMALIZER_VERSION):
            for table in (FTS, THREAD_FTS, STATE):
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            tables = set()
        if len(tables) == 3:
            return
        for statement in _CREATE:
            conn.execute(statement)
        for statement in _RANKS:
            conn.execute(statement)
        conn.executemany(
            f"INSERT OR REPLACE INTO {STATE}(key, value) VALUES (?, ?)",
            [("version", NORMALIZER_VERSION), ("messages", 0), ("threads", -(2**63))],
        )

    def search_catch_up(
        self,
        *,
        batch_size: int = 5000,
        progress: Progress | None = None,
        thread_ids: Collection[str] = (),
        rebuild: bool = False,
        wait: bool = True,
    ) -> int:
        if batch_size < 1:
            raise InvalidRecord(f"batch_size must be at least 1, got {batch_size}")
        if not self._writable():
            return 0
        if wait:
            return self._catch_up(batch_size, progress, thread_ids, rebuild)
        conn = self._conns.connection()
        with translate_errors("failed to update the search index", self.path):
            saved = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
            # A search does not queue behind another writer: it scans what the
            # index lacks instead (see search_messages).
            conn.execute("PRAGMA busy_timeout = 0")
        try:
            return self._catch_up(batch_size, progress, thread_ids, rebuild)
        except StoreBusy:
            return 0
        finally:
            conn.execute(f"PRAGMA busy_timeout = {saved}")

    def _catch_up(
        self,
        batch_size: int,
        progress: Progress | None,
        thread_ids: Collection[str],
        rebuild: bool,
    ) -> int:
        what = "failed to update the search index"
        with translate_errors(what, self.path):
            conn = self._conns.connection()
            if not self._fts5(conn):
                _warn_scan_once()
                return 0
            state = None if rebuild else self._state(conn)
            if state is None:
                with self._conns.write(what) as wconn:
                    self._create(wconn, rebuild)
                state = self._state(conn)
                assert state is not None
            self._sync_threads(conn, state["threads"], thread_ids, full=rebuild)
            return self._index_messages(conn, state["messages"], batch_size, progress)

    def _index_messages(
        self,
        conn: sqlite3.Connection,
        mark: int,
        batch_size: int,
        progress: Progress | None,
    ) -> int:
        newest = conn.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0]
        if newest <= mark:
            return 0
        total = (
            conn.execute("SELECT COUNT(*) FROM messages WHERE id > ?", (mark,)).fetchone()[0]
            if progress is not None
            else 0
        )
        done = 0
        while True:
            # Read and normalize outside the write lock; write only the finished batch.
            rows = conn.execute(
                "SELECT id, content, item_json FROM messages WHERE id > ? ORDER BY id LIMIT ?",
                (mark, batch_size),
            ).fetchall()
            if not rows:
                return done
            # unicode61 splits and folds ASCII as search/text.py does: ASCII goes in as is.
            docs = [(row[0], *message_document(row[1], row[2], ascii_as_is=True)) for row in rows]
            with self._conns.write("failed to update the search index") as wconn:
                current = wconn.execute(
                    f"SELECT value FROM {STATE} WHERE key = 'messages'"
                ).fetchone()
                if current is None or int(current[0]) != mark:
                    # Another connection indexed meanwhile: start again from its mark.
                    mark = -1 if current is None else int(current[0])
                    if mark < 0:
                        return done
                    continue
                wconn.executemany(
                    f"INSERT INTO {FTS}(rowid, content, item, parts) VALUES (?, ?, ?, ?)", docs
                )
                mark = rows[-1][0]
                wconn.execute(f"UPDATE {STATE} SET value = ? WHERE key = 'messages'", (mark,))
            done += len(rows)
            if progress is not None:
                progress(done, max(total, done))

    def _sync_threads(
        self,
        conn: sqlite3.Connection,
        mark: int,
        thread_ids: Collection[str],
        *,
        full: bool,
    ) -> None:
        """Re-index threads updated at or after the mark (or named, or all), if changed."""
        cols = "t.rowid, t.id, t.title, t.preview, t.updated_at, f.title_raw, f.preview_raw"
        join = f"FROM threads t LEFT JOIN {THREAD_FTS} f ON f.rowid = t.rowid"
        if full:
            rows = conn.execute(f"SELECT {cols} {join}").fetchall()
        else:
            rows = conn.execute(f"SELECT {cols} {join} WHERE t.updated_at >= ?", (mark,)).fetchall()
            for chunk in chunks(sorted(set(thread_ids))):
                marks = ",".join("?" * len(chunk))
                rows += conn.execute(f"SELECT {cols} {join} WHERE t.id IN ({marks})", chunk)
        changed = {r[0]: r for r in rows if r[5] != r[2] or r[6] != r[3]}.values()
        newest = max((r[4] for r in rows if type(r[4]) is int), default=mark)
        if not changed and newest <= mark:
            return
        docs = [
            (
                rowid,
                thread_id,
                title,
                preview,
                index_text(title or ""),
                index_text(preview or ""),
                " ".join(camel_parts(title or "") + camel_parts(preview or "")),
            )
            for rowid, thread_id, title, preview, *_ in changed
        ]
        with self._conns.write("failed to update the search index") as wconn:
            wconn.executemany(f"DELETE FROM {THREAD_FTS} WHERE rowid = ?", [d[:1] for d in docs])
            wconn.executemany(
                f"INSERT INTO {THREAD_FTS}(rowid, thread_id, title_raw, preview_raw, name, "
                "preview, parts) VALUES (?, ?, ?, ?, ?, ?, ?)",
                docs,
            )
            wconn.execute(
                f"UPDATE {STATE} SET value = MAX(value, ?) WHERE key = 'threads'", (newest,)
            )

    # -- searching -----------------------------------------------------------------

    def search_status(self) -> SearchIndexStatus:
        with translate_errors("failed to read the search index", self.path):
            conn = self._conns.connection()
            newest = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0])
            state = self._state(conn)
            mark = 0 if state is None else state["messages"]
            pending = int(
                conn.execute("SELECT COUNT(*) FROM messages WHERE id > ?", (mark,)).fetchone()[0]
            )
        return SearchIndexStatus(
            engine="fts5" if self._fts5(conn) else "scan",
            indexed_through=mark,
            newest_message=newest,
            pending=pending,
        )

    def search_messages(
        self, query: Query, filters: SearchFilters, *, order: str, limit: int, offset: int
    ) -> list[MessageHitRow]:
        with translate_errors("failed to search", self.path):
            conn = self._conns.connection()
            state = self._state(conn)
            if state is None and not self._fts5(conn):
                _warn_scan_once()
            mark = 0 if state is None else state["messages"]
            wanted = offset + limit
            newest = conn.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0]
            # Messages the index does not hold yet (a read-only store or a snapshot
            # cannot index them): matched in Python, newest first, ahead of the rest.
            tail = (
                list(self._scan(conn, query, filters, above=mark, wanted=wanted))
                if newest > mark
                else []
            )
            rows = tail
            if state is not None and len(tail) < wanted:
                rows += self._indexed(conn, query, filters, order, wanted - len(tail), mark)
        return rows[offset:wanted]

    def _scan(
        self,
        conn: sqlite3.Connection,
        query: Query,
        filters: SearchFilters,
        *,
        above: int,
        wanted: int,
    ) -> Iterator[MessageHitRow]:
        f = filter_sql(filters, "?")
        cursor = conn.execute(
            "SELECT m.id, m.thread_id, t.title, m.role, m.content, m.item_json, m.created_at "
            # CROSS JOIN keeps messages the outer loop (newest first, stopping early);
            # the planner would otherwise start from the archived index of threads.
            "FROM messages m CROSS JOIN threads t ON t.id = m.thread_id "
            f"WHERE m.id > ?{f.messages} ORDER BY m.id DESC",
            (above, *f.message_params),
        )
        found = 0
        for row in cursor:
            if found >= wanted:
                break
            if row_matches(query, row[4], row[5]):
                found += 1
                message_id, thread_id, title, role, content, item_json, created_at = row
                yield MessageHitRow(
                    message_id, thread_id, title, role, content, item_json, created_at, 0.0
                )

    def _indexed(
        self,
        conn: sqlite3.Connection,
        query: Query,
        filters: SearchFilters,
        order: str,
        wanted: int,
        newest: int,
    ) -> list[MessageHitRow]:
        f = filter_sql(filters, "?")
        match = fts5_expression(query)
        cols = "m.id, m.thread_id, t.title, m.role, m.content, m.item_json, m.created_at"
        if order == "recent":
            # FTS5 walks its doclists by descending rowid and the joins stop after
            # `wanted` rows: a common word costs no more than a rare one. No score:
            # bm25 counts every match of each term first (its IDF).
            rows = conn.execute(
                f"SELECT {cols}, 0.0 FROM {FTS} s CROSS JOIN messages m ON m.id = s.rowid "
                "CROSS JOIN threads t ON t.id = m.thread_id "
                f"WHERE {FTS} MATCH ?{f.messages} ORDER BY s.rowid DESC LIMIT ?",
                (match, *f.message_params, wanted),
            ).fetchall()
            return [MessageHitRow(*row) for row in rows]
        return self._best(conn, match, f, cols, wanted, newest)

    def _best(
        self,
        conn: sqlite3.Connection,
        match: str,
        f: FilterSql,
        cols: str,
        wanted: int,
        newest: int,
    ) -> list[MessageHitRow]:
        """Best matches first, among the newest stretch of messages that holds enough.

        Ranking scores every match in range; a word in most messages would make that
        seconds. So the range starts at the newest RANKED_WINDOW ids and widens
        eightfold until it holds ``wanted`` hits (after filters, and after the joins
        drop deleted messages) or covers every message.
        """
        window = RANKED_WINDOW
        while True:
            low = newest - window
            rows = conn.execute(
                f"WITH r(id, score) AS (SELECT rowid, rank FROM {FTS} WHERE {FTS} MATCH ? "
                "AND rowid > ? ORDER BY rank) "
                f"SELECT {cols}, -r.score FROM r CROSS JOIN messages m ON m.id = r.id "
                f"CROSS JOIN threads t ON t.id = m.thread_id WHERE 1 = 1{f.messages} "
                "ORDER BY r.score, m.id DESC LIMIT ?",
                (match, low, *f.message_params, wanted),
            ).fetchall()
            if len(rows) >= wanted or low <= 0:
                return [MessageHitRow(*row) for row in rows]
            window *= 8

    def search_threads(
        self, query: Query, filters: SearchFilters, limit: int
    ) -> list[ThreadHitRow]:
        f = filter_sql(filters, "?")
        with translate_errors("failed to search", self.path):
            conn = self._conns.connection()
            if self._state(conn) is None:
                return self._scan_threads(conn, query, filters, limit)
            rows = conn.execute(
                # Newest threads first (by rowid, which FTS5 walks lazily): ordering
                # by updated_at would sort every thread a common word matches.
                f"SELECT t.id, t.title, t.preview, t.updated_at, -s.rank FROM {THREAD_FTS} s "
                "CROSS JOIN threads t ON t.rowid = s.rowid AND t.id = s.thread_id "
                "AND t.title IS s.title_raw AND t.preview IS s.preview_raw "
                f"WHERE {THREAD_FTS} MATCH ?{f.threads} "
                "ORDER BY s.rowid DESC LIMIT ?",
                (fts5_expression(query), *f.thread_params, limit),
            ).fetchall()
        return [ThreadHitRow(*row) for row in rows]

    def _scan_threads(
        self, conn: sqlite3.Connection, query: Query, filters: SearchFilters, limit: int
    ) -> list[ThreadHitRow]:
        from ...search.query import matches

        f = filter_sql(filters, "?")
        out: list[ThreadHitRow] = []
        for row in conn.execute(
            "SELECT t.id, t.title, t.preview, t.updated_at FROM threads t "
            f"WHERE 1 = 1{f.threads} ORDER BY t.rowid DESC",
            f.thread_params,
        ):
            name, preview = row[1] or "", row[2] or ""
            fields = [
                index_text(name).split(),
                index_text(preview).split(),
                camel_parts(name + " " + preview),
            ]
            if matches(query, fields):
                out.append(ThreadHitRow(row[0], row[1], row[2], row[3], 0.0))
                if len(out) >= limit:
                    break
        return out

    def current_branch_members(self, hits: Mapping[str, Collection[int]]) -> set[int]:
        wanted = {thread_id: ids for thread_id, ids in hits.items() if ids}
        if not wanted:
            return set()
        asked = {i for ids in wanted.values() for i in ids}
        values = ", ".join(["(?, ?)"] * len(wanted))
        params = [v for thread_id, ids in wanted.items() for v in (thread_id, min(ids))]
        with translate_errors("failed to read a branch", self.path):
            # Every thread's walk in one statement, each up from its leaf only as far
            # as the smallest id asked about in that thread (a page has at most 1,000
            # hits, so the VALUES list stays far below SQLite's parameter limit).
            rows = (
                self._conns.connection()
                .execute(
                    f"WITH RECURSIVE w(thread_id, low) AS (VALUES {values}), "
                    "b(id, parent, thread_id, low) AS ("
                    "SELECT m.id, m.parent_entry_id, m.thread_id, w.low FROM w "
                    "JOIN threads t ON t.id = w.thread_id "
                    "JOIN messages m ON m.id = t.current_leaf_id AND m.thread_id = t.id "
                    "UNION ALL SELECT m.id, m.parent_entry_id, m.thread_id, b.low "
                    "FROM messages m JOIN b ON m.id = b.parent "
                    "WHERE b.parent < b.id AND b.parent >= b.low AND m.thread_id = b.thread_id) "
                    "SELECT id FROM b",
                    params,
                )
                .fetchall()
            )
        return {int(r[0]) for r in rows} & asked
