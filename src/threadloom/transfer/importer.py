"""Import an export document into a store, once.

:func:`import_document` writes a document in one transaction through the contract's
:meth:`~threadloom.contract.TransferOperations.import_thread`, then its session-index
lines once that transaction has committed (so a failed import leaves none behind).
It behaves the same on every backend:

- The thread keeps its id. A store that already holds it (the same export imported
  twice, or an export of this very store) is refused (:class:`AlreadyImported`)
  unless the caller asks for a new thread, which gets a fresh id.
- Messages keep their ids, parent links and timestamps when every id is free; any
  number of root messages, any branching. If any id is taken, all of the thread's
  messages get fresh ids (ascending, in the document's id order) with every parent
  link and the current leaf rewritten to match: the thread re-exports to the same
  document apart from those ids, and :attr:`ImportReport.message_ids` maps old to new.
- Checkpoints are saved in the document's order with their timestamps (the same one
  is "latest"); tools and goal are kept exactly.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from .._json import encode_json
from .._sealed_store import SealedStateStore
from ..contract import CheckpointRow, MessageRow, ThreadImport, ToolRow
from ..errors import Conflict, InvalidRecord
from ..records import (
    CheckpointRecord,
    DynamicToolRecord,
    MessageRecord,
    ThreadGoalRecord,
    ThreadMetadata,
)
from ..store import StateStore
from .export import NotAnExport

__all__ = ["AlreadyImported", "ImportReport", "import_document"]


class AlreadyImported(Conflict):
    """The store already holds the document's thread (an import would duplicate it).

    Attributes:
        thread_id: The thread's id.
        reason: The message without the way out (a caller names its own spelling of
            ``as_new``).
    """

    def __init__(self, thread_id: str) -> None:
        self.reason = (
            f"thread {thread_id} is already in this store (imported before, or exported "
            "from it); nothing was imported"
        )
        super().__init__(f"{self.reason}. Import it as a new thread (a fresh id) with as_new=True")
        self.thread_id = thread_id


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What :func:`import_document` did.

    Attributes:
        thread_id: The id the thread has in the store (new if asked for).
        original_thread_id: The id in the document.
        message_ids: Document message id -> stored message id.
        remapped: Whether any id changed.
    """

    thread_id: str
    original_thread_id: str
    message_ids: dict[int, int] = field(default_factory=dict)
    remapped: bool = False


@dataclass(frozen=True, slots=True)
class _Parsed:
    thread: ThreadMetadata
    messages: list[MessageRecord]
    checkpoints: list[CheckpointRecord]
    tools: list[DynamicToolRecord]
    goal: ThreadGoalRecord | None
    index_name: str | None


def _parse(doc: dict[str, Any]) -> _Parsed:
    try:
        goal = doc.get("goal")
        parsed = _Parsed(
            thread=ThreadMetadata.from_dict(doc["thread"]),
            messages=[MessageRecord.from_dict(m) for m in doc["messages"]],
            checkpoints=[CheckpointRecord.from_dict(c) for c in doc["checkpoints"]],
            tools=[DynamicToolRecord.from_dict(t) for t in doc["tools"]],
            goal=None if goal is None else ThreadGoalRecord.from_dict(goal),
            index_name=doc.get("session_index_name"),
        )
    except (InvalidRecord, TypeError, KeyError) as exc:
        raise NotAnExport(f"the export is damaged: {exc}") from exc
    leaf = parsed.thread.current_leaf_id
    if leaf is not None and leaf not in {m.id for m in parsed.messages}:
        raise NotAnExport(
            f"the export is damaged: the thread's current_leaf_id {leaf} is not one of "
            f"its {len(parsed.messages)} message(s)"
        )
    return parsed


def _message_rows(messages: list[MessageRecord], mapping: dict[int, int]) -> list[MessageRow]:
    """The messages under their stored ids, parents first.

    Raises:
        Conflict: A parent link points at no earlier message of the thread.
    """
    rows: list[MessageRow] = []
    seen: set[int] = set()
    for message in sorted(messages, key=lambda m: m.id):
        parent = message.parent_entry_id
        if parent is not None and parent not in seen:
            raise Conflict(
                f"message {message.id} of the export has parent {parent}, "
                "which is not an earlier message of the thread"
            )
        seen.add(message.id)
        rows.append(
            MessageRow(
                id=mapping[message.id],
                role=message.role,
                content=message.content,
                item_json=None
                if message.item is None
                else encode_json(message.item, "message item"),
                created_at=message.created_at,
                parent_entry_id=None if parent is None else mapping[parent],
            )
        )
    return rows


def _thread_import(
    parsed: _Parsed, thread_id: str, mapping: dict[int, int]
) -> tuple[ThreadImport, ThreadMetadata]:
    old = parsed.thread
    leaf = None if old.current_leaf_id is None else mapping[old.current_leaf_id]
    thread = ThreadMetadata.from_dict({**old.to_dict(), "id": thread_id, "current_leaf_id": leaf})
    goal = parsed.goal
    data = ThreadImport(
        thread=thread,
        messages=tuple(_message_rows(parsed.messages, mapping)),
        checkpoints=tuple(
            CheckpointRow(c.checkpoint_id, encode_json(c.state, "checkpoint state"), c.created_at)
            for c in parsed.checkpoints
        ),
        tools=tuple(
            ToolRow(
                t.position,
                t.name,
                t.description,
                encode_json(t.input_schema, f"input schema of {t.name}"),
            )
            for t in parsed.tools
        ),
        goal=None
        if goal is None
        else ThreadGoalRecord.from_dict({**goal.to_dict(), "thread_id": thread_id}),
    )
    return data, thread


def import_document(
    store: StateStore, doc: dict[str, Any], *, as_new: bool = False
) -> ImportReport:
    """Write an export document into ``store`` as one transaction.

    Timestamps, checkpoint order, tools and goal are kept exactly. The thread id is
    kept; a store that already holds it is refused, unless ``as_new`` (then the thread
    gets a fresh id). Message ids are kept unless any of them is taken (then all are
    reallocated in order and the links rewritten), on every backend. The
    session-index lines are written once the transaction has committed, so a failed
    import leaves none behind.

    Args:
        store: The store to write into.
        doc: A document from :func:`~threadloom.transfer.export.loads` or
            :func:`~threadloom.transfer.export.build_document`.
        as_new: Import as a new thread with a fresh id, even if the id is free.

    Raises:
        NotAnExport: The document is damaged (a current leaf that is not one of its
            messages, a record of the wrong shape).
        AlreadyImported: The store holds the thread already (and not ``as_new``).
        Conflict: A parent link points outside the thread (nothing is written).
        InvalidRecord: A JSON value cannot be stored.
    """
    parsed = _parse(doc)
    original = parsed.thread.id
    backend = store.backend
    with store.transaction():
        thread_id = str(uuid.uuid4()) if as_new else original
        if not as_new and store.get_thread(thread_id) is not None:
            raise AlreadyImported(thread_id)
        ids = sorted(m.id for m in parsed.messages)
        fresh = ids
        if backend.taken_message_ids(ids):
            fresh = backend.reserve_message_ids(len(ids))
        mapping = dict(zip(ids, fresh, strict=True))
        data, thread = _thread_import(parsed, thread_id, mapping)
        if isinstance(store, SealedStateStore):
            data = store.seal_import(data)  # an encrypted store stores nothing plain
        backend.import_thread(data)
    store.append_thread_name(thread_id, thread.name, thread.updated_at, thread.rollout_path)
    if parsed.index_name != thread.name:
        # The document recorded a different latest index name (a rename made by
        # another program): keep it as the latest entry.
        store.append_thread_name(
            thread_id, parsed.index_name, thread.updated_at, thread.rollout_path
        )
    remapped = thread_id != original or any(k != v for k, v in mapping.items())
    return ImportReport(thread_id, original, mapping, remapped)
