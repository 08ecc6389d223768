"""Retention policies: old sessions go away on a schedule, not by hand.

A :class:`RetentionPolicy` is stored in the database (``threadloom_settings``), so
every process and the CLI (``threadloom retention set|show|run``) apply the same one.
A run first plans (what goes and why: :func:`plan_retention`, which a dry run shows),
then deletes in small batches, each its own short transaction, so writers wait at
most one batch. Every thread deletion re-checks its reason with the thread row
locked: a thread that a writer touched after the plan (a new message, an update, an
unarchive) is spared.

With ``auto=True`` in the policy, opening a store for writing applies it at most once
a day (one process wins the day through a compare-and-set on the last run's time).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from .contract.lifecycle import CheckpointRef
from .errors import CorruptData, InvalidRecord, InvalidType, ThreadloomError
from .records import I64_MAX

if TYPE_CHECKING:
    from .store import StateStore

__all__ = [
    "AUTO_INTERVAL",
    "PlannedThread",
    "RetentionPlan",
    "RetentionPolicy",
    "RetentionReport",
    "get_policy",
    "plan_retention",
    "run_if_due",
    "run_retention",
    "set_policy",
]

_log = logging.getLogger("threadloom.retention")

#: The stored policy (JSON) and the time of the last automatic run.
POLICY_SETTING = "retention.policy"
LAST_RUN_SETTING = "retention.last_run"
#: Automatic runs happen at most this often (seconds).
AUTO_INTERVAL = 86400
#: The largest age taken, as ``prune``'s (~2,700 years).
_MAX_DAYS = 1_000_000


def _days(value: object, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidType(f"{name} must be a number of days, got {type(value).__name__}")
    if not math.isfinite(value) or not 0 <= value <= _MAX_DAYS:
        raise InvalidRecord(f"{name} must be a number of days from 0 to {_MAX_DAYS:,}, got {value}")
    return float(value)


def _count(value: object, name: str, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidType(f"{name} must be an int, got {type(value).__name__}")
    if not minimum <= value <= I64_MAX:
        raise InvalidRecord(f"{name} must be a whole number from {minimum}, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """What a retention run deletes. Every rule is optional (``None``: off).

    Attributes:
        older_than_days: Delete threads neither updated nor appended to for this
            many days.
        keep_per_cwd: Keep the N most recently updated threads of each working
            directory; delete the rest.
        keep_checkpoints: Keep the latest K checkpoints of each thread.
        workflow_runs_older_than_days: Delete workflow runs finished this many days
            ago (with their branches, leaves and control nodes).
        max_total_bytes: Delete the least recently updated threads until the stored
            message text, items and checkpoint states total at most this many bytes
            (the file shrinks only after ``VACUUM``).
        archived_only: The thread rules delete archived threads only (the default);
            ``False`` lets them delete any thread.
        auto: Apply the policy when a store is opened for writing, at most once a day.
    """

    older_than_days: float | None = None
    keep_per_cwd: int | None = None
    keep_checkpoints: int | None = None
    workflow_runs_older_than_days: float | None = None
    max_total_bytes: int | None = None
    archived_only: bool = True
    auto: bool = False

    def validated(self) -> RetentionPolicy:
        """The policy with every field checked.

        Raises:
            InvalidType: A field has the wrong type.
            InvalidRecord: A number is out of range.
        """
        for name in ("archived_only", "auto"):
            if type(getattr(self, name)) is not bool:
                raise InvalidType(f"{name} must be a bool, got {getattr(self, name)!r}")
        return RetentionPolicy(
            older_than_days=_days(self.older_than_days, "older_than_days"),
            keep_per_cwd=_count(self.keep_per_cwd, "keep_per_cwd", 0),
            keep_checkpoints=_count(self.keep_checkpoints, "keep_checkpoints", 0),
            workflow_runs_older_than_days=_days(
                self.workflow_runs_older_than_days, "workflow_runs_older_than_days"
            ),
            max_total_bytes=_count(self.max_total_bytes, "max_total_bytes", 0),
            archived_only=self.archived_only,
            auto=self.auto,
        )

    @property
    def empty(self) -> bool:
        """Whether no rule is set (a run deletes only expired idempotency keys)."""
        return all(
            getattr(self, f.name) is None
            for f in fields(self)
            if f.name not in ("archived_only", "auto")
        )

    def to_dict(self) -> dict[str, Any]:
        """The policy as JSON-ready data (the stored form)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> RetentionPolicy:
        """A policy from :meth:`to_dict`'s data.

        Raises:
            InvalidRecord: Not an object, or an unknown or bad field.
        """
        if not isinstance(data, dict):
            raise InvalidRecord(f"a retention policy is a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidRecord(f"unknown retention policy field(s): {', '.join(unknown)}")
        return cls(**data).validated()


@dataclass(frozen=True, slots=True)
class PlannedThread:
    """A thread a run deletes, and why."""

    id: str
    cwd: str
    updated_at: int
    archived: bool
    reason: str


@dataclass(frozen=True, slots=True)
class RetentionPlan:
    """What a run deletes (a dry run's answer).

    Attributes:
        now: When it was planned (threads touched at or after it are spared).
        threads: Threads to delete, with their reasons.
        checkpoints: Checkpoints past ``keep_checkpoints`` (of threads that stay).
        workflow_runs: Ids of finished workflow runs to delete.
        expired_keys: Idempotency keys past their lifetime.
        total_bytes: Stored bytes before the run (measured only for ``max_total_bytes``).
    """

    policy: RetentionPolicy
    now: int
    threads: tuple[PlannedThread, ...] = ()
    checkpoints: tuple[CheckpointRef, ...] = ()
    workflow_runs: tuple[str, ...] = ()
    expired_keys: int = 0
    total_bytes: int | None = None

    @property
    def steps(self) -> int:
        """Units of work (threads, checkpoints, runs, keys), for a progress bar."""
        return (
            len(self.threads) + len(self.checkpoints) + len(self.workflow_runs) + self.expired_keys
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "policy": self.policy.to_dict(),
            "now": self.now,
            "threads": [asdict(t) for t in self.threads],
            "checkpoints": [asdict(c) for c in self.checkpoints],
            "workflow_runs": list(self.workflow_runs),
            "expired_keys": self.expired_keys,
            "total_bytes": self.total_bytes,
        }


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What a run deleted (nothing for a dry run).

    Attributes:
        spared: Planned threads a writer touched before their turn (kept).
    """

    plan: RetentionPlan
    dry_run: bool
    threads: int = 0
    checkpoints: int = 0
    workflow_runs: int = 0
    keys: int = 0
    spared: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "dry_run": self.dry_run,
            "deleted": {
                "threads": self.threads,
                "checkpoints": self.checkpoints,
                "workflow_runs": self.workflow_runs,
                "idempotency_keys": self.keys,
            },
            "spared": list(self.spared),
            "plan": self.plan.to_dict(),
        }


# -- the stored policy ---------------------------------------------------------------


def get_policy(store: StateStore) -> RetentionPolicy | None:
    """The stored policy, or ``None``.

    Raises:
        CorruptData: The stored policy does not parse.
    """
    text = store.backend.get_setting(POLICY_SETTING)
    if text is None:
        return None
    try:
        return RetentionPolicy.from_dict(json.loads(text))
    except (ValueError, TypeError) as exc:
        raise CorruptData(
            f"the stored retention policy does not parse: {exc} (set it again with "
            "`threadloom retention set`)",
            table="threadloom_settings",
            row=f"name={POLICY_SETTING!r}",
        ) from exc


def set_policy(store: StateStore, policy: RetentionPolicy | None, now: int | None = None) -> None:
    """Store ``policy`` (``None`` removes it).

    Raises:
        InvalidRecord: A field is out of range (nothing is stored).
        ReadOnlyStore: The store was opened read-only.
    """
    if policy is not None and not isinstance(policy, RetentionPolicy):
        raise InvalidType(f"policy must be a RetentionPolicy, got {type(policy).__name__}")
    stamp = int(time.time()) if now is None else now
    value = None if policy is None else json.dumps(policy.validated().to_dict(), sort_keys=True)
    store.backend.set_setting(POLICY_SETTING, value, stamp)


# -- planning ------------------------------------------------------------------------


def plan_retention(
    store: StateStore, policy: RetentionPolicy | None = None, *, now: int | None = None
) -> RetentionPlan:
    """What applying ``policy`` (default: the stored one) would delete now; reads only.

    Raises:
        CorruptData: The stored policy does not parse.
    """
    if policy is None:
        policy = get_policy(store) or RetentionPolicy()
    elif not isinstance(policy, RetentionPolicy):
        raise InvalidType(f"policy must be a RetentionPolicy, got {type(policy).__name__}")
    policy = policy.validated()
    now = int(time.time()) if now is None else now
    backend = store.backend
    chosen: dict[str, PlannedThread] = {}

    def choose(t: Any, reason: str) -> None:
        if t.id not in chosen and (t.archived or not policy.archived_only):
            chosen[t.id] = PlannedThread(t.id, t.cwd, t.updated_at, t.archived, reason)

    if policy.older_than_days is not None:
        days = policy.older_than_days
        before = now - int(days * 86400)
        for t in backend.idle_threads(before, archived_only=policy.archived_only):
            choose(t, f"idle for more than {days:g} day(s)")
    everything = None
    if policy.keep_per_cwd is not None or policy.max_total_bytes is not None:
        everything = list(store.iter_threads(include_archived=True))  # newest first
    if policy.keep_per_cwd is not None and everything is not None:
        seen: dict[str, int] = {}
        for t in everything:
            rank = seen[t.cwd] = seen.get(t.cwd, 0) + 1
            if rank > policy.keep_per_cwd:
                choose(t, f"past the {policy.keep_per_cwd} newest of {t.cwd}")
    total = None
    if policy.max_total_bytes is not None and everything is not None:
        sizes = backend.thread_stored_bytes()
        total = sum(sizes.values())
        left = total - sum(sizes.get(tid, 0) for tid in chosen)
        for t in reversed(everything):  # least recently updated first
            if left <= policy.max_total_bytes:
                break
            if t.id in chosen or (policy.archived_only and not t.archived):
                continue
            choose(t, f"over the size cap of {policy.max_total_bytes:,} bytes")
            left -= sizes.get(t.id, 0)
    checkpoints: tuple[CheckpointRef, ...] = ()
    if policy.keep_checkpoints is not None:
        checkpoints = tuple(
            c
            for c in backend.checkpoints_beyond(policy.keep_checkpoints)
            if c.thread_id not in chosen
        )
    runs: tuple[str, ...] = ()
    if policy.workflow_runs_older_than_days is not None:
        before = now - int(policy.workflow_runs_older_than_days * 86400)
        runs = tuple(backend.finished_workflow_run_ids(before, None))
    keys = backend.count_idempotency_keys(now - store.idempotency_ttl)
    return RetentionPlan(
        policy=policy,
        now=now,
        threads=tuple(chosen.values()),
        checkpoints=checkpoints,
        workflow_runs=runs,
        expired_keys=keys,
        total_bytes=total,
    )


# -- running -------------------------------------------------------------------------


def run_retention(
    store: StateStore,
    policy: RetentionPolicy | None = None,
    *,
    dry_run: bool = False,
    batch_size: int = 20,
    progress: Callable[[int, int], None] | None = None,
    now: int | None = None,
) -> RetentionReport:
    """Apply ``policy`` (default: the stored one) in batches.

    Each batch (at most ``batch_size`` threads, checkpoints, runs or keys) is one short
    transaction, so writers never wait for more than a batch; an interrupted run leaves
    whole batches done and the rest as they were.

    Args:
        store: The store.
        policy: The policy; ``None`` for the stored one (none stored: only expired
            idempotency keys go).
        dry_run: Plan only; delete nothing.
        batch_size: Items per transaction.
        progress: Called as ``progress(done, total)`` after each batch.
        now: The current time (tests pin it).

    Raises:
        InvalidRecord: ``batch_size`` is not a positive int.
        ReadOnlyStore: The store was opened read-only (a dry run is fine).
        StoreBusy: A batch could not get the write lock in time (earlier batches stay).
    """
    size = _count(batch_size, "batch_size", 1)
    assert size is not None
    if type(dry_run) is not bool:
        raise InvalidType(f"dry_run must be a bool, got {dry_run!r}")
    plan = plan_retention(store, policy, now=now)
    if dry_run:
        return RetentionReport(plan=plan, dry_run=True)
    backend = store.backend
    total, done = plan.steps, 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(min(done, total), total)

    archived_only = plan.policy.archived_only
    deleted_threads, spared = 0, []
    threads = list(plan.threads)
    for start in range(0, len(threads), size):
        batch = threads[start : start + size]
        with store.transaction():
            for t in batch:
                if backend.delete_thread_if_idle(
                    t.id, updated_at=t.updated_at, since=plan.now, archived_only=archived_only
                ):
                    deleted_threads += 1
                else:
                    spared.append(t.id)
        advance(len(batch))
    deleted_checkpoints = 0
    for start in range(0, len(plan.checkpoints), size):
        batch_refs = plan.checkpoints[start : start + size]
        deleted_checkpoints += backend.delete_checkpoints_unchanged(batch_refs)
        advance(len(batch_refs))
    deleted_runs = 0
    for start in range(0, len(plan.workflow_runs), size):
        batch_ids = plan.workflow_runs[start : start + size]
        deleted_runs += backend.delete_workflow_runs(batch_ids)
        advance(len(batch_ids))
    keys = 0
    key_cutoff = plan.now - store.idempotency_ttl
    while True:
        gone = backend.purge_idempotency_keys(key_cutoff, size)
        keys += gone
        advance(gone)
        if gone < size:
            break
    return RetentionReport(
        plan=plan,
        dry_run=False,
        threads=deleted_threads,
        checkpoints=deleted_checkpoints,
        workflow_runs=deleted_runs,
        keys=keys,
        spared=tuple(spared),
    )


def run_if_due(store: StateStore, *, now: int | None = None) -> RetentionReport | None:
    """Apply the stored policy if it has ``auto`` set and no run happened for a day.

    Called by ``StateStore.open`` for writable stores. Of several processes opening at
    once, only the one whose compare-and-set of the last run's time succeeds runs it.
    A failure is logged (``threadloom.retention``), never raised: opening goes on.

    Returns:
        The run's report, or ``None`` when nothing ran.
    """
    try:
        policy = get_policy(store)
        if policy is None or not policy.auto:
            return None
        now = int(time.time()) if now is None else now
        last = store.backend.get_setting(LAST_RUN_SETTING)
        if last is not None and last.isdecimal() and int(last) > now - AUTO_INTERVAL:
            return None
        if not store.backend.swap_setting(LAST_RUN_SETTING, last, str(now), now):
            return None  # another process took this day's run
        return run_retention(store, policy, now=now)
    except ThreadloomError as exc:
        _log.warning("automatic retention run failed: %s", exc)
        return None
