"""threadloom as a LangGraph checkpointer (extra ``langgraph``).

:class:`ThreadloomSaver` is a ``BaseCheckpointSaver`` (langgraph-checkpoint 4.x) over
a threadloom store, SQLite or PostgreSQL, with every method sync and async::

    from threadloom.integrations.langgraph import ThreadloomSaver

    with ThreadloomSaver.from_conn_string("agents.db") as saver:
        graph = builder.compile(checkpointer=saver)
        graph.invoke(inputs, {"configurable": {"thread_id": "t-1"}})

Each LangGraph ``thread_id`` is a threadloom thread (a row of ``threads``, so
``threadloom threads`` lists it); checkpoints and pending writes are serialized by
the saver's ``serde`` (``JsonPlusSerializer`` by default) and stored as bytes in
threadloom's own ``threadloom_graph_checkpoints`` and ``threadloom_graph_writes``.
``list`` reads a page of checkpoints and all their writes in two queries, whatever
the page size, walking the primary key newest first (no sort of a whole thread).
"""

from __future__ import annotations

import builtins
import json
import os
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, cast

import orjson

from ..aio import AsyncStateStore
from ..contract import GraphCheckpointRow, GraphKey, GraphWriteRow, KeyValueRow
from ..errors import InvalidRecord
from ..store import StateStore
from ._common import StoreHolder, require

require("langgraph.checkpoint.base", "langgraph", "langgraph-checkpoint>=4")

from langchain_core.runnables import RunnableConfig  # noqa: E402
from langgraph.checkpoint.base import (  # noqa: E402
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol  # noqa: E402

if TYPE_CHECKING:
    from ..contract import Backend

__all__ = ["ThreadloomSaver"]

#: Checkpoints read per query when a metadata filter may drop some of them.
_PAGE = 200


def _metadata_json(config: RunnableConfig, metadata: CheckpointMetadata) -> str:
    try:
        return json.dumps(get_checkpoint_metadata(config, metadata), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidRecord(f"checkpoint metadata is not JSON-serializable: {exc}") from exc


#: threadloom_kv namespace: which threadloom messages mirror a thread's graph messages.
_MIRROR = "langgraph.messages"
#: LangChain message types as the roles threadloom's transcript uses.
_ROLES = {"human": "user", "ai": "assistant", "tool": "tool", "system": "system"}


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p if isinstance(p, str) else str(p.get("text", ""))
            for p in content
            if isinstance(p, str | dict)
        )
    return str(content)


def _message_item(message: Any) -> Any:
    """The message as JSON for the ``item`` column, or ``None`` if it is not JSON."""
    try:
        item = message.model_dump(mode="json")
        orjson.dumps(item)
    except Exception:  # a message holding values JSON cannot carry keeps no item
        return None
    return item


def _matches(metadata: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(key in metadata and metadata[key] == value for key, value in wanted.items())


class ThreadloomSaver(BaseCheckpointSaver[str]):
    """A LangGraph checkpointer storing in a threadloom database.

    Args:
        store: A ``StateStore``/``AsyncStateStore``, a database path, a
            ``postgresql://`` DSN, or ``None`` for the default store. A store passed in
            stays open when the saver closes; one the saver opened is closed with it.
        serde: The serializer of checkpoints and writes (default ``JsonPlusSerializer``).

    Raises:
        ThreadloomError: langgraph-checkpoint is not installed (at import), or the
            store cannot be opened.
    """

    def __init__(
        self,
        store: StateStore | str | os.PathLike[str] | Any | None = None,
        *,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(serde=serde)
        self._holder = StoreHolder(store)
        self.store = self._holder.store

    @classmethod
    @contextmanager
    def from_conn_string(cls, conn_string: str) -> Iterator[ThreadloomSaver]:
        """A saver on a database path or DSN, closed when the block ends (as LangGraph's
        own savers offer)."""
        saver = cls(conn_string)
        try:
            yield saver
        finally:
            saver.close()

    @classmethod
    @asynccontextmanager
    async def afrom_conn_string(cls, conn_string: str) -> AsyncIterator[ThreadloomSaver]:
        """:meth:`from_conn_string` for ``async with`` (the store opens on a thread)."""
        store = await AsyncStateStore.open(conn_string)
        try:
            yield cls(store)
        finally:
            await store.aclose()

    def close(self) -> None:
        """Close the store if the saver opened it."""
        self._holder.close()

    async def aclose(self) -> None:
        """Stop the async face the saver made and close the store if the saver opened it."""
        await self._holder.aclose()

    def __enter__(self) -> ThreadloomSaver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def _backend(self) -> Backend:
        return self.store.backend

    # -- rows and tuples -------------------------------------------------------------

    def _tuple(
        self,
        row: GraphCheckpointRow,
        writes: list[GraphWriteRow],
        config: RunnableConfig | None = None,
    ) -> CheckpointTuple:
        thread_id, ns = row.thread_id, row.checkpoint_ns
        loads = self.serde.loads_typed
        writes.sort(key=lambda w: writes_sort_key(w.task_path, w.task_id, w.idx))
        pending: list[PendingWrite] = [
            (w.task_id, w.channel, loads((w.type or "", w.value or b""))) for w in writes
        ]
        return CheckpointTuple(
            config
            or {
                "configurable": {
                    "thread_id": thread_id,
                    "checkpoint_ns": ns,
                    "checkpoint_id": row.checkpoint_id,
                }
            },
            loads((row.type or "", row.checkpoint or b"")),
            cast(CheckpointMetadata, orjson.loads(row.metadata)),
            {
                "configurable": {
                    "thread_id": thread_id,
                    "checkpoint_ns": ns,
                    "checkpoint_id": row.parent_checkpoint_id,
                }
            }
            if row.parent_checkpoint_id
            else None,
            pending,
        )

    # -- sync ------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint ``config`` names, or its namespace's newest; ``None`` if none."""
        conf = config["configurable"]
        checkpoint_id = get_checkpoint_id(config)
        # Two reads without a snapshot around them: writes only ever add to a
        # checkpoint's pending writes, so the pair is consistent enough, and a snapshot
        # would cost a BEGIN and a ROLLBACK per call.
        row = self._backend.get_graph_checkpoint(
            str(conf["thread_id"]), conf.get("checkpoint_ns", ""), checkpoint_id
        )
        if row is None:
            return None
        writes = self._backend.graph_writes_of([row.key])
        return self._tuple(row, writes, config if checkpoint_id else None)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first: of ``config``'s thread (and namespace, if given),
        or of every thread for ``None``; ``filter`` matches metadata keys exactly.

        Each page of checkpoints is one query and its pending writes one more.
        """
        conf = config["configurable"] if config is not None else {}
        thread_id = conf.get("thread_id")
        wanted = filter or {}
        remaining = limit
        after: GraphKey | None = None
        while remaining is None or remaining > 0:
            page_size = _PAGE if wanted or remaining is None else min(remaining, _PAGE)
            # No snapshot around the page and its writes (see get_tuple).
            page = self._backend.list_graph_checkpoints(
                thread_id=None if thread_id is None else str(thread_id),
                checkpoint_ns=conf.get("checkpoint_ns"),
                checkpoint_id=conf.get("checkpoint_id"),
                before=get_checkpoint_id(before) if before is not None else None,
                after_key=after,
                limit=page_size,
            )
            rows = page
            if wanted:
                rows = [r for r in page if _matches(orjson.loads(r.metadata), wanted)]
                if remaining is not None:
                    rows = rows[:remaining]
            writes = self._backend.graph_writes_of([r.key for r in rows]) if rows else []
            by_key: dict[GraphKey, list[GraphWriteRow]] = {}
            for w in writes:
                by_key.setdefault(w.key, []).append(w)
            for row in rows:
                yield self._tuple(row, by_key.get(row.key, []))
            if remaining is not None:
                remaining -= len(rows)
            if len(page) < page_size:
                return
            after = page[-1].key

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Save a checkpoint under ``config``'s thread and namespace; its config back."""
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        ns = conf.get("checkpoint_ns", "")
        type_, blob = self.serde.dumps_typed(checkpoint)
        meta = get_checkpoint_metadata(config, metadata)
        run_id = meta.get("run_id")
        row = GraphCheckpointRow(
            thread_id,
            ns,
            checkpoint["id"],
            conf.get("checkpoint_id"),
            run_id if isinstance(run_id, str) else None,
            type_,
            blob,
            _metadata_json(config, metadata),
        )
        messages = checkpoint.get("channel_values", {}).get("messages") if ns == "" else None
        if isinstance(messages, list) and messages:
            # The checkpoint and its transcript in one transaction.
            with self.store.transaction():
                self._backend.put_graph_checkpoint(row, int(time.time()))
                self._mirror_messages(thread_id, messages)
        else:
            self._backend.put_graph_checkpoint(row, int(time.time()))
        return {
            "configurable": {
                "thread_id": conf["thread_id"],
                "checkpoint_ns": ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

    def _mirror_messages(self, thread_id: str, messages: Sequence[Any]) -> None:
        """Keep the thread's messages in step with the graph state's ``messages`` list.

        So ``threadloom show`` reads a graph conversation. Only the part that changed
        is written: new messages are appended; if the list was edited or a run went
        back to an earlier checkpoint, the new messages fork from the last one still in
        common (the old ones stay on their branch). Which messages are on the branch is
        kept in ``threadloom_kv``.
        """
        if not all(hasattr(m, "type") and hasattr(m, "content") for m in messages):
            return
        backend = self._backend
        row = backend.get_value(_MIRROR, thread_id, for_update=True)
        doc = orjson.loads(row.value) if row is not None else {"keys": [], "ids": []}
        keys = [str(getattr(m, "id", None) or f"#{i}") for i, m in enumerate(messages)]
        common = 0
        for old, new in zip(doc["keys"], keys, strict=False):
            if old != new:
                break
            common += 1
        if common == len(keys) == len(doc["keys"]):
            return
        ids: builtins.list[int] = doc["ids"][:common]
        store = self.store
        for message in messages[common:]:
            role = _ROLES.get(message.type, message.type)
            text = _message_text(message.content)
            item = _message_item(message)
            if ids:
                ids.append(store.fork_at_message(ids[-1], role, text, item))
            else:
                backend.clear_current_leaf(thread_id)
                ids.append(store.append_message(thread_id, role, text, item))
        backend.put_value(
            KeyValueRow(
                _MIRROR,
                thread_id,
                thread_id,
                orjson.dumps({"keys": keys, "ids": ids}).decode(),
                time.time(),
            )
        )

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's writes against ``config``'s checkpoint (one transaction).

        Special writes (errors, interrupts...) replace an earlier one of the same
        index; regular writes already stored are kept, as LangGraph's savers do.
        """
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        ns = str(conf.get("checkpoint_ns", ""))
        checkpoint_id = str(conf["checkpoint_id"])
        rows = []
        for idx, (channel, value) in enumerate(writes):
            type_, blob = self.serde.dumps_typed(value)
            rows.append(
                GraphWriteRow(
                    thread_id,
                    ns,
                    checkpoint_id,
                    task_id,
                    task_path,
                    WRITES_IDX_MAP.get(channel, idx),
                    channel,
                    type_,
                    blob,
                )
            )
        replace = all(channel in WRITES_IDX_MAP for channel, _ in writes)
        self._backend.put_graph_writes(rows, replace=replace, now=int(time.time()))

    def delete_thread(self, thread_id: str) -> None:
        """Delete the thread's checkpoints and writes, and the threadloom thread itself."""
        with self.store.transaction():
            self._backend.delete_graph_threads([str(thread_id)])
            self.store.delete_thread(str(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints whose metadata ``run_id`` is listed, with their writes."""
        self._backend.delete_graph_runs([str(r) for r in run_ids])

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint and write (the whole parent chain) to another thread."""
        self._backend.copy_graph_thread(
            str(source_thread_id), str(target_thread_id), int(time.time())
        )

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Keep each namespace's newest checkpoint (``keep_latest``) or none (``delete``).

        Raises:
            InvalidRecord: An unknown strategy (a ``ValueError``).
        """
        if strategy not in ("keep_latest", "delete"):
            raise InvalidRecord(f"unknown prune strategy {strategy!r} (keep_latest, delete)")
        self._backend.prune_graph_threads(
            [str(t) for t in thread_ids], keep_latest=strategy == "keep_latest"
        )

    # -- async: each call is its sync twin, run once on the async store's threads --------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """:meth:`get_tuple`, awaitable."""
        return await self._holder.read(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """:meth:`list`, as an async iterator."""
        async for item in self._holder.iterate(
            self.list, config, filter=filter, before=before, limit=limit
        ):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """:meth:`put`, awaitable."""
        return await self._holder.write(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """:meth:`put_writes`, awaitable."""
        await self._holder.write(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """:meth:`delete_thread`, awaitable."""
        await self._holder.write(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """:meth:`delete_for_runs`, awaitable."""
        await self._holder.write(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """:meth:`copy_thread`, awaitable."""
        await self._holder.write(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """:meth:`prune`, awaitable."""
        await self._holder.write(self.prune, thread_ids, strategy=strategy)
