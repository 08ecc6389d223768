"""Encrypting what is stored, and rotating keys, while the store is in use.

:func:`rotate` walks every sealed column in key order, a batch per transaction, and
re-seals each value that is plain or sealed with another key than the store's current
one. Each rewrite is a compare-and-set (the value must still be the one read), so a
writer changing a row meanwhile wins and its value is left as it wrote it.

Key rotation without downtime:

1. Restart the processes with the new key first and the old one after it
   (``THREADLOOM_ENCRYPTION_KEY=NEW,OLD``): they write with the new key and read both.
2. Run ``threadloom encryption rotate`` (or :func:`rotate`) with the same keys.
3. Drop the old key from the processes' configuration.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._json import encode_json
from .contract.lifecycle import SealedColumn, SealedValue
from .encryption import PREFIX, Keyring, is_sealed
from .errors import EncryptedData, InvalidRecord, InvalidType

if TYPE_CHECKING:
    from .store import StateStore

__all__ = ["SEALED_COLUMNS", "ColumnStatus", "RotationReport", "encryption_status", "rotate"]

#: Every column encryption covers; everything else is stored as it is.
SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn("messages", "content", ("id",), json=False),
    SealedColumn("messages", "item_json", ("id",), json=True),
    SealedColumn("checkpoints", "state_json", ("thread_id", "checkpoint_id"), json=True),
    SealedColumn("jobs", "detail", ("id",), json=False),
    SealedColumn("thread_goals", "objective", ("thread_id",), json=False),
)


def _name(column: SealedColumn) -> str:
    return f"{column.table}.{column.column}"


def _keyring(store: StateStore) -> Keyring:
    keyring: Keyring | None = getattr(store, "_keyring", None)
    if keyring is None or keyring.current is None:
        raise EncryptedData(
            "open the store with its key to encrypt or rotate (encryption_key=, or "
            "$THREADLOOM_ENCRYPTION_KEY: the new key first, then the old ones)"
        )
    return keyring


def _sealed_text(value: str, column: SealedColumn) -> str | None:
    """The sealed text of a stored value, or ``None`` for a plain one."""
    if not is_sealed(value, json=column.json):
        return None
    if column.json:
        text = json.loads(value)
        return text if isinstance(text, str) else None
    return value


def _key_id(sealed: str) -> str:
    return sealed[len(PREFIX) :].split(":", 1)[0]


@dataclass(slots=True)
class RotationReport:
    """What :func:`rotate` did, per column (``table.column``).

    Attributes:
        encrypted: Plain values it sealed.
        resealed: Values sealed with another key it re-sealed with the current one.
        changed_meanwhile: Values a writer changed between the read and the rewrite
            (left as the writer wrote them; run again to cover them).
        current_key: The id of the key everything is sealed with now.
    """

    current_key: str
    encrypted: dict[str, int] = field(default_factory=dict)
    resealed: dict[str, int] = field(default_factory=dict)
    changed_meanwhile: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready data."""
        return {
            "current_key": self.current_key,
            "encrypted": self.encrypted,
            "resealed": self.resealed,
            "changed_meanwhile": self.changed_meanwhile,
        }


def rotate(
    store: StateStore,
    *,
    batch_size: int = 500,
    progress: Callable[[str, int], None] | None = None,
) -> RotationReport:
    """Seal every plain value and re-seal every value of an older key, in batches.

    Args:
        store: A store opened with the current key first (and any older keys after).
        batch_size: Values per transaction.
        progress: Called as ``progress("table.column", values_done)`` after each batch.

    Raises:
        EncryptedData: The store was opened without a key, or a value is sealed with a
            key it was not given (nothing of that batch is rewritten).
        ReadOnlyStore: The store was opened read-only.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise InvalidType(f"batch_size must be an int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise InvalidRecord(f"batch_size must be at least 1, got {batch_size}")
    keyring = _keyring(store)
    current = keyring.current
    assert current is not None
    backend = store.backend
    backend.check_writable("cannot rotate encryption keys")
    report = RotationReport(current_key=current)
    for column in SEALED_COLUMNS:
        name = _name(column)
        encrypted = resealed = done = changes_made = 0
        after: tuple[object, ...] | None = None
        while True:
            rows = backend.scan_column(column, after, batch_size)
            if not rows:
                break
            after = rows[-1].key
            changes: list[tuple[SealedValue, str | None]] = []
            for row in rows:
                if row.value is None:
                    continue
                sealed = _sealed_text(row.value, column)
                if sealed is not None and _key_id(sealed) == current:
                    continue
                where = "key " + ", ".join(map(str, row.key))
                plain = row.value if sealed is None else keyring.unseal(sealed, name, where)
                new = keyring.seal(plain, name)
                changes.append((row, encode_json(new, name) if column.json else new))
                if sealed is None:
                    encrypted += 1
                else:
                    resealed += 1
            if changes:
                changes_made += len(changes) - backend.rewrite_column(column, changes)
            done += len(rows)
            if progress is not None:
                progress(name, done)
        report.encrypted[name] = encrypted
        report.resealed[name] = resealed
        report.changed_meanwhile[name] = changes_made
    return report


@dataclass(frozen=True, slots=True)
class ColumnStatus:
    """How a sealed column's values are stored: plain, or sealed per key id."""

    column: str
    plain: int
    sealed: dict[str, int]


def encryption_status(store: StateStore, *, batch_size: int = 1000) -> list[ColumnStatus]:
    """Count plain and sealed values of every sealed column (reads every value; no key
    needed)."""
    out = []
    for column in SEALED_COLUMNS:
        plain, sealed = 0, dict[str, int]()
        after: tuple[object, ...] | None = None
        while True:
            rows = store.backend.scan_column(column, after, batch_size)
            if not rows:
                break
            after = rows[-1].key
            for row in rows:
                if row.value is None:
                    continue
                text = _sealed_text(row.value, column)
                if text is None:
                    plain += 1
                else:
                    kid = _key_id(text)
                    sealed[kid] = sealed.get(kid, 0) + 1
        out.append(ColumnStatus(_name(column), plain, sealed))
    return out
