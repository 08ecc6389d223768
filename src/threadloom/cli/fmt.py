"""Formatting helpers: relative times, folded text, role styles, item summaries."""

from __future__ import annotations

import json
import time
from typing import Any

from rich.text import Text

from ..records import MessageRecord, ThreadMetadata

__all__ = [
    "ROLE_STYLES",
    "fold",
    "human_bytes",
    "message_preview",
    "one_line",
    "relative_time",
    "role_text",
    "summarize_item",
    "thread_title",
]

ROLE_STYLES = {
    "user": "bold cyan",
    "assistant": "bold green",
    "tool": "yellow",
    "system": "magenta",
}


_SHORT_UNITS = {"year": "y", "month": "mo", "day": "d", "hour": "h", "minute": "m"}


def relative_time(stamp: int | None, now: float | None = None, *, short: bool = False) -> str:
    """``"3 minutes ago"``, ``"in 2 days"``, ``"just now"``; ``"-"`` for none.

    ``short`` gives ``"3m ago"``, ``"in 2d"`` (for narrow terminals: a time is made
    shorter, never cut).
    """
    if stamp is None:
        return "-"
    delta = int((time.time() if now is None else now) - stamp)
    future = delta < 0
    delta = abs(delta)
    if delta < 45:
        return "just now"
    for unit, seconds in (
        ("year", 31_536_000),
        ("month", 2_592_000),
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
    ):
        if delta >= seconds:
            count = delta // seconds
            if short:
                label = f"{count}{_SHORT_UNITS[unit]}"
            else:
                label = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"in {label}" if future else f"{label} ago"
    label = "1m" if short else "1 minute"
    return f"in {label}" if future else f"{label} ago"


def one_line(text: str, width: int = 60) -> str:
    """The first line of ``text``, cut to ``width`` characters with an ellipsis."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= width else first[: width - 1] + "…"


def fold(text: str, max_lines: int) -> tuple[str, int]:
    """``text`` cut to ``max_lines`` lines (0: no limit); the text and lines hidden."""
    lines = text.splitlines()
    if max_lines <= 0 or len(lines) <= max_lines:
        return text, 0
    return "\n".join(lines[:max_lines]), len(lines) - max_lines


def thread_title(thread: ThreadMetadata, index_name: str | None = None) -> str:
    """The name to show: the thread's name, its session-index name, or its preview."""
    return thread.name or index_name or one_line(thread.preview, 50) or thread.id


def role_text(role: str) -> Text:
    """The role, styled."""
    return Text(role, style=ROLE_STYLES.get(role, "bold"))


def _args_summary(args: Any, width: int = 50) -> str:
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            return one_line(args, width)
    if isinstance(args, dict):
        parts = [f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items()]
        return one_line(", ".join(parts), width)
    return one_line(json.dumps(args, ensure_ascii=False), width)


def summarize_item(item: Any) -> str | None:
    """A one-line summary of a message's structured item (tool call, tool result).

    Returns ``None`` for a plain text item (its text is the message content).
    """
    if item is None:
        return None
    if not isinstance(item, dict):
        return one_line(json.dumps(item, ensure_ascii=False), 60)
    kind = str(item.get("type", ""))
    if kind in ("text", "message"):
        return None
    function = item.get("function")
    name = (
        item.get("name")
        or item.get("tool")
        or (function.get("name") if isinstance(function, dict) else None)
    )
    if "result" in kind or "output" in kind:
        output = item.get("output", item.get("content", item.get("result", "")))
        if isinstance(output, dict) and isinstance(output.get("stdout"), str):
            output = output["stdout"]
        text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
        status = " ✗" if item.get("is_error") or item.get("status") == "error" else ""
        lines = len(text.splitlines())
        return f"↳ {name or 'result'}{status}: {one_line(text, 50)}" + (
            f" (+{lines - 1} lines)" if lines > 1 else ""
        )
    if "call" in kind or "tool_use" in kind:
        args = item.get("arguments", item.get("input", item.get("args")))
        return f"⚙ {name or kind}({_args_summary(args) if args is not None else ''})"
    return f"[{kind or 'item'}] {one_line(json.dumps(item, ensure_ascii=False), 50)}"


def message_preview(message: MessageRecord, width: int = 60) -> str:
    """The message's first line, or its item summary when it has no text."""
    return one_line(message.content, width) or (summarize_item(message.item) or "")


def human_bytes(size: int | None) -> str:
    """``1.2 MB``-style sizes."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"
