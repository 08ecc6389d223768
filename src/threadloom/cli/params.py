"""The CLI's numeric option types: one per kind, so every command validates alike.

``COUNT`` is every count, limit, page and size (``--limit``, ``--page``, ``--top``,
``--last``, ``--max-lines``, ``--batch-size``): a whole number from 1 to the largest
64-bit integer the stores accept. ``DAYS`` is a finite, non-negative number of days.
A bad value is a usage error (exit 2) naming the option, never a traceback.
"""

from __future__ import annotations

import math
import re
from typing import Any

import click

from ..maintenance import MAX_AGE_DAYS
from ..records import I64_MAX

__all__ = ["COUNT", "DAYS", "MAX_DAYS", "Count", "Days"]

#: The largest age ``--older-than`` takes: beyond it no timestamp is older (~2,700 years).
MAX_DAYS = MAX_AGE_DAYS

_WHOLE = re.compile(r"\+?[0-9]+")


class Count(click.types.IntParamType):
    """A whole number from ``minimum`` (1) to the largest 64-bit integer."""

    name = "count"

    def __init__(self, minimum: int = 1, maximum: int = I64_MAX) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            if not _WHOLE.fullmatch(text):
                self.fail(f"{value!r} is not a whole number", param, ctx)
            number = int(text)
        if not self.minimum <= number <= self.maximum:
            self.fail(
                f"{number} is out of range: give a whole number from {self.minimum} to "
                f"{self.maximum}",
                param,
                ctx,
            )
        return number


class Days(click.types.FloatParamType):
    """A finite number of days from 0 to :data:`MAX_DAYS` (fractions allowed)."""

    name = "days"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of days", param, ctx)
        if not math.isfinite(number) or not 0 <= number <= MAX_DAYS:
            self.fail(
                f"{value!r} is out of range: give a number of days from 0 to {MAX_DAYS:,}",
                param,
                ctx,
            )
        return number


COUNT = Count()
DAYS = Days()
