"""Whole-thread export: one document with everything a thread owns.

An export document holds a thread's metadata, every message of every branch (with the
parent links that make the tree), its checkpoints in the order they were saved, its
dynamic tools, its goal and its session-index name. It serializes three ways:

- ``json``: the document itself;
- ``jsonl``: a header line, then one line per message, checkpoint, tool and goal
  (streams well, diffs well);
- ``md``: a readable transcript with the JSON document embedded in an HTML comment,
  so a transcript can be imported again.

:func:`loads` reads any of the three back; :mod:`.importer` writes a document into a
store. Only the store facade is used, so every backend exports alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from ..errors import NotFound, ThreadloomError
from ..store import StateStore

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "FORMATS",
    "NotAnExport",
    "build_document",
    "dumps",
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


def build_document(store: StateStore, thread_id: str) -> dict[str, Any]:
    """Everything ``thread_id`` owns, as one JSON-ready document.

    The document holds no export timestamp, so exporting twice gives the same bytes.

    Raises:
        NotFound: The thread does not exist.
    """
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
