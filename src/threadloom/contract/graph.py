"""The backend contract's graph-checkpoint part: LangGraph's checkpoints and writes.

A LangGraph checkpoint does not fit the original's ``checkpoints`` table (it has a
namespace, a parent, a serializer type tag and a binary blob), so it lives in
threadloom's own ``threadloom_graph_checkpoints`` and ``threadloom_graph_writes``;
each ``thread_id`` is also a row of the original's ``threads`` (created by the first
checkpoint, so ``threadloom threads`` lists graph conversations). Blobs are bytes as
the saver's serializer produced them; metadata is JSON text.

Conventions every backend follows:

- Writes join the caller's ``transaction()`` (a savepoint inside one).
- Lists are newest first: ``checkpoint_id`` descending (LangGraph's ids sort by
  time), then ``thread_id`` and ``checkpoint_ns`` descending, compared bytewise.
- Deleting a thread's graph rows never touches its messages or other data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["GraphCheckpointRow", "GraphKey", "GraphOperations", "GraphWriteRow"]

#: ``(thread_id, checkpoint_ns, checkpoint_id)``: one checkpoint, and the list order key.
GraphKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class GraphCheckpointRow:
    """One stored checkpoint.

    Attributes:
        thread_id: The thread (also a row of ``threads``).
        checkpoint_ns: The namespace (``""`` for the root graph).
        checkpoint_id: The checkpoint's id (sorts by time).
        parent_checkpoint_id: The checkpoint it follows, if any.
        run_id: ``metadata["run_id"]`` when a string (what ``delete_for_runs`` matches).
        type: The serializer's type tag of ``checkpoint``.
        checkpoint: The serialized checkpoint.
        metadata: The metadata as JSON text.
    """

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_checkpoint_id: str | None
    run_id: str | None
    type: str | None
    checkpoint: bytes | None
    metadata: str

    @property
    def key(self) -> GraphKey:
        """The checkpoint's key."""
        return (self.thread_id, self.checkpoint_ns, self.checkpoint_id)


@dataclass(frozen=True, slots=True)
class GraphWriteRow:
    """One pending write of a task against a checkpoint."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    task_id: str
    task_path: str
    idx: int
    channel: str
    type: str | None
    value: bytes | None

    @property
    def key(self) -> GraphKey:
        """The key of the checkpoint the write belongs to."""
        return (self.thread_id, self.checkpoint_ns, self.checkpoint_id)


class GraphOperations(Protocol):
    """Storage for LangGraph checkpoints and pending writes."""

    def put_graph_checkpoint(self, row: GraphCheckpointRow, now: int) -> None:
        """Insert or replace a checkpoint; create its thread (``now`` stamps it) if missing.

        Raises:
            StoreBusy: The write lock could not be had in time.
        """

    def put_graph_writes(self, rows: Sequence[GraphWriteRow], *, replace: bool, now: int) -> None:
        """Store writes of one thread in one transaction (creating the thread, stamped
        ``now``, if missing); an existing key is replaced, or kept if not ``replace``."""

    def get_graph_checkpoint(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None
    ) -> GraphCheckpointRow | None:
        """One checkpoint, or (``checkpoint_id`` ``None``) the namespace's newest."""

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
        """Up to ``limit`` checkpoints newest first (``None`` filters nothing).

        Args:
            before: Only ids below this one.
            after_key: Resume a listing after this key (keyset paging).
        """

    def graph_writes_of(self, keys: Sequence[GraphKey]) -> list[GraphWriteRow]:
        """The pending writes of these checkpoints, in no particular order (few queries)."""

    def delete_graph_threads(self, thread_ids: Sequence[str]) -> None:
        """Delete every checkpoint and write of these threads (the threads stay)."""

    def delete_graph_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints whose ``run_id`` is listed, with their writes."""

    def copy_graph_thread(self, source: str, target: str, now: int) -> None:
        """Copy every checkpoint and write of ``source`` to ``target`` (created if missing)."""

    def prune_graph_threads(self, thread_ids: Sequence[str], *, keep_latest: bool) -> None:
        """Delete these threads' checkpoints and writes, but each namespace's newest if
        ``keep_latest``."""
