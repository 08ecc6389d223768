"""What the workflow facade's parts share: the backend, the clock, checked row access.

Everything here talks to the backend only through the contract's trace operations
(:class:`~threadloom.contract.TraceOperations`) and its ``transaction()``/``snapshot()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from ..contract import Backend
from ..errors import InvalidRecord, NotFound
from . import _checks as c
from .records import TERMINAL_STATUSES
from .trace_rows import COLUMNS, Row, Table

__all__ = ["FacadeBase"]

_NAMES = {
    Table.RUNS: "workflow run",
    Table.BRANCHES: "branch run",
    Table.LEAVES: "leaf run",
    Table.CONTROL_NODES: "control-node run",
    Table.CANDIDATES: "teacher candidate",
}


class FacadeBase:
    """The facade's state and the checks every write shares."""

    def __init__(self, backend: Backend, *, clock: Callable[[], int] | None = None) -> None:
        self._backend = backend
        self._now: Callable[[], int] = clock or (lambda: int(time.time()))

    def transaction(self) -> AbstractContextManager[None]:
        """Make the calls inside the block one atomic write (rolled back on any error).

        Raises:
            StoreBusy: The write lock could not be had within the busy timeout.
        """
        return self._backend.transaction()

    def _require(self, table: Table, row_id: object) -> Row:
        key = c.check_str(row_id, f"{_NAMES[table]} id")
        row = self._backend.get_trace_row(table, key)
        if row is None:
            raise NotFound(f"{_NAMES[table]} {key} not found")
        return row

    def _require_branch_of(self, run_id: str, branch_run_id: object) -> str | None:
        """Check a branch run exists and belongs to ``run_id`` (call inside a write)."""
        if branch_run_id is None:
            return None
        row = self._require(Table.BRANCHES, branch_run_id)
        if row[1] != run_id:
            raise InvalidRecord(f"branch run {row[0]} belongs to run {row[1]}, not {run_id}")
        return str(row[0])

    def _insert(self, table: Table, row: Row, branch_run_id: object = None) -> Row:
        """Insert one child row after checking its run (and branch) exist, atomically.

        The checks run inside the write transaction so a concurrent ``delete_run``
        cannot slip between check and insert.
        """
        with self._backend.transaction():
            self._require(Table.RUNS, row[1])
            self._require_branch_of(row[1], branch_run_id)
            self._backend.insert_trace_rows(table, [row])
        return row

    def _update(self, table: Table, row_id: object, changes: dict[str, Any]) -> Row:
        """Apply ``changes`` (column → value) to one row; a terminal status stamps the end."""
        cols = COLUMNS[table]
        with self._backend.transaction():
            row = list(self._require(table, row_id))
            if "completed_at" in cols and "completed_at" not in changes:
                status = changes.get("status")
                if status in TERMINAL_STATUSES and row[cols.index("completed_at")] is None:
                    changes["completed_at"] = self._now()
            for name, value in changes.items():
                row[cols.index(name)] = value
            self._backend.update_trace_row(table, tuple(row))
        return tuple(row)

    def _ended(self, status: str, completed_at: object) -> int | None:
        """``completed_at`` as given, or now for a terminal status, else ``None``."""
        if completed_at is not None:
            return c.check_time(completed_at, "completed_at")
        return self._now() if status in TERMINAL_STATUSES else None

    def _started(self, started_at: object) -> int:
        return self._now() if started_at is None else c.check_time(started_at, "started_at")
