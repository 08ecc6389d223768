"""The data lifecycle, written once for both SQL dialects: idempotent writes, retention
selections, stored settings and compare-and-set rewrites of stored values.

Every write here runs in one transaction that first locks the thread row (the
dialect's ``lock_thread``: SQLite's write lock is exclusive already, PostgreSQL takes
``FOR NO KEY UPDATE``), so two processes sending the same idempotency key serialize
and the second finds the first's key; a retention deletion re-checks its reason under
the same lock, so a thread a writer touched meanwhile is spared.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar

from ...contract.lifecycle import (
    IDEMPOTENCY_TABLE,
    SETTINGS_TABLE,
    CheckpointRef,
    IdempotentWrite,
    SealedColumn,
    SealedValue,
)
from ...errors import Conflict, NotFound
from ...records import ThreadMetadata
from .rows import THREAD_COLUMNS

if TYPE_CHECKING:
    from .queries import CoreStatements

__all__ = ["LifecycleQueries"]

# A key past its time, or left behind by a thread deleted without foreign keys (the
# original deletes that way). {p} is the dialect's placeholder.
_EXPIRED_SHAPE = (
    "(created_at < {p} OR NOT EXISTS (SELECT 1 FROM threads t WHERE t.id = "
    + IDEMPOTENCY_TABLE
    + ".thread_id))"
)


class LifecycleQueries:
    """:class:`~threadloom.contract.lifecycle.LifecycleOperations` over a backend's
    core statements (mixed into both backends beside ``CoreQueries``)."""

    _core: ClassVar[CoreStatements]
    #: The stored size in bytes of a text expression (``{}`` is the expression).
    _octets: ClassVar[str] = "LENGTH(CAST({} AS BLOB))"

    if TYPE_CHECKING:  # supplied by CoreQueries (TransactionalBackend) and the backend

        def read(self, what: str) -> AbstractContextManager[Any]: ...

        def write(self, what: str) -> AbstractContextManager[Any]: ...

        def append_message(
            self, thread_id: str, role: str, content: str, item_json: str | None, now: int
        ) -> int: ...

        def fork_at_message(
            self, message_id: int, role: str, content: str, item_json: str | None, now: int
        ) -> int: ...

        def save_checkpoint(
            self, thread_id: str, checkpoint_id: str, state_json: str, now: int
        ) -> None: ...

        def delete_thread(self, thread_id: str) -> bool: ...

        def _has_lifecycle_tables(self) -> bool: ...

    # -- idempotent writes -----------------------------------------------------------

    def _claim(
        self,
        conn: Any,
        thread_key: str,
        once: IdempotentWrite,
        operation: str,
        live: str | None,
    ) -> str | bool | None:
        """The recorded result of ``once.key`` on the thread (its row locked by the
        caller), or ``False`` when the write must happen.

        A key past its time, or whose message is gone (``clear_messages``, a deletion
        by the original that left the key behind), is not a hit.

        Raises:
            Conflict: The key was used for another operation or other content.
        """
        d = self._core.dialect
        p = d.param
        row = conn.execute(
            f"SELECT operation, fingerprint, result, created_at FROM {IDEMPOTENCY_TABLE} "
            f"WHERE thread_id = {p} AND key = {p}",
            (thread_key, d.key(once.key)),
        ).fetchone()
        if row is None or row[3] < once.valid_after:
            return False
        result: str | None = row[2]
        if (
            live is not None
            and result is not None
            and conn.execute(live, (int(result), thread_key)).fetchone() is None
        ):
            return False
        if row[0] != operation or row[1] != once.fingerprint:
            what = "another operation" if row[0] != operation else "different content"
            raise Conflict(
                f"idempotency key {once.key!r} of thread {d.text(thread_key)} was used for "
                f"{what} (the first write is kept; use a new key for a new write)"
            )
        return result

    def _record(
        self,
        conn: Any,
        thread_key: str,
        once: IdempotentWrite,
        operation: str,
        result: str | None,
        now: int,
    ) -> None:
        d = self._core.dialect
        conn.execute(
            f"INSERT INTO {IDEMPOTENCY_TABLE} "
            "(thread_id, key, operation, fingerprint, result, created_at) "
            f"VALUES ({d.marks(6)}) ON CONFLICT (thread_id, key) DO UPDATE SET "
            "operation = excluded.operation, fingerprint = excluded.fingerprint, "
            "result = excluded.result, created_at = excluded.created_at",
            (thread_key, d.key(once.key), operation, once.fingerprint, result, now),
        )

    def _lock(self, conn: Any, thread_key: str, thread_id: str) -> None:
        if conn.execute(self._core.lock_thread, (thread_key,)).fetchone() is None:
            raise NotFound(f"thread {thread_id} not found")

    def _live_message(self) -> str:
        p = self._core.dialect.param
        return f"SELECT 1 FROM messages WHERE id = {p} AND thread_id = {p}"

    def append_message_once(
        self,
        thread_id: str,
        once: IdempotentWrite,
        role: str,
        content: str,
        item_json: str | None,
        now: int,
    ) -> int:
        key = self._core.dialect.key(thread_id)
        with self.write(f"failed to append message to thread {thread_id}") as conn:
            self._lock(conn, key, thread_id)
            hit = self._claim(conn, key, once, "append_message", self._live_message())
            if hit is not False:
                return int(str(hit))
            new_id = self.append_message(thread_id, role, content, item_json, now)
            self._record(conn, key, once, "append_message", str(new_id), now)
            return new_id

    def fork_at_message_once(
        self,
        message_id: int,
        once: IdempotentWrite,
        role: str,
        content: str,
        item_json: str | None,
        now: int,
    ) -> int:
        q = self._core
        with self.write(f"failed to fork at message {message_id}") as conn:
            row = conn.execute(q.message_thread, (message_id,)).fetchone()
            if row is None:
                raise NotFound(f"message {message_id} not found")
            key = row[0]
            self._lock(conn, key, q.dialect.text(key))
            hit = self._claim(conn, key, once, "fork_at_message", self._live_message())
            if hit is not False:
                return int(str(hit))
            new_id = self.fork_at_message(message_id, role, content, item_json, now)
            self._record(conn, key, once, "fork_at_message", str(new_id), now)
            return new_id

    def save_checkpoint_once(
        self,
        thread_id: str,
        once: IdempotentWrite,
        checkpoint_id: str,
        state_json: str,
        now: int,
    ) -> None:
        key = self._core.dialect.key(thread_id)
        what = f"failed to save checkpoint {checkpoint_id} of thread {thread_id}"
        with self.write(what) as conn:
            self._lock(conn, key, thread_id)
            if self._claim(conn, key, once, "save_checkpoint", None) is not False:
                return
            self.save_checkpoint(thread_id, checkpoint_id, state_json, now)
            self._record(conn, key, once, "save_checkpoint", checkpoint_id, now)

    def purge_idempotency_keys(self, before: int, limit: int) -> int:
        if not self._has_lifecycle_tables():
            return 0
        p = self._core.dialect.param
        with self.write("failed to purge idempotency keys") as conn:
            count: int = conn.execute(
                f"DELETE FROM {IDEMPOTENCY_TABLE} WHERE (thread_id, key) IN "
                f"(SELECT thread_id, key FROM {IDEMPOTENCY_TABLE} WHERE {_EXPIRED_SHAPE.format(p=p)} LIMIT {p})",
                (before, limit),
            ).rowcount
            return count

    def count_idempotency_keys(self, before: int) -> int:
        if not self._has_lifecycle_tables():
            return 0
        p = self._core.dialect.param
        with self.read("failed to count idempotency keys") as conn:
            row = conn.execute(
                f"SELECT COUNT(*) FROM {IDEMPOTENCY_TABLE} WHERE {_EXPIRED_SHAPE.format(p=p)}",
                (before,),
            ).fetchone()
        return int(row[0])

    # -- retention -------------------------------------------------------------------

    def checkpoints_beyond(self, keep: int) -> list[CheckpointRef]:
        d = self._core.dialect
        with self.read("failed to select checkpoints") as conn:
            rows = conn.execute(
                "SELECT thread_id, checkpoint_id, created_at FROM ("
                "SELECT thread_id, checkpoint_id, created_at, ROW_NUMBER() OVER ("
                f"PARTITION BY thread_id ORDER BY created_at DESC, {d.insertion_order} DESC"
                f") AS n FROM checkpoints) AS ranked WHERE n > {d.param} "
                "ORDER BY thread_id, n",
                (keep,),
            ).fetchall()
        return [CheckpointRef(d.text(r[0]), d.text(r[1]), int(r[2])) for r in rows]

    def delete_checkpoints_unchanged(self, refs: Sequence[CheckpointRef]) -> int:
        d = self._core.dialect
        p = d.param
        sql = (
            f"DELETE FROM checkpoints WHERE thread_id = {p} AND checkpoint_id = {p} "
            f"AND created_at = {p}"
        )
        count = 0
        with self.write("failed to delete checkpoints") as conn:
            for ref in refs:
                count += conn.execute(
                    sql, (d.key(ref.thread_id), d.key(ref.checkpoint_id), ref.created_at)
                ).rowcount
        return count

    def idle_threads(self, before: int, *, archived_only: bool) -> list[ThreadMetadata]:
        q = self._core
        d = q.dialect
        p = d.param
        archived = "AND t.archived != 0 " if archived_only else ""
        with self.read("failed to select idle threads") as conn:
            rows = conn.execute(
                f"SELECT {THREAD_COLUMNS} FROM threads t WHERE t.updated_at < {p} {archived}"
                "AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = t.id "
                f"AND m.created_at >= {p}) ORDER BY t.updated_at DESC, "
                f"t.{d.insertion_order} DESC",
                (before, before),
            ).fetchall()
        return [q.thread(row) for row in rows]

    def delete_thread_if_idle(
        self, thread_id: str, *, updated_at: int, since: int, archived_only: bool
    ) -> bool:
        q = self._core
        d = q.dialect
        p = d.param
        key = d.key(thread_id)
        with self.write(f"failed to delete thread {thread_id}") as conn:
            row = conn.execute(
                f"SELECT updated_at, archived FROM threads WHERE id = {p}{d.lock_thread}", (key,)
            ).fetchone()
            if row is None or row[0] > updated_at or (archived_only and not row[1]):
                return False
            busy = conn.execute(
                f"SELECT 1 FROM messages WHERE thread_id = {p} AND created_at >= {p} LIMIT 1",
                (key, since),
            ).fetchone()
            if busy is not None:
                return False
            return self.delete_thread(thread_id)

    def thread_stored_bytes(self) -> dict[str, int]:
        d = self._core.dialect
        octets = self._octets
        sql = (
            "SELECT thread_id, SUM(n) FROM ("
            f"SELECT thread_id, {octets.format('content')} + "
            f"COALESCE({octets.format('item_json' + d.json_casts[1])}, 0) AS n FROM messages "
            f"UNION ALL SELECT thread_id, {octets.format('state_json' + d.json_casts[1])} "
            "FROM checkpoints) AS sizes GROUP BY thread_id"
        )
        with self.read("failed to measure threads") as conn:
            rows = conn.execute(sql).fetchall()
        return {d.text(r[0]): int(r[1]) for r in rows}

    # -- settings --------------------------------------------------------------------

    def get_setting(self, name: str) -> str | None:
        if not self._has_lifecycle_tables():
            return None
        d = self._core.dialect
        with self.read(f"failed to read setting {name}") as conn:
            row = conn.execute(
                f"SELECT value FROM {SETTINGS_TABLE} WHERE name = {d.param}", (name,)
            ).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, name: str, value: str | None, now: int) -> None:
        d = self._core.dialect
        p = d.param
        with self.write(f"failed to store setting {name}") as conn:
            if value is None:
                conn.execute(f"DELETE FROM {SETTINGS_TABLE} WHERE name = {p}", (name,))
                return
            conn.execute(
                f"INSERT INTO {SETTINGS_TABLE} (name, value, updated_at) VALUES ({d.marks(3)}) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (name, value, now),
            )

    def swap_setting(self, name: str, expected: str | None, value: str, now: int) -> bool:
        d = self._core.dialect
        p = d.param
        with self.write(f"failed to store setting {name}") as conn:
            if expected is None:
                changed: int = conn.execute(
                    f"INSERT INTO {SETTINGS_TABLE} (name, value, updated_at) "
                    f"VALUES ({d.marks(3)}) ON CONFLICT (name) DO NOTHING",
                    (name, value, now),
                ).rowcount
            else:
                changed = conn.execute(
                    f"UPDATE {SETTINGS_TABLE} SET value = {p}, updated_at = {p} "
                    f"WHERE name = {p} AND value = {p}",
                    (value, now, name, expected),
                ).rowcount
            return changed > 0

    # -- rewriting stored values -----------------------------------------------------

    def scan_column(
        self, column: SealedColumn, after: tuple[object, ...] | None, limit: int
    ) -> list[SealedValue]:
        d = self._core.dialect
        p = d.param
        keys = ", ".join(column.key)
        read = column.column + (d.json_casts[1] if column.json else "")
        where = ""
        params: list[object] = []
        if after is not None:
            where = f"WHERE ({keys}) > ({d.marks(len(column.key))}) "
            params.extend(after)
        params.append(limit)
        with self.read(f"failed to read {column.table}.{column.column}") as conn:
            rows = conn.execute(
                f"SELECT {keys}, {read} FROM {column.table} {where}ORDER BY {keys} LIMIT {p}",
                params,
            ).fetchall()
        n = len(column.key)
        return [
            SealedValue(
                tuple(r[:n]),
                r[n] if column.json or r[n] is None else d.text(r[n]),
            )
            for r in rows
        ]

    def rewrite_column(
        self, column: SealedColumn, changes: Sequence[tuple[SealedValue, str | None]]
    ) -> int:
        d = self._core.dialect
        p = d.param
        json_in, json_out = d.json_casts if column.json else ("", "")
        match = " AND ".join(f"{k} = {p}" for k in column.key)
        sql = (
            f"UPDATE {column.table} SET {column.column} = {p}{json_in} "
            f"WHERE {match} AND {column.column}{json_out} = {p}"
        )

        def stored(value: str | None) -> str | None:
            return value if value is None or column.json else d.key(value)

        count = 0
        with self.write(f"failed to rewrite {column.table}.{column.column}") as conn:
            for old, new in changes:
                if old.value is None:
                    continue
                count += conn.execute(sql, (stored(new), *old.key, stored(old.value))).rowcount
        return count
