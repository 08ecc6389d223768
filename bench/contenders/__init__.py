"""Contenders: anything that can run a workload and return a timed :class:`Sample`.

A contender is pluggable: implement :class:`Contender` and add it to
:func:`default_contenders` (the PostgreSQL backend will add its own columns here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..workloads import Fixtures, Sample, Workload

__all__ = ["Contender", "default_contenders"]


class Contender(Protocol):
    """One column of the result table."""

    #: Column label, e.g. ``"threadloom normal"``.
    name: str
    #: ``"normal"``, ``"full"`` or ``""`` when it has no such setting.
    durability: str

    def supports(self, workload: Workload) -> bool:
        """Whether an equivalent operation exists (peers lack some)."""
        ...

    def run(self, workload: Workload, fixtures: Fixtures, workdir: Path) -> Sample:
        """Set up (untimed), run the timed part once, return the sample.

        ``workdir`` is empty and private to this call.
        """
        ...


def default_contenders(*, original: bool = True, peers: bool = True) -> list[Contender]:
    """threadloom at both durabilities, the raw-SQL floor at both, the original, peers."""
    from .library import ThreadloomContender
    from .rawsql import RawSqlContender

    out: list[Contender] = [
        ThreadloomContender("normal"),
        ThreadloomContender("full"),
        RawSqlContender("normal"),
        RawSqlContender("full"),
    ]
    if original:
        from .oracle import OracleContender, oracle_path

        if oracle_path() is not None:
            out.append(OracleContender())
    if peers:
        from .peers import available_peers

        out.extend(available_peers())
    from .postgres import available_postgres

    out.extend(available_postgres())  # a column when a PostgreSQL server answers
    return out
