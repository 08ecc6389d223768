"""Waiting for forked children in tests without letting a hang stall the run."""

from __future__ import annotations

import os
import signal
import time

__all__ = ["exit_code"]


def exit_code(pid: int, bound: float = 60.0) -> int | None:
    """The child's exit code; ``None`` if it still ran after ``bound`` s (then it is killed).

    The bound only turns a hang (a deadlock) into a failure instead of a stuck run.
    """
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None
