"""Retention policies: stored in the database, planned, applied in batches, on both
backends, with writers running."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from tests.conftest import StoreFactory
from threadloom import (
    CorruptData,
    InvalidRecord,
    InvalidType,
    ReadOnlyStore,
    RetentionPolicy,
    StateStore,
    ThreadMetadata,
)
from threadloom.retention import plan_retention, run_if_due, run_retention

DAY = 86400
NOW = 1_800_000_000


def _thread(
    store: StateStore, thread_id: str, *, age_days: float, cwd: str = "/w", archived: bool = True
) -> None:
    stamp = NOW - int(age_days * DAY)
    store.upsert_thread(
        ThreadMetadata.create(thread_id, cwd=cwd, created_at=stamp, updated_at=stamp)
    )
    if archived:
        store.mark_archived(thread_id)


def _store(make_store: StoreFactory, now: list[int] | None = None) -> StateStore:
    clock = now or [NOW]
    return make_store(clock=lambda: clock[0])


def test_the_policy_is_stored_and_read_back(make_store: StoreFactory) -> None:
    store = _store(make_store)
    assert store.retention_policy() is None
    policy = RetentionPolicy(older_than_days=30, keep_checkpoints=2, auto=True)
    store.set_retention_policy(policy)
    assert store.retention_policy() == policy
    store.set_retention_policy(None)
    assert store.retention_policy() is None


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"older_than_days": -1}, InvalidRecord),
        ({"older_than_days": float("nan")}, InvalidRecord),
        ({"keep_per_cwd": -1}, InvalidRecord),
        ({"keep_checkpoints": 1.5}, InvalidType),
        ({"archived_only": "yes"}, InvalidType),
    ],
)
def test_a_bad_policy_is_refused_and_nothing_stored(
    make_store: StoreFactory, fields: dict[str, object], error: type[Exception]
) -> None:
    store = _store(make_store)
    with pytest.raises(error):
        store.set_retention_policy(RetentionPolicy(**fields))  # type: ignore[arg-type]
    assert store.retention_policy() is None


def test_a_corrupt_stored_policy_is_named(make_store: StoreFactory) -> None:
    store = _store(make_store)
    store.backend.set_setting("retention.policy", json.dumps({"bogus": 1}), NOW)
    with pytest.raises(CorruptData, match="retention set"):
        store.retention_policy()


def test_age_rule_deletes_idle_archived_threads_only(make_store: StoreFactory) -> None:
    now = [NOW]
    store = _store(make_store, now)
    _thread(store, "old-archived", age_days=40)
    _thread(store, "old-live", age_days=40, archived=False)
    _thread(store, "new-archived", age_days=1)
    _thread(store, "old-but-talking", age_days=40)
    now[0] = NOW - 2 * DAY
    store.append_message("old-but-talking", "user", "still here")
    now[0] = NOW
    policy = RetentionPolicy(older_than_days=30)
    dry = store.run_retention(policy, dry_run=True)
    assert [t.id for t in dry.plan.threads] == ["old-archived"]
    assert dry.threads == 0 and store.get_thread("old-archived") is not None
    report = store.run_retention(policy)
    assert report.threads == 1
    left = {t.id for t in store.iter_threads()}
    assert left == {"old-live", "new-archived", "old-but-talking"}
    everything = store.run_retention(RetentionPolicy(older_than_days=30, archived_only=False))
    assert everything.threads == 1 and store.get_thread("old-live") is None


def test_keep_per_cwd_and_size_cap(make_store: StoreFactory) -> None:
    store = _store(make_store)
    for n in range(5):
        _thread(store, f"a{n}", age_days=n, cwd="/a")
        store.append_message(f"a{n}", "user", "x" * 1000)
    _thread(store, "b0", age_days=10, cwd="/b")
    plan = plan_retention(store, RetentionPolicy(keep_per_cwd=2), now=NOW)
    assert sorted(t.id for t in plan.threads) == ["a2", "a3", "a4"]
    capped = plan_retention(store, RetentionPolicy(max_total_bytes=2500), now=NOW)
    assert capped.total_bytes is not None and capped.total_bytes >= 5000
    # The least recently updated go first, until what is left fits.
    assert [t.id for t in capped.threads] == ["b0", "a4", "a3", "a2"]


def test_keep_checkpoints_keeps_the_latest(make_store: StoreFactory) -> None:
    now = [NOW]
    store = _store(make_store, now)
    _thread(store, "t", age_days=0, archived=False)
    for n in range(5):
        now[0] += 1
        store.save_checkpoint("t", f"c{n}", {"n": n})
    report = store.run_retention(RetentionPolicy(keep_checkpoints=2), batch_size=1)
    assert report.checkpoints == 3
    assert [c.checkpoint_id for c in store.list_checkpoints("t")] == ["c4", "c3"]


def test_finished_workflow_runs_and_expired_keys_go(make_store: StoreFactory) -> None:
    now = [NOW - 10 * DAY]
    store = _store(make_store, now)
    _thread(store, "t", age_days=0, archived=False)
    store.append_message("t", "user", "x", idempotency_key="k")
    run = store.workflows.start_run("wf", "goal")
    store.workflows.finish_run(run.id, "succeeded")
    now[0] = NOW
    report = store.run_retention(RetentionPolicy(workflow_runs_older_than_days=5))
    assert report.workflow_runs == 1 and report.keys == 1
    assert store.workflows.get_run(run.id) is None


def test_a_thread_touched_after_the_plan_is_spared(make_store: StoreFactory) -> None:
    store = _store(make_store)
    _thread(store, "old", age_days=40)
    policy = RetentionPolicy(older_than_days=30)
    plan = plan_retention(store, policy, now=NOW)
    assert [t.id for t in plan.threads] == ["old"]
    store.append_message("old", "user", "back again")  # at NOW: after the plan began
    assert not store.backend.delete_thread_if_idle(
        "old", updated_at=plan.threads[0].updated_at, since=plan.now, archived_only=True
    )
    store.mark_unarchived("old")
    report = store.run_retention(policy)
    assert report.threads == 0 and store.get_thread("old") is not None


def test_automatic_runs_happen_once_a_day_and_only_when_opted_in(
    make_store: StoreFactory,
) -> None:
    store = _store(make_store)
    _thread(store, "old", age_days=40)
    store.set_retention_policy(RetentionPolicy(older_than_days=30))
    assert run_if_due(store, now=NOW) is None  # not opted in
    store.set_retention_policy(RetentionPolicy(older_than_days=30, auto=True))
    report = run_if_due(store, now=NOW)
    assert report is not None and report.threads == 1
    _thread(store, "old2", age_days=40)
    assert run_if_due(store, now=NOW + 3600) is None  # ran today already
    again = run_if_due(store, now=NOW + DAY + 1)
    assert again is not None and again.threads == 1


def test_opening_a_store_applies_an_automatic_policy(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "state.db"
    with StateStore.open(path) as store:
        store.upsert_thread(ThreadMetadata.create("old", cwd="/w", created_at=1, updated_at=1))
        store.set_retention_policy(RetentionPolicy(older_than_days=30, archived_only=False))
    with StateStore.open(path) as store:
        assert store.get_thread("old") is not None  # not opted in
        store.set_retention_policy(
            RetentionPolicy(older_than_days=30, archived_only=False, auto=True)
        )
    with StateStore.open(path, read_only=True) as store:
        assert store.get_thread("old") is not None  # a reader never deletes
    with StateStore.open(path) as store:
        assert store.get_thread("old") is None


def test_a_read_only_store_plans_but_does_not_run(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "state.db"
    with StateStore.open(path) as store:
        store.upsert_thread(ThreadMetadata.create("old", cwd="/w", created_at=1, updated_at=1))
    with StateStore.open(path, read_only=True) as store:
        policy = RetentionPolicy(older_than_days=1, archived_only=False)
        assert [t.id for t in store.run_retention(policy, dry_run=True).plan.threads] == ["old"]
        with pytest.raises(ReadOnlyStore):
            store.run_retention(policy)


def test_a_retention_run_concurrent_with_writers(target: str) -> None:
    with StateStore.open(target, clock=lambda: NOW - 100 * DAY) as store:
        for n in range(60):
            store.upsert_thread(
                ThreadMetadata.create(
                    f"old-{n}", cwd="/old", created_at=NOW - 100 * DAY, updated_at=NOW - 100 * DAY
                )
            )
            store.append_message(f"old-{n}", "user", "long ago")
    ctx = multiprocessing.get_context("spawn")
    ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    from tests.lifecycle.workers import append_many

    writers = [
        ctx.Process(target=append_many, args=(target, f"w{i}", 40, ready, go, out))
        for i in range(3)
    ]
    for p in writers:
        p.start()
    for _ in writers:
        ready.get(timeout=120)
    with StateStore.open(target, busy_timeout=30.0) as store:
        go.set()  # the writers start as the run does
        report = run_retention(
            store, RetentionPolicy(older_than_days=30, archived_only=False), batch_size=5
        )
    results = [out.get(timeout=180) for _ in writers]
    for p in writers:
        p.join(60)
    assert report.threads == 60
    assert all(errors == [] for _, errors in results), results
    written = [tid for done, _ in results for tid in done]
    assert len(written) == 120
    with StateStore.open(target) as store:
        left = {t.id for t in store.iter_threads()}
        assert left == set(written)
        for tid in written[::10]:
            assert [m.content for m in store.list_messages(tid)] == ["hello", "hi"]
