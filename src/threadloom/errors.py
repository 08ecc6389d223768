"""The exceptions threadloom raises.

Every error the store raises on purpose derives from :class:`ThreadloomError`, so a
caller can catch one class. Errors caused by a driver (``sqlite3``, ``psycopg``) are
chained with ``raise ... from exc`` so the original cause stays visible. Bad arguments
are also the built-in error Python code expects: :class:`InvalidRecord` is a
``ValueError`` (a wrong value), :class:`InvalidType` also a ``TypeError`` (a wrong type).
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "CorruptData",
    "EncryptedData",
    "InvalidRecord",
    "InvalidType",
    "NotFound",
    "ReadOnlyError",
    "ReadOnlyStore",
    "SchemaError",
    "StoreBusy",
    "ThreadloomError",
]


class ThreadloomError(Exception):
    """Base class of every error threadloom raises on purpose."""


class NotFound(ThreadloomError, LookupError):
    """A write or lookup named a thread, message, job or run that does not exist."""


class Conflict(ThreadloomError):
    """The request contradicts what is stored (a duplicate key, a message of another thread)."""


class ReadOnlyError(ThreadloomError):
    """A write was attempted inside ``store.snapshot()``, which only reads.

    It is raised before anything is written; the snapshot stays usable.
    """


class StoreBusy(ThreadloomError):
    """Another connection held the database lock for longer than the busy timeout."""


class CorruptData(ThreadloomError):
    """Stored data could not be decoded.

    Attributes:
        table: The table holding the bad value.
        row: A description of the row's key (for example ``"thread_id='t1', checkpoint_id='c'"``).
    """

    def __init__(self, message: str, *, table: str = "", row: str = "") -> None:
        super().__init__(message)
        self.table = table
        self.row = row


class SchemaError(ThreadloomError):
    """The database's schema cannot be used: too new, or not a threadloom/original database.

    Attributes:
        found: The schema version found in the database, if known.
        supported: The newest schema version this threadloom knows.
    """

    def __init__(self, message: str, *, found: int | None = None, supported: int | None = None):
        super().__init__(message)
        self.found = found
        self.supported = supported


class ReadOnlyStore(ReadOnlyError):
    """A write was asked of a store opened with ``read_only=True`` (nothing was written).

    A :class:`ReadOnlyError`, so ``except ReadOnlyError`` catches a refused write
    whether the store or the snapshot it came in refused it.
    """


class InvalidRecord(ThreadloomError, ValueError):
    """A record or argument does not have the shape the original accepts."""


class InvalidType(InvalidRecord, TypeError):
    """An argument or record field has the wrong Python type (``upsert_thread("t1")``).

    Also a ``TypeError``, as Python's own functions raise, and an
    :class:`InvalidRecord`, so ``except InvalidRecord`` catches every bad argument.
    """


class EncryptedData(ThreadloomError):
    """A stored value is encrypted and cannot be read (or written) as asked.

    Raised for a value sealed with a key the store was not opened with (``key_id``
    names it), one that fails authentication (a wrong key of the same id is
    impossible; this means tampering), a write of content to an encrypted store opened
    without a key, and a store opened with keys none of which the database knows.
    Never plain ciphertext handed back as text.

    Attributes:
        key_id: The id of the key the value needs, when known.
    """

    def __init__(self, message: str, *, key_id: str | None = None) -> None:
        super().__init__(message)
        self.key_id = key_id
