"""The workflow trace tables in PostgreSQL: the dialect and its connection primitives.

Rows move in and out exactly as on SQLite: ``*_json`` columns are ``json``, read back
as their stored text; other text goes through :mod:`.nul` so NUL round-trips; the
``passed`` flag is 0/1 like the original's INTEGER; ``seq`` is insertion order.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg.errors as pg_errors

from ...errors import Conflict, NotFound
from ..common.traces import TraceDialect, TraceStatements, TraceStorage, WriteStep
from .connection import PgConnections
from .nul import escape, unescape_row

__all__ = ["PG_TRACES", "PgTraces"]

#: JSON columns are ``json``: written with a cast, read back as their stored text.
PG_TRACES = TraceDialect(
    "%s",
    "seq",
    json_in="::json",
    json_out="::text",
    keys_as_array=True,
    escape=escape,
    unescape_row=unescape_row,
)


class PgTraces(TraceStorage):
    """:class:`~threadloom.contract.TraceOperations` of :class:`PostgresBackend`."""

    _trace_sql = TraceStatements(PG_TRACES)
    _conns: PgConnections

    def _trace_write(self, what: str, steps: Sequence[WriteStep]) -> list[int]:
        try:
            with self._conns.write(what) as conn, conn.cursor() as cur:
                counts: list[int] = []
                for sql, batch in steps:
                    if len(batch) == 1:
                        cur.execute(sql, batch[0])
                    else:
                        cur.executemany(sql, batch)
                    counts.append(cur.rowcount)
                return counts
        except NotFound as exc:
            # The contract calls a dangling reference a Conflict (SQLite's integrity
            # error); the connection layer reads a foreign-key violation as NotFound.
            if isinstance(exc.__cause__, pg_errors.ForeignKeyViolation):
                raise Conflict(f"{what}: {str(exc.__cause__).strip()}") from exc.__cause__
            raise
