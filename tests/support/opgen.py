"""A seeded generator of random op sequences whose semantics the original and we share.

The differential tests feed the same ops to the oracle and to threadloom. The
generator keeps a small model of what exists so it avoids exactly the cases where the
two differ on purpose or where the original is nondeterministic:

- writes naming a missing thread that the original accepts (orphan checkpoints,
  tools, memory modes, leaf switches); those the original rejects too are kept;
- re-creating or reading the children of a deleted thread (the original leaves
  orphans behind, we cascade);
- ``mark_unarchived`` of a thread whose status is ``archived`` (we reset it to idle);
- ``list_messages(limit=0)``, job status ``paused``, duplicate tool positions;
- ties on ``updated_at`` (every generated timestamp is distinct) and floats (serde
  may round differently).

``record_thread_goal_usage`` is a later addition of the original, absent from the
seed: the generator sends threadloom the call and gives the oracle its meaning in the
seed's own ops (``oracle_ops``: upsert the goal with the counters added and
``updated_at = max(updated_at, now)``, then read it back), computed from the
generator's model of the goals; :func:`oracle_lines` expands them and
:func:`fold_answers` keeps the last answer of each expansion.

The original runs on the real clock, so answers are compared with the stamped times
masked (:func:`mask_times`) and lists ordered by those times sorted (:func:`normalize`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OpGenerator", "fold_answers", "normalize", "oracle_lines"]

_THREAD_STATUSES = ("running", "idle", "completed", "failed", "paused")
_SOURCES = ("interactive", "resume", "fork", "api", "unknown")
_JOB_STATUSES = ("queued", "running", "completed", "failed", "cancelled")
_GOAL_STATUSES = ("active", "paused", "blocked", "usage_limited", "budget_limited", "complete")
_NAMES = ("Alpha", "alpha", "BETA", "Gamma ray", "Δelta 🚀", "ümlaut", None)
_TEXT = ("hi", "", "ünïcödé", "emoji 🐳🚀", "nul\x00byte", "line\nbreak", "tab\t", "\u2028sep")
_MASKED = "<stamped>"


@dataclass
class _Model:
    threads: dict[str, str] = field(default_factory=dict)  # id -> status
    deleted: set[str] = field(default_factory=set)
    messages: dict[str, list[int]] = field(default_factory=dict)
    checkpoints: dict[str, set[str]] = field(default_factory=dict)
    jobs: set[str] = field(default_factory=set)
    goals: dict[str, dict[str, Any]] = field(default_factory=dict)  # thread id -> goal
    next_message_id: int = 1
    stamp: int = 1_700_000_000


class OpGenerator:
    """Random ops from a seed; :meth:`ops` returns ``n`` of them.

    Args:
        seed: The random seed (the same seed gives the same ops).
    """

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.model = _Model()

    # -- values ------------------------------------------------------------------

    def _stamp(self) -> int:
        self.model.stamp += self.rng.randint(1, 50)
        return self.model.stamp

    def _text(self) -> str:
        return self.rng.choice(_TEXT) + str(self.rng.randint(0, 999))

    def _json(self, depth: int = 0) -> Any:
        kind = self.rng.randint(0, 6 if depth < 3 else 3)
        if kind == 0:
            return None
        if kind == 1:
            return self.rng.choice([True, False])
        if kind == 2:
            return self.rng.choice([0, -1, 42, 2**53 + 1, -(2**63), 2**63 - 1])
        if kind == 3:
            return self._text()
        if kind == 4:
            return [self._json(depth + 1) for _ in range(self.rng.randint(0, 3))]
        return {
            self.rng.choice(["b", "a", "z", "ключ", "k1", "_"]) + str(n): self._json(depth + 1)
            for n in range(self.rng.randint(0, 4))
        }

    def _item(self) -> Any:
        # None means "no item" in the protocol (SQL NULL); a JSON null item is not sent.
        return None if self.rng.random() < 0.3 else self._json()

    def _live_thread(self) -> str | None:
        live = sorted(self.model.threads)
        return self.rng.choice(live) if live else None

    def _any_thread(self) -> str:
        """A live thread, or an id that never existed (never a deleted one)."""
        live = self._live_thread()
        if live is None or self.rng.random() < 0.1:
            return f"never-{self.rng.randint(0, 5)}"
        return live

    # -- op families --------------------------------------------------------------

    def _thread_struct(self, thread_id: str, status: str) -> dict[str, Any]:
        rng = self.rng
        return {
            "id": thread_id,
            "rollout_path": rng.choice([None, f"/r/{thread_id}.jsonl", "/home/dév/δ.jsonl"]),
            "preview": self._text(),
            "ephemeral": rng.random() < 0.2,
            "model_provider": rng.choice(["deepseek", "openai"]),
            "created_at": self.model.stamp,
            "updated_at": self._stamp(),
            "status": status,
            "path": rng.choice([None, "/p"]),
            "cwd": rng.choice(["/w", "/home/ü"]),
            "cli_version": "0.8.59",
            "source": rng.choice(_SOURCES),
            "name": rng.choice(_NAMES),
            "sandbox_policy": rng.choice([None, "workspace-write"]),
            "approval_mode": rng.choice([None, "never"]),
            "archived": rng.random() < 0.2,
            "archived_at": rng.choice([None, 5]),
            "git_sha": rng.choice([None, "abc123"]),
            "git_branch": rng.choice([None, "main"]),
            "git_origin_url": None,
            "memory_mode": rng.choice([None, "on", "off"]),
        }

    def _threads(self) -> list[dict[str, Any]]:
        rng, model = self.rng, self.model
        roll = rng.random()
        if roll < 0.35 or not model.threads:
            existing = self._live_thread()
            thread_id = (
                existing
                if existing and rng.random() < 0.4
                else f"t{len(model.threads) + len(model.deleted)}"
            )
            status = rng.choice(_THREAD_STATUSES)
            model.threads[thread_id] = status
            model.messages.setdefault(thread_id, [])
            model.checkpoints.setdefault(thread_id, set())
            return [{"op": "upsert_thread", "thread": self._thread_struct(thread_id, status)}]
        thread_id = self._any_thread()
        if roll < 0.45:
            return [{"op": "get_thread", "id": thread_id}]
        if roll < 0.55:
            op: dict[str, Any] = {"op": "list_threads", "include_archived": rng.random() < 0.5}
            if rng.random() < 0.7:
                op["limit"] = rng.randint(0, 8)
            return [op]
        if roll < 0.62:
            if thread_id in model.threads:
                model.threads[thread_id] = "archived"
            return [{"op": "mark_archived", "id": thread_id}]
        if roll < 0.68:
            if model.threads.get(thread_id) == "archived":
                return [{"op": "get_thread", "id": thread_id}]
            return [{"op": "mark_unarchived", "id": thread_id}]
        if roll < 0.72 and thread_id in model.threads:
            del model.threads[thread_id]
            model.goals.pop(thread_id, None)
            model.deleted.add(thread_id)
            model.messages.pop(thread_id, None)
            model.checkpoints.pop(thread_id, None)
            return [{"op": "delete_thread", "id": thread_id}]
        if roll < 0.8 and thread_id in model.threads:
            return [
                {"op": "set_thread_memory_mode", "id": thread_id, "mode": rng.choice([None, "on"])}
            ]
        if roll < 0.9:
            return [{"op": "get_thread_memory_mode", "id": thread_id}]
        return [{"op": "find_rollout_path_by_id", "id": thread_id}]

    def _goals(self) -> list[dict[str, Any]]:
        rng, model = self.rng, self.model
        thread_id = self._any_thread()
        roll = rng.random()
        if roll < 0.35:
            goal = {
                "thread_id": thread_id,
                "goal_id": f"g{rng.randint(0, 9)}",
                "objective": self._text(),
                "status": rng.choice(_GOAL_STATUSES),
                "token_budget": rng.choice([None, 0, 10_000]),
                "tokens_used": rng.randint(0, 2**40),
                "time_used_seconds": rng.randint(0, 10**6),
                "created_at": self._stamp(),
                "updated_at": self._stamp(),
            }
            if thread_id in model.threads:
                model.goals[thread_id] = goal
            return [{"op": "upsert_thread_goal", "goal": goal}]
        if roll < 0.65:
            return [self._goal_usage(thread_id)]
        if roll < 0.9:
            return [{"op": "get_thread_goal", "thread_id": thread_id}]
        model.goals.pop(thread_id, None)
        return [{"op": "delete_thread_goal", "thread_id": thread_id}]

    def _goal_usage(self, thread_id: str) -> dict[str, Any]:
        """``record_thread_goal_usage``, with its meaning in the seed's ops for the oracle."""
        rng, model = self.rng, self.model
        tokens, seconds = rng.randint(0, 10**6), rng.randint(0, 3600)
        # Sometimes a time before the goal's updated_at, which must not go back.
        now = self._stamp() if rng.random() < 0.7 else model.stamp - rng.randint(1, 10**4)
        op: dict[str, Any] = {
            "op": "record_thread_goal_usage",
            "thread_id": thread_id,
            "tokens_delta": tokens,
            "seconds_delta": seconds,
            "now": now,
        }
        read = {"op": "get_thread_goal", "thread_id": thread_id}
        goal = model.goals.get(thread_id)
        if goal is None:
            op["oracle_ops"] = [read]  # no goal: None, and nothing is written
            return op
        goal = {
            **goal,
            "tokens_used": goal["tokens_used"] + tokens,
            "time_used_seconds": goal["time_used_seconds"] + seconds,
            "updated_at": max(goal["updated_at"], now),
        }
        model.goals[thread_id] = goal
        op["oracle_ops"] = [{"op": "upsert_thread_goal", "goal": goal}, read]
        return op

    def _messages(self) -> list[dict[str, Any]]:
        rng, model = self.rng, self.model
        thread_id = self._any_thread()
        own = model.messages.get(thread_id, [])
        roll = rng.random()
        if roll < 0.35:
            op = {
                "op": "append_message",
                "thread_id": thread_id,
                "role": rng.choice(["user", "assistant", "tool"]),
                "content": self._text(),
                "item": self._item(),
            }
            if thread_id in model.threads:
                own.append(model.next_message_id)
                model.next_message_id += 1
            return [op]
        if roll < 0.5:
            if own and rng.random() < 0.9:
                target: int | str = rng.choice(own)
                own.append(model.next_message_id)
                model.next_message_id += 1
            else:
                target = model.next_message_id + 1000  # a message that does not exist
            if rng.random() < 0.5:
                target = str(target)
            return [
                {
                    "op": "fork_at_message",
                    "message_id": target,
                    "role": "assistant",
                    "content": self._text(),
                    "item": self._item(),
                }
            ]
        if roll < 0.75:
            op = {"op": "list_messages", "thread_id": thread_id}
            if rng.random() < 0.6:
                op["limit"] = rng.randint(1, 12)
            return [op]
        if roll < 0.85:
            return [{"op": "list_leaf_messages", "thread_id": thread_id}]
        if roll < 0.95 and own:
            leaf: int | str = rng.choice(own)
            return [
                {
                    "op": "set_current_leaf_id",
                    "thread_id": thread_id,
                    "current_leaf_id": leaf if rng.random() < 0.5 else str(leaf),
                }
            ]
        if thread_id in model.messages:
            model.messages[thread_id] = []
        return [{"op": "clear_messages", "thread_id": thread_id}]

    def _tools(self) -> list[dict[str, Any]]:
        rng = self.rng
        thread_id = self._live_thread()
        if thread_id is None or rng.random() < 0.4:
            return [{"op": "get_dynamic_tools", "thread_id": self._any_thread()}]
        positions = rng.sample(range(10), rng.randint(0, 4))
        tools = [
            {
                "position": p,
                "name": f"tool{p}",
                "description": rng.choice([None, self._text()]),
                "input_schema": self._json(),
            }
            for p in positions
        ]
        return [{"op": "persist_dynamic_tools", "thread_id": thread_id, "tools": tools}]

    def _checkpoints(self) -> list[dict[str, Any]]:
        rng, model = self.rng, self.model
        roll = rng.random()
        thread_id = self._live_thread()
        if thread_id is not None and roll < 0.4:
            checkpoint_id = rng.choice(["latest", "a", "b", "ü"])
            model.checkpoints[thread_id].add(checkpoint_id)
            return [
                {
                    "op": "save_checkpoint",
                    "thread_id": thread_id,
                    "checkpoint_id": checkpoint_id,
                    "state": self._json(),
                }
            ]
        target = self._any_thread()
        names = sorted(model.checkpoints.get(target, set()))
        if roll < 0.6:
            if len(names) <= 1 or rng.random() < 0.5:
                # Without a name, "latest" is only unambiguous with one checkpoint: the
                # original runs on a real clock and leaves same-second ties arbitrary.
                op = {"op": "load_checkpoint", "thread_id": target}
                if len(names) > 1:
                    op["checkpoint_id"] = rng.choice(names)
                return [op]
            return [
                {
                    "op": "load_checkpoint",
                    "thread_id": target,
                    "checkpoint_id": rng.choice([*names, "zz"]),
                }
            ]
        if roll < 0.8:
            return [{"op": "list_checkpoints", "thread_id": target}]
        checkpoint_id = rng.choice([*names, "zz"])
        if target in model.checkpoints:
            model.checkpoints[target].discard(checkpoint_id)
        return [{"op": "delete_checkpoint", "thread_id": target, "checkpoint_id": checkpoint_id}]

    def _jobs(self) -> list[dict[str, Any]]:
        rng, model = self.rng, self.model
        roll = rng.random()
        job_id = f"j{rng.randint(0, 12)}"
        if roll < 0.4:
            model.jobs.add(job_id)
            return [
                {
                    "op": "upsert_job",
                    "job": {
                        "id": job_id,
                        "name": self._text(),
                        "status": rng.choice(_JOB_STATUSES),
                        "progress": rng.choice([None, 0, 1, 99, 255]),
                        "detail": rng.choice([None, '{"schema_version":1}', self._text()]),
                        "created_at": self._stamp(),
                        "updated_at": self._stamp(),
                    },
                }
            ]
        if roll < 0.65:
            return [{"op": "get_job", "id": job_id}]
        if roll < 0.9:
            op: dict[str, Any] = {"op": "list_jobs"}
            if rng.random() < 0.6:
                op["limit"] = rng.randint(0, 8)
            return [op]
        model.jobs.discard(job_id)
        return [{"op": "delete_job", "id": job_id}]

    def _names(self) -> list[dict[str, Any]]:
        rng = self.rng
        roll = rng.random()
        thread_id = self._any_thread() if rng.random() < 0.8 else f"named-{rng.randint(0, 5)}"
        if roll < 0.35:
            return [
                {
                    "op": "append_thread_name",
                    "thread_id": thread_id,
                    "thread_name": rng.choice(_NAMES),
                    "updated_at": self._stamp(),
                    "rollout_path": rng.choice([None, f"/r/{thread_id}"]),
                }
            ]
        if roll < 0.6:
            return [{"op": "find_thread_name_by_id", "thread_id": thread_id}]
        if roll < 0.8:
            ids = sorted({self._any_thread() for _ in range(rng.randint(0, 4))} | {"zz"})
            return [{"op": "find_thread_names_by_ids", "ids": ids}]
        name = rng.choice([n for n in _NAMES if n is not None])
        name = rng.choice([name, name.upper(), name.lower(), "nobody"])
        return [{"op": "find_thread_path_by_name_str", "name": name}]

    def ops(self, n: int) -> list[dict[str, Any]]:
        """``n`` (or a few more) ops across every family."""
        families = (
            (self._threads, 20),
            (self._goals, 8),
            (self._messages, 30),
            (self._tools, 6),
            (self._checkpoints, 12),
            (self._jobs, 10),
            (self._names, 10),
        )
        funcs = [f for f, _ in families]
        weights = [w for _, w in families]
        out: list[dict[str, Any]] = []
        while len(out) < n:
            out += self.rng.choices(funcs, weights)[0]()
        return out


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            stamped = k == "archived_at" or (
                k == "created_at" and ("checkpoint_id" in value or "parent_entry_id" in value)
            )
            out[k] = (_MASKED if v is not None else None) if stamped else _mask(v)
        return out
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def normalize(op: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """An answer with clock-stamped times masked and time-ordered lists sorted.

    Errors keep only their kind: the two implementations word them differently.
    """
    if "err" in answer:
        return {"err": True}
    value = _mask(answer["ok"])
    if op["op"] == "list_checkpoints" and isinstance(value, list):
        # Ordered by a real-clock second in the original: ties are arbitrary there.
        value = sorted(value, key=lambda c: c["checkpoint_id"])
    if op["op"] == "list_leaf_messages" and isinstance(value, list):
        value = sorted(value, key=lambda m: m["id"])  # no ORDER BY in the original
    return {"ok": value}


def oracle_lines(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ops as the oracle runs them: each ``oracle_ops`` expanded in place."""
    return [line for op in ops for line in op.get("oracle_ops", [op])]


def fold_answers(ops: list[dict[str, Any]], answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The oracle's answers, one per op: the last answer of each expansion."""
    out: list[dict[str, Any]] = []
    position = 0
    for op in ops:
        position += len(op.get("oracle_ops", [op]))
        out.append(answers[position - 1])
    assert position == len(answers), (position, len(answers))
    return out
