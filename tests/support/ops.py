"""Run the oracle's JSON-lines protocol against threadloom (and against the oracle).

``apply_op(store, op)`` answers one op the way ``seed-oracle run`` does: ``{"ok": ...}``
with the original's JSON shapes, or ``{"err": "..."}``. Error texts differ between the
implementations; callers compare ``ok`` answers exactly and only the kind of ``err``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from threadloom import (
    DynamicToolRecord,
    JobStateRecord,
    StateStore,
    ThreadGoalRecord,
    ThreadListFilters,
    ThreadloomError,
    ThreadMetadata,
)

__all__ = ["apply_op", "run_ops", "run_oracle"]


def _dump(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        data = value.to_dict()
        if isinstance(value, ThreadGoalRecord):
            data.pop("continuation_count", None)
        return data
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _leaf_arg(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _call(store: StateStore, op: dict[str, Any]) -> Any:
    name = op["op"]
    if name == "upsert_thread":
        return store.upsert_thread(ThreadMetadata.from_dict(op["thread"]))
    if name == "get_thread":
        return store.get_thread(op["id"])
    if name == "list_threads":
        return store.list_threads(
            ThreadListFilters(
                include_archived=bool(op.get("include_archived") or False),
                limit=op.get("limit"),
            )
        )
    if name in ("mark_archived", "mark_unarchived", "delete_thread", "delete_job"):
        getattr(store, name)(op["id"])
        return None  # the original returns ()
    if name == "set_thread_memory_mode":
        return store.set_thread_memory_mode(op["id"], op.get("mode"))
    if name in ("get_thread_memory_mode", "find_rollout_path_by_id", "get_job"):
        return getattr(store, name)(op["id"])
    if name == "upsert_thread_goal":
        return store.upsert_thread_goal(ThreadGoalRecord.from_dict(op["goal"]))
    if name == "record_thread_goal_usage":  # a later addition of the original
        return store.record_thread_goal_usage(
            op["thread_id"], op["tokens_delta"], op["seconds_delta"], op.get("now")
        )
    if name in (
        "get_thread_goal",
        "delete_thread_goal",
        "list_leaf_messages",
        "clear_messages",
        "get_dynamic_tools",
        "find_thread_name_by_id",
    ):
        return getattr(store, name)(op["thread_id"])
    if name == "append_message":
        return store.append_message(op["thread_id"], op["role"], op["content"], op.get("item"))
    if name == "list_messages":
        return store.list_messages(op["thread_id"], op.get("limit"))
    if name == "fork_at_message":
        return store.fork_at_message(
            _leaf_arg(op["message_id"]), op["role"], op["content"], op.get("item")
        )
    if name == "set_current_leaf_id":
        return store.set_current_leaf_id(op["thread_id"], _leaf_arg(op["current_leaf_id"]))
    if name == "persist_dynamic_tools":
        return store.persist_dynamic_tools(
            op["thread_id"], [DynamicToolRecord.from_dict(t) for t in op["tools"]]
        )
    if name == "save_checkpoint":
        return store.save_checkpoint(op["thread_id"], op["checkpoint_id"], op["state"])
    if name == "load_checkpoint":
        return store.load_checkpoint(op["thread_id"], op.get("checkpoint_id"))
    if name == "list_checkpoints":
        return store.list_checkpoints(op["thread_id"], op.get("limit"))
    if name == "delete_checkpoint":
        store.delete_checkpoint(op["thread_id"], op["checkpoint_id"])
        return None
    if name == "upsert_job":
        return store.upsert_job(JobStateRecord.from_dict(op["job"]))
    if name == "list_jobs":
        return store.list_jobs(op.get("limit"))
    if name == "append_thread_name":
        return store.append_thread_name(
            op["thread_id"], op.get("thread_name"), op["updated_at"], op.get("rollout_path")
        )
    if name == "find_thread_names_by_ids":
        return dict(sorted(store.find_thread_names_by_ids(op["ids"]).items()))
    if name == "find_thread_path_by_name_str":
        return store.find_thread_path_by_name_str(op["name"])
    if name == "db_path":
        return str(store.db_path())
    raise ValueError(f"malformed line: unknown op `{name}`")


def apply_op(store: StateStore, op: dict[str, Any]) -> dict[str, Any]:
    """Answer one op as ``{"ok": value}`` or ``{"err": message}``."""
    try:
        return {"ok": _dump(_call(store, op))}
    except (ThreadloomError, ValueError, TypeError, KeyError) as exc:
        return {"err": f"{type(exc).__name__}: {exc}"}


def run_ops(store: StateStore, ops: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Answer every op in order."""
    return [apply_op(store, op) for op in ops]


def run_oracle(oracle: Path, db_path: Path, ops: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run ops through ``seed-oracle run DBPATH`` and return its answers, one per op."""
    lines = "".join(json.dumps(op, ensure_ascii=False) + "\n" for op in ops)
    proc = subprocess.run(
        [str(oracle), "run", str(db_path)],
        input=lines.encode("utf-8"),
        capture_output=True,
        check=False,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"seed-oracle failed ({proc.returncode}): {proc.stderr.decode()!r}")
    # split("\n"), not splitlines(): answers may hold U+2028, U+0085 and friends, which
    # splitlines() would treat as line breaks inside a JSON string.
    return [json.loads(line) for line in proc.stdout.decode("utf-8").split("\n") if line]
