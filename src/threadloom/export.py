"""Whole-thread export and import: one document with everything a thread owns.

An export document holds a thread's metadata, every message of every branch (with the
parent links that make the tree), its checkpoints in the order they were saved, its
dynamic tools, its goal and its session-index name. It serializes three ways:

- ``json``: the document itself;
- ``jsonl``: a header line, then one line per message, checkpoint, tool and goal
  (streams well, diffs well);
- ``md``: a readable transcript with the JSON document embedded in an HTML comment,
  so a transcript can be imported again.

:func:`import_document` writes a document into a store in one transaction, and its
session-index lines only once that transaction has committed. A thread the store
already holds (the same export imported twice, or an export of this very store) is
refused (:class:`AlreadyImported`) unless the caller asks for a new thread, which gets
a fresh id. Message ids (``AUTOINCREMENT`` in the original's schema) that collide with
what the store holds are reallocated with every parent link and the current leaf
rewritten to match. The result re-exports to the same document
apart from those ids. The module uses only the public store API plus an explicit-id
fast path on SQLite, so other backends (and ``threadloom copy``) can reuse it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ._json import encode_json
from .errors import Conflict, InvalidRecord, ThreadloomError
from .records import (
    CheckpointRecord,
    DynamicToolRecord,
    MessageRecord,
    ThreadGoalRecord,
    ThreadMetadata,
)
from .store import StateStore

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "FORMATS",
    "AlreadyImported",
    "ImportReport",
    "NotAnExport",
    "build_document",
    "dumps",
    "import_document",
    "loads",
]

EXPORT_FORMAT = "threadloom-export"
EXPORT_VERSION = 1
FORMATS = ("json", "jsonl", "md")

_MD_MARKER = "<!-- threadloom-export"
_MD_BLOCK = re.compile(r"<!-- threadloom-export\n(.*?)\n-->", re.DOTALL)
# Every message of a thread: the facade's branch reads default to 500.
_ALL = 2**63 - 1


class NotAnExport(ThreadloomError):
    """The text is not a threadloom export document."""


class AlreadyImported(Conflict):
    """The store already holds the document's thread (an import would duplicate it).

    Attributes:
        thread_id: The thread's id.
    """

    def __init__(self, message: str, thread_id: str) -> None:
        super().__init__(message)
        self.thread_id = thread_id


def build_document(store: StateStore, thread_id: str) -> dict[str, Any]:
    """Everything ``thread_id`` owns, as one JSON-ready document.

    The document holds no export timestamp, so exporting twice gives the same bytes.

    Raises:
        NotFound: The thread does not exist.
    """
    from .errors import NotFound

    with store.snapshot():
        thread = store.get_thread(thread_id)
        if thread is None:
            raise NotFound(f"thread {thread_id} not found")
        messages = store.list_all_messages(thread_id)
        # list_checkpoints is latest first; the document keeps save order so that an
        # import saving them in sequence makes the same one "latest".
        checkpoints = list(reversed(store.list_checkpoints(thread_id, _ALL)))
        tools = store.get_dynamic_tools(thread_id)
        goal = store.get_thread_goal(thread_id)
    index_entry = store.backend.session_index.get(thread_id)
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "thread": thread.to_dict(),
        "session_index_name": None if index_entry is None else index_entry.thread_name,
        "messages": [m.to_dict() for m in messages],
        "checkpoints": [c.to_dict() for c in checkpoints],
        "tools": [t.to_dict() for t in tools],
        "goal": None if goal is None else goal.to_dict(),
    }


# -- serialization -----------------------------------------------------------------


def _json_text(value: Any, indent: int | None = 2) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent, allow_nan=False)


def _jsonl_lines(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield {
        "type": "header",
        "format": doc["format"],
        "version": doc["version"],
        "thread": doc["thread"],
        "session_index_name": doc["session_index_name"],
    }
    for kind, key in (("message", "messages"), ("checkpoint", "checkpoints"), ("tool", "tools")):
        for record in doc[key]:
            yield {"type": kind, **record}
    if doc["goal"] is not None:
        yield {"type": "goal", **doc["goal"]}


def _markdown(doc: dict[str, Any]) -> str:
    thread = doc["thread"]
    title = thread.get("name") or doc.get("session_index_name") or thread["preview"] or thread["id"]
    out = [f"# {title}", ""]
    out.append(f"- id: `{thread['id']}`")
    out.append(f"- status: {thread['status']}, cwd: `{thread['cwd']}`")
    out.append(f"- messages: {len(doc['messages'])}, checkpoints: {len(doc['checkpoints'])}")
    if doc["goal"] is not None:
        out.append(f"- goal: {doc['goal']['objective']} ({doc['goal']['status']})")
    out.append("")
    by_id = {m["id"]: m for m in doc["messages"]}
    branch: list[dict[str, Any]] = []
    cursor = thread.get("current_leaf_id")
    seen: set[int] = set()
    while cursor is not None and cursor in by_id and cursor not in seen:
        seen.add(cursor)
        branch.append(by_id[cursor])
        cursor = by_id[cursor]["parent_entry_id"]
    out.append("## Conversation (current branch)")
    out.append("")
    for message in reversed(branch):
        out.append(f"### {message['role']} (#{message['id']})")
        out.append("")
        out.append(message["content"] or "_(no text)_")
        if message["item"] is not None:
            out.append("")
            out.append("```json")
            out.append(_json_text(message["item"]))
            out.append("```")
        out.append("")
    others = len(doc["messages"]) - len(branch)
    if others:
        out.append(f"_{others} more message(s) on other branches are in the embedded export._")
        out.append("")
    # '>' only occurs inside JSON strings, where \u003e means the same: the comment
    # cannot be closed early by a message that contains "-->".
    embedded = _json_text(doc, indent=None).replace(">", "\\u003e")
    out.append(f"{_MD_MARKER}\n{embedded}\n-->")
    return "\n".join(out) + "\n"


def dumps(doc: dict[str, Any], fmt: str) -> str:
    """Serialize an export document as ``json``, ``jsonl`` or ``md`` text.

    Raises:
        ValueError: Unknown format.
    """
    if fmt == "json":
        return _json_text(doc) + "\n"
    if fmt == "jsonl":
        return "".join(_json_text(line, indent=None) + "\n" for line in _jsonl_lines(doc))
    if fmt == "md":
        return _markdown(doc)
    raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _from_jsonl(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"messages": [], "checkpoints": [], "tools": [], "goal": None}
    # split("\n"), not splitlines(): JSON text may hold U+2028 and other separators raw.
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise NotAnExport(f"line {number} is not JSON: {exc}") from exc
        if not isinstance(record, dict) or "type" not in record:
            raise NotAnExport(f"line {number} is not an export record")
        kind = record.pop("type")
        if kind == "header":
            doc.update(record)
        elif kind in ("message", "checkpoint", "tool"):
            doc[kind + "s"].append(record)
        elif kind == "goal":
            doc["goal"] = record
        else:
            raise NotAnExport(f"line {number} has an unknown record type {kind!r}")
    return doc


def loads(text: str) -> dict[str, Any]:
    """Parse export text (any of the three formats) back into a document.

    Raises:
        NotAnExport: The text is not a threadloom export (with the reason).
    """
    stripped = text.lstrip()
    if not stripped:
        raise NotAnExport("the file is empty")
    if stripped.startswith("#") or _MD_MARKER in text:
        match = _MD_BLOCK.search(text)
        if match is None:
            raise NotAnExport("a Markdown file without an embedded threadloom export")
        body = match.group(1)
    else:
        body = stripped
    doc: Any
    try:
        doc = json.loads(body)
    except ValueError:
        doc = _from_jsonl(body) if stripped.startswith("{") else None
        if doc is None:
            raise NotAnExport("neither JSON, JSON lines nor a threadloom Markdown export") from None
    if isinstance(doc, dict) and doc.get("type") == "header":
        doc = _from_jsonl(body)
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise NotAnExport(f'not a {EXPORT_FORMAT} document (no "format": "{EXPORT_FORMAT}")')
    if doc.get("version") != EXPORT_VERSION:
        raise NotAnExport(
            f"export version {doc.get('version')!r} is not supported (this threadloom "
            f"reads version {EXPORT_VERSION})"
        )
    for key in ("thread", "messages", "checkpoints", "tools"):
        if key not in doc:
            raise NotAnExport(f"the export has no {key!r}")
    return doc


# -- import ------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What :func:`import_document` did.

    Attributes:
        thread_id: The id the thread has in the store (new if the original collided).
        original_thread_id: The id in the document.
        message_ids: Document message id -> stored message id.
        remapped: Whether any id changed.
    """

    thread_id: str
    original_thread_id: str
    message_ids: dict[int, int] = field(default_factory=dict)
    remapped: bool = False


def _sqlite_connection(store: StateStore) -> Any:
    from .backends.sqlite import SqliteBackend

    backend = store.backend
    return backend.connection() if isinstance(backend, SqliteBackend) else None


def import_document(
    store: StateStore, doc: dict[str, Any], *, as_new: bool = False
) -> ImportReport:
    """Write an export document into ``store`` as one transaction.

    Timestamps, checkpoint order, tools and goal are kept exactly. The thread id is
    kept; a store that already holds it is refused, unless ``as_new`` (then the thread
    gets a fresh id). Message ids are kept on SQLite unless any of them is taken (then
    all are reallocated in order and the links rewritten). Other backends allocate
    message ids themselves. The session-index lines are written once the transaction
    has committed, so a failed import leaves none behind.

    Args:
        store: The store to write into.
        doc: A document from :func:`loads` or :func:`build_document`.
        as_new: Import as a new thread with a fresh id, even if the id is free.

    Raises:
        NotAnExport: The document is damaged (a current leaf that is not one of its
            messages, a record of the wrong shape).
        AlreadyImported: The store holds the thread already (and not ``as_new``).
        Conflict: A parent link points outside the thread.
    """
    parsed = _parse(doc)
    old_thread = parsed.thread
    conn = _sqlite_connection(store)
    with store.transaction():
        thread_id = old_thread.id
        if as_new:
            thread_id = str(uuid.uuid4())
        elif store.get_thread(thread_id) is not None:
            raise AlreadyImported(
                f"thread {thread_id} is already in this store (imported before, or "
                "exported from it); nothing was imported. Import it as a new thread "
                "(a fresh id) with as_new=True",
                thread_id,
            )
        ids = [m.id for m in parsed.messages]
        keep_ids = conn is not None and not _any_message_id_taken(conn, ids)
        thread = ThreadMetadata.from_dict({**old_thread.to_dict(), "id": thread_id})
        # The backend's upsert, not the store's: the store appends the session-index
        # line at once, and the SQLite index file is not rolled back with the data.
        store.backend.upsert_thread(thread)
        mapping: dict[int, int] = {}
        for message in sorted(parsed.messages, key=lambda m: m.id):
            parent = message.parent_entry_id
            if parent is not None:
                if parent not in mapping:
                    raise Conflict(
                        f"message {message.id} of the export has parent {parent}, "
                        "which is not an earlier message of the thread"
                    )
                parent = mapping[parent]
            mapping[message.id] = _insert_message(store, conn, thread_id, message, parent, keep_ids)
        leaf = old_thread.current_leaf_id
        if leaf is not None:
            store.set_current_leaf_id(thread_id, mapping[leaf])
        for checkpoint in parsed.checkpoints:
            _save_checkpoint(store, conn, thread_id, checkpoint)
        if parsed.tools:
            store.persist_dynamic_tools(thread_id, parsed.tools)
        if parsed.goal is not None:
            goal_data = {**parsed.goal.to_dict(), "thread_id": thread_id}
            store.upsert_thread_goal(ThreadGoalRecord.from_dict(goal_data))
    store.append_thread_name(thread_id, thread.name, thread.updated_at, thread.rollout_path)
    if parsed.index_name != thread.name:
        # The document recorded a different latest index name (a rename made by
        # another program): keep it as the latest entry.
        store.append_thread_name(
            thread_id, parsed.index_name, thread.updated_at, thread.rollout_path
        )
    remapped = thread_id != old_thread.id or any(k != v for k, v in mapping.items())
    return ImportReport(thread_id, old_thread.id, mapping, remapped)


def _any_message_id_taken(conn: Any, ids: list[int]) -> bool:
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        if conn.execute(f"SELECT 1 FROM messages WHERE id IN ({marks}) LIMIT 1", chunk).fetchone():
            return True
    return False


def _insert_message(
    store: StateStore,
    conn: Any,
    thread_id: str,
    message: MessageRecord,
    parent: int | None,
    keep_id: bool,
) -> int:
    item = None if message.item is None else encode_json(message.item, "message item")
    if conn is not None:
        # Direct insert: the facade stamps messages with the clock and cannot set ids.
        cur = conn.execute(
            "INSERT INTO messages(id, thread_id, role, content, item_json, created_at, "
            "parent_entry_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                message.id if keep_id else None,
                thread_id,
                message.role,
                message.content,
                item,
                message.created_at,
                parent,
            ),
        )
        new_id: int = cur.lastrowid
        return new_id
    pinned = StateStore(store.backend, clock=lambda: message.created_at)
    if parent is None:
        if store.list_messages(thread_id, 1):
            raise ThreadloomError("this backend cannot import a second root message of a thread")
        return pinned.append_message(thread_id, message.role, message.content, message.item)
    return pinned.fork_at_message(parent, message.role, message.content, message.item)


def _save_checkpoint(
    store: StateStore, conn: Any, thread_id: str, checkpoint: CheckpointRecord
) -> None:
    if conn is not None:
        conn.execute(
            "INSERT OR REPLACE INTO checkpoints(thread_id, checkpoint_id, state_json, "
            "created_at) VALUES (?, ?, ?, ?)",
            (
                thread_id,
                checkpoint.checkpoint_id,
                encode_json(checkpoint.state, "checkpoint state"),
                checkpoint.created_at,
            ),
        )
        return
    pinned = StateStore(store.backend, clock=lambda: checkpoint.created_at)
    pinned.save_checkpoint(thread_id, checkpoint.checkpoint_id, checkpoint.state)
