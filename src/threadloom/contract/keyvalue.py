"""The backend contract's key-value part: small JSON documents of the framework adapters.

What an adapter keeps beside threads and messages and the original's tables have no
place for (an Agents SDK session's branch names, an ADK session's state, ADK's app
and user state) is one JSON document under ``(namespace, key)`` in threadloom's own
``threadloom_kv``. A document may belong to a thread: it is then deleted with it.

Conventions every backend follows:

- Writes join the caller's ``transaction()``; :meth:`KeyValueOperations.get_value`
  with ``for_update`` locks the row until that transaction ends (PostgreSQL; SQLite's
  write transaction holds the whole database already), so read-check-write is atomic.
- Keys compare bytewise; a prefix listing is in key order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["KeyValueOperations", "KeyValueRow"]


@dataclass(frozen=True, slots=True)
class KeyValueRow:
    """One document.

    Attributes:
        namespace: Who owns it (``"adk.session"``, ``"agents.branches"``).
        key: Its key within the namespace.
        thread_id: The thread it belongs to (deleted with it), if any.
        value: The document as JSON text.
        updated_at: When it was last written (float seconds, the adapter's clock).
    """

    namespace: str
    key: str
    thread_id: str | None
    value: str
    updated_at: float


class KeyValueOperations(Protocol):
    """JSON documents by namespace and key."""

    def get_value(
        self, namespace: str, key: str, *, for_update: bool = False
    ) -> KeyValueRow | None:
        """One document, or ``None``; ``for_update`` locks it for the open transaction."""

    def get_values(self, namespace: str, keys: Sequence[str]) -> list[KeyValueRow]:
        """The documents of these keys that exist, in no particular order."""

    def put_value(self, row: KeyValueRow) -> None:
        """Insert or replace a document.

        Raises:
            Conflict: ``row.thread_id`` names a thread that does not exist.
        """

    def delete_value(self, namespace: str, key: str) -> bool:
        """Delete a document; whether it existed."""

    def list_values(self, namespace: str, prefix: str, limit: int) -> list[KeyValueRow]:
        """Up to ``limit`` documents whose key starts with ``prefix``, in key order."""

    def clear_current_leaf(self, thread_id: str) -> bool:
        """Point the thread at an empty branch (``current_leaf_id`` NULL), deleting no
        message: the next append starts a new root. Whether the thread exists."""
