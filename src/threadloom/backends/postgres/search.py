"""Full-text search in PostgreSQL: ``tsvector`` documents with GIN indexes, in tables of
threadloom's own, caught up from a watermark as on SQLite.

The text is normalized in Python first (:mod:`threadloom.search.text`), then given to
``to_tsvector`` with the configured text search configuration (``simple`` by default:
no stemming, no stop words; ``english`` and the others stem). The query is built from
the parsed :class:`~threadloom.search.query.Query` as ``to_tsquery`` text of quoted
lexemes (``&``, ``|``, ``!``, ``<->``, ``:*``), so no user text reaches the tsquery
parser as syntax. Snippets are made in Python from the stored text, as on SQLite,
instead of ``ts_headline``: the index holds normalized text (folded accents, CJK
characters, identifier parts) that ``ts_headline`` over the raw text would not mark
the same way, and both backends then give the same snippet.

Ids come from a sequence, so a transaction can commit an id below one already
indexed; a catch-up therefore also looks a window below its watermark for messages
not indexed yet.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import psycopg

from ...contract.search import MessageHitRow, Progress, SearchFilters, ThreadHitRow
from ...errors import InvalidRecord, ReadOnlyError
from ...records import SearchIndexStatus
from ...search.query import Query, Term
from ...search.text import NORMALIZER_VERSION, camel_parts, index_text
from ..common.search import filter_sql, message_document
from .connection import PgConnections
from .nul import escape, unescape

__all__ = ["PgSearch", "tsquery_text"]

STATE = "threadloom_search_state"
DOCS = "threadloom_search_docs"
THREAD_DOCS = "threadloom_search_thread_docs"
#: How far below the watermark a catch-up looks for ids committed late.
LATE_WINDOW = 1000
#: The newest message ids a relevance search ranks first (then eight times more...).
RANKED_WINDOW = 10_000
#: Messages indexed by one catch-up after which the index's statistics are renewed.
ANALYZE_AFTER = 1000
#: Characters of one field given to to_tsvector (a tsvector holds at most 1 MB).
FIELD_CHARS = 200_000

_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {STATE} (key text PRIMARY KEY, value bigint NOT NULL, "
    "config text)",
    f"CREATE TABLE IF NOT EXISTS {DOCS} (message_id bigint PRIMARY KEY, tsv tsvector NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {DOCS}_tsv ON {DOCS} USING gin (tsv)",
    f"CREATE TABLE IF NOT EXISTS {THREAD_DOCS} (thread_id text PRIMARY KEY, title_raw text, "
    "preview_raw text, tsv tsvector NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {THREAD_DOCS}_tsv ON {THREAD_DOCS} USING gin (tsv)",
)
# Weights: content A, item text B, identifier parts C (ts_rank's default weights).
_DOC = (
    "setweight(to_tsvector(%(cfg)s::regconfig, u.c), 'A') || "
    "setweight(to_tsvector(%(cfg)s::regconfig, u.i), 'B') || "
    "setweight(to_tsvector(%(cfg)s::regconfig, u.p), 'C')"
)


def _lexeme(token: str) -> str:
    # Tokens are runs of letters and digits; quoting (and doubling any quote or
    # backslash, of which there are none) keeps tsquery syntax out regardless.
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def _term(term: Term) -> str:
    lexemes = [_lexeme(t) for t in term.tokens]
    if term.prefix:
        lexemes[-1] += ":*"
    return lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")"


def tsquery_text(query: Query) -> str:
    """The query as ``to_tsquery`` text."""
    groups = []
    for group in query.groups:
        terms = [_term(t) for t in group]
        groups.append(terms[0] if len(terms) == 1 else "(" + " | ".join(terms) + ")")
    text = " & ".join(groups)
    for term in query.excluded:
        text += f" & !{_term(term)}"
    return text


class PgSearch:
    """:class:`~threadloom.contract.SearchOperations` of :class:`PostgresBackend`."""

    _conns: PgConnections
    read_only: bool
    #: The text search configuration (``search_config=`` when opening).
    search_config: str = "simple"
    _checked_config = False

    _index_seen = False

    def _index_ready(self, conn: psycopg.Connection[Any]) -> bool:
        """Whether the index exists for this configuration (asked until it does)."""
        if not self._index_seen:
            self._index_seen = self._state(conn, self._config(conn)) is not None
        return self._index_seen

    def _config(self, conn: psycopg.Connection[Any]) -> str:
        if not self._checked_config:
            row = conn.execute(
                "SELECT count(*) FROM pg_ts_config WHERE cfgname = %s", (self.search_config,)
            ).fetchone()
            if not row or not row[0]:
                raise InvalidRecord(
                    f"search_config {self.search_config!r} is not a text search configuration "
                    "of this server (see \\dF in psql; 'simple' is always there)"
                )
            self._checked_config = True
        return self.search_config

    @staticmethod
    def _state(conn: psycopg.Connection[Any], config: str) -> dict[str, int] | None:
        row = conn.execute(
            f"SELECT to_regclass('{STATE}') IS NOT NULL AND to_regclass('{DOCS}') IS NOT NULL "
            f"AND to_regclass('{THREAD_DOCS}') IS NOT NULL"
        ).fetchone()
        if not row or not row[0]:
            return None
        rows = conn.execute(f"SELECT key, value, config FROM {STATE}").fetchall()
        state = {str(k): int(v) for k, v, _ in rows}
        configs = {c for k, _, c in rows if k == "version"}
        if state.get("version") != NORMALIZER_VERSION or configs != {config}:
            return None
        return state

    def _writable(self) -> bool:
        if self.read_only:
            return False
        try:
            self._conns.check_writable("failed to update the search index")
        except ReadOnlyError:
            return False
        return True

    # -- catching up ---------------------------------------------------------------

    def _create(self, conn: psycopg.Connection[Any], config: str, rebuild: bool) -> None:
        # One creator at a time (per schema); the others find the tables made.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('threadloom-search'))")
        if not rebuild and self._state(conn, config) is not None:
            return
        for table in (STATE, DOCS, THREAD_DOCS):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in _CREATE:
            conn.execute(statement)
        conn.execute(
            f"INSERT INTO {STATE} (key, value, config) VALUES ('version', %s, %s), "
            "('messages', 0, NULL), ('threads', %s, NULL)",
            (NORMALIZER_VERSION, config, -(2**63)),
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
        # Appends never wait on the index's rows, and two catch-ups only wait for
        # each other's batch: `wait` changes nothing here.
        if batch_size < 1:
            raise InvalidRecord(f"batch_size must be at least 1, got {batch_size}")
        if not self._writable():
            return 0
        what = "failed to update the search index"
        keys = [escape(t) for t in thread_ids]
        with self._conns.call("failed to read the search index") as conn:
            config = self._config(conn)
            state = None if rebuild else self._state(conn, config)
            if state is not None:
                # Read first, write only when there is something to write: a search
                # on an index that is up to date costs no transaction and no commit.
                threads_stale, messages_stale = self._stale(conn, state, keys)
                if not threads_stale and not messages_stale:
                    return 0
        if state is None:
            with self._conns.write(what) as conn:
                self._create(conn, config, rebuild)
        elif not threads_stale:
            return self._index_messages(config, batch_size, progress)
        self._sync_threads(config, thread_ids, full=rebuild)
        return self._index_messages(config, batch_size, progress)

    @staticmethod
    def _stale(
        conn: psycopg.Connection[Any], state: dict[str, int], keys: list[str]
    ) -> tuple[bool, bool]:
        """Whether threads, and messages, wait to be indexed (read without locking)."""
        row = conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM threads t LEFT JOIN {THREAD_DOCS} d "
            "ON d.thread_id = t.id WHERE (t.updated_at >= %(mark)s OR t.id = ANY(%(keys)s)) AND "
            "(d.thread_id IS NULL OR t.title IS DISTINCT FROM d.title_raw "
            "OR t.preview IS DISTINCT FROM d.preview_raw OR t.updated_at > %(mark)s)), "
            # Both sides bounded below: the planner may hash either, never a whole table.
            f"EXISTS (SELECT 1 FROM messages m WHERE m.id > %(low)s AND NOT EXISTS "
            f"(SELECT 1 FROM {DOCS} d WHERE d.message_id = m.id AND d.message_id > %(low)s))",
            {
                "mark": state["threads"],
                "keys": keys,
                "low": max(state["messages"] - LATE_WINDOW, 0),
            },
        ).fetchone()
        assert row is not None
        return bool(row[0]), bool(row[1])

    def _index_messages(self, config: str, batch_size: int, progress: Progress | None) -> int:
        what = "failed to update the search index"
        done = 0
        total = 0
        while True:
            with self._conns.write(what) as conn:
                # The state row serializes catch-ups; appends never touch it.
                mark = _scalar(conn, f"SELECT value FROM {STATE} WHERE key = 'messages' FOR UPDATE")
                if progress is not None and not total:
                    total = _scalar(conn, "SELECT count(*) FROM messages WHERE id > %s", (mark,))
                rows = conn.execute(
                    f"SELECT m.id, m.content, m.item_json::text FROM messages m "
                    f"WHERE m.id > %(low)s AND NOT EXISTS (SELECT 1 FROM {DOCS} d "
                    "WHERE d.message_id = m.id AND d.message_id > %(low)s) "
                    "ORDER BY m.id LIMIT %(n)s",
                    {"low": max(mark - LATE_WINDOW, 0), "n": batch_size},
                ).fetchall()
                if not rows:
                    break
                ids, contents, items, parts = [], [], [], []
                for message_id, content, item_json in rows:
                    c, i, p = message_document(unescape(content), item_json)
                    ids.append(message_id)
                    contents.append(c[:FIELD_CHARS])
                    items.append(i[:FIELD_CHARS])
                    parts.append(p[:FIELD_CHARS])
                conn.execute(
                    f"INSERT INTO {DOCS} (message_id, tsv) SELECT u.id, {_DOC} "
                    "FROM unnest(%(ids)s::bigint[], %(c)s::text[], %(i)s::text[], %(p)s::text[]) "
                    "AS u(id, c, i, p) ON CONFLICT (message_id) DO NOTHING",
                    {"cfg": config, "ids": ids, "c": contents, "i": items, "p": parts},
                )
                conn.execute(
                    f"UPDATE {STATE} SET value = GREATEST(value, %s) WHERE key = 'messages'",
                    (ids[-1],),
                )
            done += len(rows)
            if progress is not None:
                progress(done, max(total, done))
        if done >= ANALYZE_AFTER:
            # Fresh statistics let the planner choose the GIN index for rare words and
            # a backward walk of the ids for common ones (and probe, not hash, the
            # catch-up's look below the watermark).
            with self._conns.call(what, writes=True) as conn:
                conn.execute(f"ANALYZE {DOCS}")
        return done

    def _sync_threads(self, config: str, thread_ids: Collection[str], *, full: bool) -> None:
        cols = "t.id, t.title, t.preview, t.updated_at, d.title_raw, d.preview_raw"
        join = f"FROM threads t LEFT JOIN {THREAD_DOCS} d ON d.thread_id = t.id"
        with self._conns.write("failed to update the search index") as conn:
            mark = _scalar(conn, f"SELECT value FROM {STATE} WHERE key = 'threads' FOR UPDATE")
            if full:
                rows = conn.execute(f"SELECT {cols} {join}").fetchall()
            else:
                rows = conn.execute(
                    f"SELECT {cols} {join} WHERE t.updated_at >= %s OR t.id = ANY(%s)",
                    (mark, [escape(t) for t in thread_ids]),
                ).fetchall()
            changed = [r for r in rows if r[4] != r[1] or r[5] != r[2]]
            newest = max((int(r[3]) for r in rows), default=mark)
            if changed:
                names = [unescape(r[1] or "") for r in changed]
                previews = [unescape(r[2]) for r in changed]
                conn.execute(
                    f"INSERT INTO {THREAD_DOCS} (thread_id, title_raw, preview_raw, tsv) "
                    f"SELECT u.id, u.title, u.preview, {_DOC} FROM unnest(%(ids)s::text[], "
                    "%(titles)s::text[], %(previews)s::text[], %(c)s::text[], %(i)s::text[], "
                    "%(p)s::text[]) AS u(id, title, preview, c, i, p) "
                    "ON CONFLICT (thread_id) DO UPDATE SET title_raw = excluded.title_raw, "
                    "preview_raw = excluded.preview_raw, tsv = excluded.tsv",
                    {
                        "cfg": config,
                        "ids": [r[0] for r in changed],
                        "titles": [r[1] for r in changed],
                        "previews": [r[2] for r in changed],
                        "c": [index_text(n)[:FIELD_CHARS] for n in names],
                        "i": [index_text(p)[:FIELD_CHARS] for p in previews],
                        "p": [
                            " ".join(camel_parts(n) + camel_parts(p))
                            for n, p in zip(names, previews, strict=True)
                        ],
                    },
                )
            if newest > mark:
                conn.execute(f"UPDATE {STATE} SET value = %s WHERE key = 'threads'", (newest,))

    # -- searching -----------------------------------------------------------------

    def search_status(self) -> SearchIndexStatus:
        with self._conns.call("failed to read the search index") as conn:
            newest = _scalar(conn, "SELECT COALESCE(MAX(id), 0) FROM messages")
            state = self._state(conn, self._config(conn))
            mark = 0 if state is None else state["messages"]
            if state is None:
                pending = _scalar(conn, "SELECT count(*) FROM messages")
            else:
                pending = _scalar(
                    conn,
                    f"SELECT count(*) FROM messages m WHERE m.id > %(low)s AND NOT EXISTS "
                    f"(SELECT 1 FROM {DOCS} d WHERE d.message_id = m.id AND d.message_id > %(low)s)",
                    {"low": max(mark - LATE_WINDOW, 0)},
                )
        return SearchIndexStatus(
            engine="tsvector", indexed_through=mark, newest_message=newest, pending=pending
        )

    def search_messages(
        self, query: Query, filters: SearchFilters, *, order: str, limit: int, offset: int
    ) -> list[MessageHitRow]:
        f = filter_sql(filters, "%s", escape)
        recent = order == "recent"
        # Newest first: no score (ts_rank reads every match's tsvector). Best first:
        # among the newest stretch of messages holding enough hits, as on SQLite.
        score = "0.0" if recent else "ts_rank(d.tsv, q)"
        order_by = "d.message_id DESC" if recent else "rank DESC, m.id DESC"
        with self._conns.call("failed to search") as conn:
            config = self._config(conn)
            if not self._index_ready(conn):
                return []  # a read-only store never indexed: nothing to search yet
            newest = _scalar(conn, f"SELECT COALESCE(MAX(message_id), 0) FROM {DOCS}")
            window = RANKED_WINDOW
            while True:
                low = -1 if recent else newest - window
                rows = conn.execute(
                    "SELECT m.id, m.thread_id, t.title, m.role, m.content, m.item_json::text, "
                    f"m.created_at, {score} AS rank FROM {DOCS} d "
                    "JOIN messages m ON m.id = d.message_id JOIN threads t ON t.id = m.thread_id, "
                    "to_tsquery(%s::regconfig, %s) AS q "
                    f"WHERE d.tsv @@ q AND d.message_id > %s{f.messages} "
                    f"ORDER BY {order_by} LIMIT %s OFFSET %s",
                    (config, tsquery_text(query), low, *f.message_params, limit, offset),
                ).fetchall()
                if len(rows) >= limit or low < 0:
                    break
                window *= 8
        return [
            MessageHitRow(
                r[0],
                unescape(r[1]),
                _opt(r[2]),
                unescape(r[3]),
                unescape(r[4]),
                r[5],
                r[6],
                float(r[7]),
            )
            for r in rows
        ]

    def search_threads(
        self, query: Query, filters: SearchFilters, limit: int
    ) -> list[ThreadHitRow]:
        f = filter_sql(filters, "%s", escape)
        with self._conns.call("failed to search") as conn:
            config = self._config(conn)
            if not self._index_ready(conn):
                return []
            rows = conn.execute(
                f"SELECT t.id, t.title, t.preview, t.updated_at, ts_rank(d.tsv, q) FROM {THREAD_DOCS} d "
                "JOIN threads t ON t.id = d.thread_id AND t.title IS NOT DISTINCT FROM d.title_raw "
                "AND t.preview IS NOT DISTINCT FROM d.preview_raw, "
                "to_tsquery(%s::regconfig, %s) AS q "
                f"WHERE d.tsv @@ q{f.threads} ORDER BY t.seq DESC LIMIT %s",
                (config, tsquery_text(query), *f.thread_params, limit),
            ).fetchall()
        return [
            ThreadHitRow(unescape(r[0]), _opt(r[1]), unescape(r[2]), r[3], float(r[4]))
            for r in rows
        ]

    def current_branch_members(self, hits: Mapping[str, Collection[int]]) -> set[int]:
        wanted = {thread_id: ids for thread_id, ids in hits.items() if ids}
        if not wanted:
            return set()
        asked = {i for ids in wanted.values() for i in ids}
        with self._conns.call("failed to read a branch") as conn:
            # Every thread's walk in one statement, each up from its leaf only as far
            # as the smallest id asked about in that thread.
            rows = conn.execute(
                "WITH RECURSIVE b(id, parent, thread_id, low) AS ("
                "SELECT m.id, m.parent_entry_id, m.thread_id, w.low "
                "FROM unnest(%s::text[], %s::bigint[]) AS w(thread_id, low) "
                "JOIN threads t ON t.id = w.thread_id "
                "JOIN messages m ON m.id = t.current_leaf_id AND m.thread_id = t.id "
                "UNION ALL SELECT m.id, m.parent_entry_id, m.thread_id, b.low "
                "FROM messages m JOIN b ON m.id = b.parent "
                "WHERE b.parent < b.id AND b.parent >= b.low AND m.thread_id = b.thread_id) "
                "SELECT id FROM b",
                ([escape(t) for t in wanted], [min(ids) for ids in wanted.values()]),
            ).fetchall()
        return {int(r[0]) for r in rows} & asked


def _scalar(conn: psycopg.Connection[Any], sql: str, params: Any = ()) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def _opt(value: str | None) -> str | None:
    return None if value is None else unescape(value)
