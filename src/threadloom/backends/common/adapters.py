"""The framework adapters' storage, written once for both SQL dialects.

:class:`GraphStorage` implements :class:`~threadloom.contract.GraphOperations` (LangGraph
checkpoints and writes) and :class:`KeyValueStorage`
:class:`~threadloom.contract.KeyValueOperations` (the adapters' JSON documents) over the
backend's own primitives: ``_one``/``_all`` for reads, ``_trace_write`` for a write
transaction of several statements, and ``_core.dialect`` for placeholders and the
stored form of text. The tables are threadloom's own (schema step threadloom-v4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ...contract.graph import GraphCheckpointRow, GraphKey, GraphWriteRow
from ...contract.keyvalue import KeyValueRow
from .queries import CoreDialect, CoreStatements
from .rows import chunks
from .traces import WriteStep

__all__ = ["AdapterStatements", "GraphStorage", "KeyValueStorage"]

CHECKPOINTS = "threadloom_graph_checkpoints"
WRITES = "threadloom_graph_writes"
KV = "threadloom_kv"

_CP_COLUMNS = (
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "parent_checkpoint_id",
    "run_id",
    "type",
    "checkpoint",
    "metadata",
)
_W_COLUMNS = (
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "task_id",
    "task_path",
    "idx",
    "channel",
    "type",
    "value",
)
_KV_COLUMNS = ("namespace", "key", "thread_id", "value", "updated_at")


class AdapterStatements:
    """Every statement of the adapters' tables in one dialect, built once."""

    def __init__(self, d: CoreDialect, *, for_update: str) -> None:
        p = d.param
        self.dialect = d
        cps = ", ".join(_CP_COLUMNS)
        # A thread made by a framework: the original's required columns, nothing more.
        self.ensure_thread = (
            "INSERT INTO threads (id, preview, ephemeral, model_provider, created_at, "
            f"updated_at, status, cwd, cli_version, source, archived) VALUES ({p}, '', 0, "
            f"{p}, {p}, {p}, 'idle', '', '', 'api', 0) ON CONFLICT (id) DO UPDATE SET "
            f"updated_at = {d.greatest}(threads.updated_at, excluded.updated_at)"
        )
        self.put_checkpoint = (
            f"INSERT INTO {CHECKPOINTS} ({cps}, created_at) VALUES ({d.marks(9)}) "
            "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in _CP_COLUMNS[3:])
        )
        insert_write = f"INSERT INTO {WRITES} ({', '.join(_W_COLUMNS)}) VALUES ({d.marks(9)}) "
        conflict = "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) "
        self.put_write_replace = (
            insert_write
            + conflict
            + "DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in ("task_path", "channel", "type", "value"))
        )
        self.put_write_keep = insert_write + conflict + "DO NOTHING"
        select = f"SELECT {cps} FROM {CHECKPOINTS}"
        self.get_one = (
            f"{select} WHERE thread_id = {p} AND checkpoint_ns = {p} AND checkpoint_id = {p}"
        )
        self.get_latest = (
            f"{select} WHERE thread_id = {p} AND checkpoint_ns = {p} "
            "ORDER BY checkpoint_id DESC LIMIT 1"
        )
        self.select_checkpoints = select
        self.order = " ORDER BY checkpoint_id DESC, thread_id DESC, checkpoint_ns DESC LIMIT "
        self.after = f"(checkpoint_id, thread_id, checkpoint_ns) < ({p}, {p}, {p})"
        self.writes_of = (
            f"SELECT {', '.join(_W_COLUMNS)} FROM {WRITES} WHERE thread_id = {p} "
            f"AND checkpoint_ns = {p} AND checkpoint_id IN "
        )
        self.delete_writes_of_thread = f"DELETE FROM {WRITES} WHERE thread_id = {p}"
        self.delete_checkpoints_of_thread = f"DELETE FROM {CHECKPOINTS} WHERE thread_id = {p}"
        self.delete_writes_of_run = (
            f"DELETE FROM {WRITES} WHERE (thread_id, checkpoint_ns, checkpoint_id) IN "
            f"(SELECT thread_id, checkpoint_ns, checkpoint_id FROM {CHECKPOINTS} "
            f"WHERE run_id = {p})"
        )
        self.delete_checkpoints_of_run = f"DELETE FROM {CHECKPOINTS} WHERE run_id = {p}"
        self.ensure_copy_target = (
            "INSERT INTO threads (id, preview, ephemeral, model_provider, created_at, "
            "updated_at, status, cwd, cli_version, source, archived) "
            f"SELECT {p}, '', 0, {p}, {p}, {p}, 'idle', '', '', 'api', 0 WHERE EXISTS "
            f"(SELECT 1 FROM {CHECKPOINTS} WHERE thread_id = {p}) ON CONFLICT (id) DO NOTHING"
        )
        self.copy_checkpoints = (
            f"INSERT INTO {CHECKPOINTS} ({cps}, created_at) SELECT {p}, "
            + ", ".join(_CP_COLUMNS[1:])
            + f", created_at FROM {CHECKPOINTS} WHERE thread_id = {p} "
            "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO NOTHING"
        )
        self.copy_writes = (
            f"INSERT INTO {WRITES} ({', '.join(_W_COLUMNS)}) SELECT {p}, "
            + ", ".join(_W_COLUMNS[1:])
            + f" FROM {WRITES} WHERE thread_id = {p} "
            "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO NOTHING"
        )
        # The newest checkpoint of each namespace of a thread stays.
        latest = (
            f"SELECT thread_id, checkpoint_ns, MAX(checkpoint_id) FROM {CHECKPOINTS} "
            f"WHERE thread_id = {p} GROUP BY thread_id, checkpoint_ns"
        )
        self.prune_writes = (
            f"DELETE FROM {WRITES} WHERE thread_id = {p} AND "
            f"(thread_id, checkpoint_ns, checkpoint_id) NOT IN ({latest})"
        )
        self.prune_checkpoints = (
            f"DELETE FROM {CHECKPOINTS} WHERE thread_id = {p} AND "
            f"(thread_id, checkpoint_ns, checkpoint_id) NOT IN ({latest})"
        )

        kvs = ", ".join(_KV_COLUMNS)
        kv_select = f"SELECT {kvs} FROM {KV}"
        self.kv_get = f"{kv_select} WHERE namespace = {p} AND key = {p}"
        self.kv_get_for_update = self.kv_get + for_update
        self.kv_get_many = f"{kv_select} WHERE namespace = {p} AND key IN "
        self.kv_put = (
            f"INSERT INTO {KV} ({kvs}) VALUES ({d.marks(5)}) ON CONFLICT (namespace, key) "
            "DO UPDATE SET thread_id = excluded.thread_id, value = excluded.value, "
            "updated_at = excluded.updated_at"
        )
        self.kv_delete = f"DELETE FROM {KV} WHERE namespace = {p} AND key = {p}"
        self.kv_prefix = (
            f"{kv_select} WHERE namespace = {p} AND key >= {p} AND key < {p} ORDER BY key LIMIT {p}"
        )
        self.kv_all = f"{kv_select} WHERE namespace = {p} ORDER BY key LIMIT {p}"
        self.clear_leaf = f"UPDATE threads SET current_leaf_id = NULL WHERE id = {p}"

    # -- codec -------------------------------------------------------------------------

    def stored(self, *values: Any) -> tuple[Any, ...]:
        """Parameters in their stored form (text escaped where the engine needs it)."""
        return self.dialect.stored(values)

    def text(self, value: Any) -> Any:
        """A stored text read back."""
        return self.dialect.text(value) if type(value) is str else value

    def checkpoint(self, row: Sequence[Any]) -> GraphCheckpointRow:
        t = self.text
        return GraphCheckpointRow(
            t(row[0]),
            t(row[1]),
            t(row[2]),
            t(row[3]),
            t(row[4]),
            t(row[5]),
            None if row[6] is None else bytes(row[6]),
            row[7],
        )

    def write(self, row: Sequence[Any]) -> GraphWriteRow:
        t = self.text
        return GraphWriteRow(
            t(row[0]),
            t(row[1]),
            t(row[2]),
            t(row[3]),
            t(row[4]),
            int(row[5]),
            t(row[6]),
            t(row[7]),
            None if row[8] is None else bytes(row[8]),
        )

    def kv(self, row: Sequence[Any]) -> KeyValueRow:
        t = self.text
        return KeyValueRow(t(row[0]), t(row[1]), t(row[2]), row[3], float(row[4]))


class _AdapterBase:
    """The primitives both mixins use (the backend supplies them)."""

    _adapter_sql: ClassVar[AdapterStatements]
    _core: ClassVar[CoreStatements]

    def _one(self, what: str, sql: str, params: Any = ()) -> Sequence[Any] | None:
        raise NotImplementedError

    def _all(self, what: str, sql: str, params: Any = ()) -> list[Any]:
        raise NotImplementedError

    def _trace_write(self, what: str, steps: Sequence[WriteStep]) -> list[int]:
        raise NotImplementedError


def _marks(param: str, count: int) -> str:
    return "(" + ", ".join([param] * count) + ")"


class GraphStorage(_AdapterBase):
    """:class:`~threadloom.contract.GraphOperations` over the backend's primitives."""

    def put_graph_checkpoint(self, row: GraphCheckpointRow, now: int) -> None:
        q = self._adapter_sql
        self._trace_write(
            f"failed to save a graph checkpoint of thread {row.thread_id}",
            [
                (q.ensure_thread, [q.stored(row.thread_id, "langgraph", now, now)]),
                (
                    q.put_checkpoint,
                    [
                        (
                            *q.stored(
                                row.thread_id,
                                row.checkpoint_ns,
                                row.checkpoint_id,
                                row.parent_checkpoint_id,
                                row.run_id,
                                row.type,
                            ),
                            row.checkpoint,
                            row.metadata,
                            now,
                        )
                    ],
                ),
            ],
        )

    def put_graph_writes(self, rows: Sequence[GraphWriteRow], *, replace: bool, now: int) -> None:
        if not rows:
            return
        q = self._adapter_sql
        batch = [
            (
                *q.stored(r.thread_id, r.checkpoint_ns, r.checkpoint_id, r.task_id, r.task_path),
                r.idx,
                *q.stored(r.channel, r.type),
                r.value,
            )
            for r in rows
        ]
        sql = q.put_write_replace if replace else q.put_write_keep
        # LangGraph may save a task's writes before the thread's first checkpoint lands
        # (its checkpoints are saved in the background): the thread is made here too.
        thread = [q.stored(rows[0].thread_id, "langgraph", now, now)]
        self._trace_write(
            f"failed to save graph writes of thread {rows[0].thread_id}",
            [(q.ensure_thread, thread), (sql, batch)],
        )

    def get_graph_checkpoint(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None
    ) -> GraphCheckpointRow | None:
        q = self._adapter_sql
        what = f"failed to read a graph checkpoint of thread {thread_id}"
        if checkpoint_id is None:
            row = self._one(what, q.get_latest, q.stored(thread_id, checkpoint_ns))
        else:
            row = self._one(what, q.get_one, q.stored(thread_id, checkpoint_ns, checkpoint_id))
        return None if row is None else q.checkpoint(row)

    def list_graph_checkpoints(
        self,
        *,
        thread_id: str | None,
        checkpoint_ns: str | None,
        checkpoint_id: str | None,
        before: str | None,
        after_key: GraphKey | None,
        limit: int,
    ) -> list[GraphCheckpointRow]:
        q = self._adapter_sql
        p = q.dialect.param
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("thread_id", thread_id),
            ("checkpoint_ns", checkpoint_ns),
            ("checkpoint_id", checkpoint_id),
        ):
            if value is not None:
                where.append(f"{column} = {p}")
                params.extend(q.stored(value))
        if before is not None:
            where.append(f"checkpoint_id < {p}")
            params.extend(q.stored(before))
        if after_key is not None:
            where.append(q.after)
            thread, ns, cid = after_key
            params.extend(q.stored(cid, thread, ns))
        sql = q.select_checkpoints
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += q.order + p
        rows = self._all("failed to list graph checkpoints", sql, (*params, limit))
        return [q.checkpoint(row) for row in rows]

    def graph_writes_of(self, keys: Sequence[GraphKey]) -> list[GraphWriteRow]:
        q = self._adapter_sql
        groups: dict[tuple[str, str], list[str]] = {}
        for thread_id, ns, cid in keys:
            groups.setdefault((thread_id, ns), []).append(cid)
        found: list[GraphWriteRow] = []
        for (thread_id, ns), ids in groups.items():
            for chunk in chunks(ids):
                sql = q.writes_of + _marks(q.dialect.param, len(chunk))
                rows = self._all(
                    f"failed to read graph writes of thread {thread_id}",
                    sql,
                    q.stored(thread_id, ns, *chunk),
                )
                found.extend(q.write(row) for row in rows)
        return found

    def delete_graph_threads(self, thread_ids: Sequence[str]) -> None:
        if not thread_ids:
            return
        q = self._adapter_sql
        batch = [q.stored(t) for t in thread_ids]
        self._trace_write(
            "failed to delete graph checkpoints",
            [(q.delete_writes_of_thread, batch), (q.delete_checkpoints_of_thread, batch)],
        )

    def delete_graph_runs(self, run_ids: Sequence[str]) -> None:
        if not run_ids:
            return
        q = self._adapter_sql
        batch = [q.stored(r) for r in run_ids]
        self._trace_write(
            "failed to delete graph runs",
            [(q.delete_writes_of_run, batch), (q.delete_checkpoints_of_run, batch)],
        )

    def copy_graph_thread(self, source: str, target: str, now: int) -> None:
        q = self._adapter_sql
        self._trace_write(
            f"failed to copy graph thread {source} to {target}",
            [
                (q.ensure_copy_target, [q.stored(target, "langgraph", now, now, source)]),
                (q.copy_checkpoints, [q.stored(target, source)]),
                (q.copy_writes, [q.stored(target, source)]),
            ],
        )

    def prune_graph_threads(self, thread_ids: Sequence[str], *, keep_latest: bool) -> None:
        if not thread_ids:
            return
        q = self._adapter_sql
        if not keep_latest:
            self.delete_graph_threads(thread_ids)
            return
        batch = [q.stored(t, t) for t in thread_ids]
        self._trace_write(
            "failed to prune graph checkpoints",
            [(q.prune_writes, batch), (q.prune_checkpoints, batch)],
        )


def _prefix_end(prefix: str) -> str:
    """The smallest text above every text starting with ``prefix`` (bytewise)."""
    stripped = prefix.rstrip("\U0010ffff")
    if not stripped:
        return "\U0010ffff" * (len(prefix) + 1)
    return stripped[:-1] + chr(ord(stripped[-1]) + 1)


class KeyValueStorage(_AdapterBase):
    """:class:`~threadloom.contract.KeyValueOperations` over the backend's primitives."""

    def get_value(
        self, namespace: str, key: str, *, for_update: bool = False
    ) -> KeyValueRow | None:
        q = self._adapter_sql
        sql = q.kv_get_for_update if for_update else q.kv_get
        row = self._one(f"failed to read {namespace} {key}", sql, q.stored(namespace, key))
        return None if row is None else q.kv(row)

    def get_values(self, namespace: str, keys: Sequence[str]) -> list[KeyValueRow]:
        q = self._adapter_sql
        found: list[KeyValueRow] = []
        for chunk in chunks(list(keys)):
            sql = q.kv_get_many + _marks(q.dialect.param, len(chunk))
            rows = self._all(f"failed to read {namespace}", sql, q.stored(namespace, *chunk))
            found.extend(q.kv(row) for row in rows)
        return found

    def put_value(self, row: KeyValueRow) -> None:
        q = self._adapter_sql
        params = (*q.stored(row.namespace, row.key, row.thread_id), row.value, row.updated_at)
        self._trace_write(f"failed to save {row.namespace} {row.key}", [(q.kv_put, [params])])

    def delete_value(self, namespace: str, key: str) -> bool:
        q = self._adapter_sql
        counts = self._trace_write(
            f"failed to delete {namespace} {key}", [(q.kv_delete, [q.stored(namespace, key)])]
        )
        return counts[0] > 0

    def list_values(self, namespace: str, prefix: str, limit: int) -> list[KeyValueRow]:
        q = self._adapter_sql
        what = f"failed to list {namespace}"
        if prefix:
            rows = self._all(
                what, q.kv_prefix, (*q.stored(namespace, prefix, _prefix_end(prefix)), limit)
            )
        else:
            rows = self._all(what, q.kv_all, (*q.stored(namespace), limit))
        return [q.kv(row) for row in rows]

    def clear_current_leaf(self, thread_id: str) -> bool:
        q = self._adapter_sql
        counts = self._trace_write(
            f"failed to reset the branch of thread {thread_id}",
            [(q.clear_leaf, [q.stored(thread_id)])],
        )
        return counts[0] > 0
