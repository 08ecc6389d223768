"""What both backends share around their connections: transactions, snapshots and
schema reports, written once.

A backend keeps its connection source in ``self._conns``; the source's ``write`` and
``read`` open a transaction (nested ones are savepoints) and a consistent read view, in
which writes are refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Generic, Protocol, TypeVar

from ...contract import MigrationStep, SchemaInfo
from ...errors import ReadOnlyError, ReadOnlyStore

__all__ = [
    "ConnectionSource",
    "TransactionalBackend",
    "read_only_store",
    "schema_info_from",
    "snapshot_refusal",
    "steps_from",
]


def snapshot_refusal(what: str) -> ReadOnlyError:
    """The error for a write inside ``store.snapshot()`` (raised before anything is sent)."""
    return ReadOnlyError(
        f"{what}: store.snapshot() is read-only, nothing was written (use "
        "store.transaction() for a block that reads and writes)"
    )


def read_only_store(what: str, location: object) -> ReadOnlyStore:
    """The error for a write to a store opened ``read_only=True``."""
    return ReadOnlyStore(f"{what}: the store at {location} was opened read-only")


C = TypeVar("C")
C_co = TypeVar("C_co", covariant=True)


class ConnectionSource(Protocol[C_co]):
    """Hands out connections inside a write transaction or a read snapshot."""

    def write(self, what: str) -> AbstractContextManager[C_co]:
        """A write transaction (a savepoint when nested)."""

    def read(self, what: str) -> AbstractContextManager[C_co]:
        """A consistent read view; :meth:`write` inside it raises ``ReadOnlyError``."""

    def check_writable(self, what: str) -> None:
        """Raise ``ReadOnlyStore`` in a read-only store, ``ReadOnlyError`` inside a read view (for writes outside :meth:`write`)."""


class _Step(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...


class _Plan(Protocol):
    @property
    def schema_version(self) -> int: ...

    @property
    def own_version(self) -> int: ...

    @property
    def applied(self) -> Iterable[_Step]: ...

    @property
    def pending(self) -> Iterable[_Step]: ...


def steps_from(steps: Iterable[_Step]) -> list[MigrationStep]:
    """A backend's own migration objects as the contract's :class:`MigrationStep`."""
    return [MigrationStep(step.name, step.description) for step in steps]


def schema_info_from(plan: _Plan) -> SchemaInfo:
    """A backend's migration plan as the contract's :class:`SchemaInfo`."""
    return SchemaInfo(
        schema_version=plan.schema_version,
        own_version=plan.own_version,
        applied=tuple(steps_from(plan.applied)),
        pending=tuple(steps_from(plan.pending)),
    )


class TransactionalBackend(Generic[C]):
    """``transaction()``, ``snapshot()``, ``write()`` and ``read()`` over ``self._conns``."""

    _conns: ConnectionSource[C]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write over several calls (a savepoint when nested).

        Raises:
            StoreBusy: The write lock could not be had within the busy timeout.
            ReadOnlyError: The block is inside a snapshot.
        """
        with self._conns.write("transaction failed"):
            yield

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One consistent, read-only view over several calls.

        A write inside it raises ``ReadOnlyError`` before touching anything; the view
        ends without committing, whether the block succeeds or raises. Inside a
        transaction it is that transaction's view.
        """
        with self._conns.read("snapshot failed"):
            yield

    def check_writable(self, what: str) -> None:
        """Refuse a write that does not go through :meth:`write` (the session-index file).

        Raises:
            ReadOnlyStore: The store was opened read-only.
            ReadOnlyError: This thread is inside :meth:`snapshot`.
        """
        self._conns.check_writable(what)

    def write(self, what: str) -> AbstractContextManager[C]:
        """A write transaction for extensions (the workflow trace store, maintenance)."""
        return self._conns.write(what)

    def read(self, what: str) -> AbstractContextManager[C]:
        """A read snapshot for extensions."""
        return self._conns.read(what)
