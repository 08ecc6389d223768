"""``demo``: a realistic sample session, so a new user can try every command."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import click
from rich.text import Text

from ..records import (
    DynamicToolRecord,
    JobStateRecord,
    JobStateStatus,
    ThreadGoalRecord,
    ThreadGoalStatus,
    ThreadMetadata,
    ThreadStatus,
)
from ..store import StateStore
from .context import console, emit_json, open_store, state

__all__ = ["COMMANDS", "create_demo"]

_STORE_PY = "\n".join(
    [
        "import sqlite3",
        "",
        "class Store:",
        "    def __init__(self, path):",
        "        self.path = path",
        "",
        "    def _conn(self):",
        "        # a new connection per call, default timeout, rollback journal",
        "        return sqlite3.connect(self.path)",
        "",
        "    def append(self, thread_id, role, content):",
        "        with self._conn() as conn:",
        "            conn.execute(",
        '                "INSERT INTO messages(thread_id, role, content) VALUES (?, ?, ?)",',
        "                (thread_id, role, content),",
        "            )",
        "",
        "    def messages(self, thread_id):",
        "        with self._conn() as conn:",
        '            return conn.execute("SELECT * FROM messages WHERE thread_id = ?",',
        "                                (thread_id,)).fetchall()",
    ]
)


class _Clock:
    """Message times a few minutes apart, ending about now."""

    def __init__(self, start: int) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 47
        return self.now


def create_demo(store: StateStore, now: int | None = None) -> list[str]:
    """Write three sample threads (one with branches, checkpoints, tools and a goal)
    and three jobs; return the thread ids."""
    now = int(time.time()) if now is None else now
    home = Path.home() / "code" / "webapp"
    main_id, ci_id, old_id = (str(uuid.uuid4()) for _ in range(3))
    clock = _Clock(now - 3600)
    s = StateStore(store.backend, clock=clock)
    with store.transaction():
        s.upsert_thread(
            ThreadMetadata.create(
                main_id,
                name="Fix 'database is locked'",
                cwd=str(home),
                now=now - 3600,
                preview="The tests fail with 'database is locked' when two workers write",
                model_provider="deepseek",
                cli_version="0.8.59",
                source="interactive",
                status=ThreadStatus.RUNNING,
                git_branch="fix/locking",
            )
        )
        q = s.append_message(
            main_id,
            "user",
            "The tests in tests/test_store.py fail with "
            "'database is locked' when two workers write. Can you find out why?",
        )
        s.append_message(
            main_id,
            "assistant",
            "Let me look at how the store opens connections.",
            {"type": "function_call", "name": "read_file", "arguments": {"path": "src/store.py"}},
        )
        s.append_message(
            main_id,
            "tool",
            _STORE_PY,
            {"type": "function_call_output", "name": "read_file", "output": _STORE_PY},
        )
        plan = s.append_message(
            main_id,
            "assistant",
            "Every call opens a new connection with the default 5 s timeout and the rollback "
            "journal, so a reader blocks a writer and two writers upgrade their locks into a "
            "deadlock.\n\nFix: one connection per thread, `journal_mode=WAL`, "
            "`busy_timeout=5000`, and `BEGIN IMMEDIATE` for writes.",
        )
        s.save_checkpoint(main_id, "turn-1", {"turn": 1, "files_read": ["src/store.py"]})
        s.append_message(main_id, "user", "Go with WAL and a 5 s busy timeout.")
        s.append_message(
            main_id,
            "assistant",
            "Running the tests with the change.",
            {
                "type": "function_call",
                "name": "run_tests",
                "arguments": {"path": "tests/test_store.py", "workers": 4},
            },
        )
        s.append_message(
            main_id,
            "tool",
            "12 passed in 0.84s",
            {"type": "function_call_output", "name": "run_tests", "output": "12 passed in 0.84s"},
        )
        done = s.append_message(
            main_id,
            "assistant",
            "All 12 tests pass with 4 workers. The "
            "store now uses WAL, a busy timeout and immediate transactions.",
        )
        s.save_checkpoint(main_id, "turn-2", {"turn": 2, "tests": "12 passed"})
        # A second branch: the user asked for another approach at the plan.
        alt = s.fork_at_message(plan, "user", "Could a single writer process work instead?")
        s.fork_at_message(
            alt,
            "assistant",
            "It could: a queue in front of one writer "
            "serializes writes, at the cost of a hop per write. WAL is simpler.",
        )
        s.fork_at_message(q, "assistant", "(retry) Could you paste the full traceback first?")
        s.set_current_leaf_id(main_id, done)
        s.save_checkpoint(main_id, "latest", {"turn": 2, "leaf": done, "model": "deepseek-chat"})
        s.persist_dynamic_tools(
            main_id,
            [
                DynamicToolRecord(
                    position=0,
                    name="read_file",
                    description="Read a file of the workspace",
                    input_schema={
                        "type": "object",
                        "properties": {"path": {"type": "string"}},
                        "required": ["path"],
                    },
                ),
                DynamicToolRecord(
                    position=1,
                    name="run_tests",
                    description="Run pytest",
                    input_schema={
                        "type": "object",
                        "properties": {"path": {"type": "string"}, "workers": {"type": "integer"}},
                        "required": ["path"],
                    },
                ),
            ],
        )
        s.upsert_thread_goal(
            ThreadGoalRecord(
                thread_id=main_id,
                goal_id=str(uuid.uuid4()),
                objective="Make concurrent writers safe without losing a write",
                status=ThreadGoalStatus.ACTIVE,
                token_budget=200_000,
                tokens_used=48_350,
                time_used_seconds=734,
                created_at=now - 3600,
                updated_at=now - 60,
                continuation_count=2,
            )
        )
        s.upsert_thread(replace_updated(s, main_id, clock.now))

        clock.now = now - 86_400 * 2
        s.upsert_thread(
            ThreadMetadata.create(
                ci_id,
                name="Flaky CI on macOS",
                cwd=str(home),
                now=clock.now,
                preview="CI fails one run in five on macOS",
                model_provider="openai",
                status=ThreadStatus.COMPLETED,
                source="resume",
            )
        )
        s.append_message(ci_id, "user", "CI fails one run in five on macOS. Why?")
        s.append_message(
            ci_id,
            "assistant",
            "The test sleeps 0.1 s and expects a file to be "
            "written; on a loaded runner that is too short. Wait on the event "
            "instead of sleeping.",
        )
        s.append_message(ci_id, "user", "Thanks, that fixed it.")
        s.save_checkpoint(ci_id, "latest", {"turn": 2})
        s.upsert_thread(replace_updated(s, ci_id, clock.now))

        clock.now = now - 86_400 * 40
        s.upsert_thread(
            ThreadMetadata.create(
                old_id,
                name="Old experiment",
                cwd=str(home / "scratch"),
                now=clock.now,
                preview="Try a JSON file instead of SQLite",
                status=ThreadStatus.IDLE,
            )
        )
        s.append_message(old_id, "user", "Try a JSON file instead of SQLite.")
        s.append_message(old_id, "assistant", "A JSON file has no locking; SQLite it is.")
        s.mark_archived(old_id)

        suffix = main_id[:8]
        for job_id, name, status, progress, age in (
            (f"job-tests-{suffix}", "run tests", JobStateStatus.RUNNING, 64, 30),
            (f"job-index-{suffix}", "index repository", JobStateStatus.COMPLETED, 100, 600),
            (f"job-deploy-{suffix}", "deploy preview", JobStateStatus.QUEUED, None, 5),
        ):
            s.upsert_job(
                JobStateRecord(
                    id=job_id,
                    name=name,
                    status=status,
                    progress=progress,
                    detail=f'{{"schema_version":1,"status":"{status.value}","detail":"{name}"}}',
                    created_at=now - age - 60,
                    updated_at=now - age,
                )
            )
    return [main_id, ci_id, old_id]


def replace_updated(store: StateStore, thread_id: str, updated_at: int) -> ThreadMetadata:
    """The stored thread with a new ``updated_at`` (the app bumps it per message)."""
    thread = store.get_thread(thread_id)
    assert thread is not None
    data = thread.to_dict()
    data["updated_at"] = updated_at
    return ThreadMetadata.from_dict(data)


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Only when the database has no threads yet.")
@click.option("--json", "as_json", is_flag=True, help="Print the new thread ids as JSON.")
def demo_cmd(if_empty: bool, as_json: bool) -> None:
    """Create sample sessions (branches, checkpoints, tools, a goal, jobs) in --db."""
    app = state()
    existed = app.is_postgres or app.db_path().exists()
    store = open_store(create=True)
    if if_empty and existed and store.list_threads(include_archived=True, limit=1):
        if as_json:
            emit_json({"created": []})
        return
    ids = create_demo(store)
    if as_json:
        emit_json({"created": ids, "database": store.backend.location})
        return
    out = console()
    if if_empty:
        out.print(
            Text(
                f"No sessions yet in {store.backend.location}, so threadloom created "
                "demo sessions there.",
                style="dim",
            ),
            soft_wrap=True,  # one sentence on one line, not cut at the terminal's width
        )
        return
    out.print(f"Created 3 demo threads and 3 jobs in {store.backend.location}.")
    out.print(f"Try: threadloom show {ids[0][:8]}   threadloom tree {ids[0][:8]}")


COMMANDS: list[click.Command] = [demo_cmd]
