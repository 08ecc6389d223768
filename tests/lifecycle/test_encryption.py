"""Encryption at rest: sealed content on both backends, no key / wrong key as a typed
error, tampering detected, idempotency keys that reveal nothing, key rotation."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import StoreFactory
from threadloom import (
    EncryptedData,
    InvalidRecord,
    JobStateRecord,
    JobStateStatus,
    StateStore,
    ThreadGoalRecord,
    ThreadGoalStatus,
    ThreadloomError,
    ThreadMetadata,
)
from threadloom.contract.lifecycle import SealedValue
from threadloom.encryption import ENV_VAR, generate_key
from threadloom.rekey import SEALED_COLUMNS, encryption_status, rotate

KEY, OTHER = generate_key(), generate_key()


def _job(detail: str) -> JobStateRecord:
    return JobStateRecord(
        id="j",
        name="index",
        status=JobStateStatus.RUNNING,
        progress=1,
        detail=detail,
        created_at=1,
        updated_at=2,
    )


def _fill(store: StateStore) -> int:
    store.upsert_thread(ThreadMetadata.create("t", cwd="/w", name="Visible name"))
    first = store.append_message("t", "user", "my API key is sk-123", {"tool": "bash", "n": 1.5})
    store.append_message("t", "assistant", "noted")
    store.save_checkpoint("t", "c1", {"secret": ["a", "b"]})
    store.upsert_job(_job("customer list"))
    store.upsert_thread_goal(
        ThreadGoalRecord(
            thread_id="t",
            goal_id="g",
            objective="ship the secret project",
            status=ThreadGoalStatus.ACTIVE,
            token_budget=None,
            tokens_used=0,
            time_used_seconds=0,
            created_at=1,
            updated_at=1,
        )
    )
    return first


def _raw(store: StateStore) -> list[str]:
    values = []
    for column in SEALED_COLUMNS:
        values += [
            v.value for v in store.backend.scan_column(column, None, 100) if v.value is not None
        ]
    return values


def test_content_is_sealed_and_reads_back(make_store: StoreFactory) -> None:
    store = make_store(encryption_key=KEY)
    first = _fill(store)
    [m1, m2] = store.list_messages("t")
    assert (m1.id, m1.content, m1.item) == (
        first,
        "my API key is sk-123",
        {"tool": "bash", "n": 1.5},
    )
    assert m2.content == "noted" and m2.item is None
    assert store.list_all_messages("t") == [m1, m2]
    assert store.list_leaf_messages("t") == [m2]
    assert store.load_checkpoint("t").state == {"secret": ["a", "b"]}  # type: ignore[union-attr]
    assert store.list_checkpoints("t")[0].state == {"secret": ["a", "b"]}
    assert store.get_job("j").detail == "customer list"  # type: ignore[union-attr]
    assert store.list_jobs()[0].detail == "customer list"
    assert store.get_thread_goal("t").objective == "ship the secret project"  # type: ignore[union-attr]
    goal = store.record_thread_goal_usage("t", 5, 1)
    assert goal is not None and goal.objective == "ship the secret project"
    raw = _raw(store)
    assert len(raw) == 6
    assert all("secret" not in v and "sk-123" not in v and "customer" not in v for v in raw)
    assert all(v.lstrip('"').startswith("tlenc1:") for v in raw)
    # Listing metadata stays readable.
    assert store.get_thread("t").name == "Visible name"  # type: ignore[union-attr]


def test_without_the_key_sealed_values_are_a_typed_error(make_store: StoreFactory) -> None:
    store = make_store()
    store.upsert_thread(ThreadMetadata.create("t", cwd="/w"))
    plain = store.append_message("t", "user", "before encryption")
    from threadloom._sealed_store import SealedStateStore, register_key
    from threadloom.encryption import Keyring

    ring = Keyring([KEY])
    register_key(store.backend, ring.current or "", 1)
    with_key = SealedStateStore(store.backend, keyring=ring)
    with_key.append_message("t", "assistant", "after encryption")
    with_key.save_checkpoint("t", "c", {"x": 1})
    without = SealedStateStore(store.backend, keyring=Keyring())
    with pytest.raises(EncryptedData, match="not opened with") as caught:
        without.list_messages("t")
    assert caught.value.key_id == ring.current
    with pytest.raises(EncryptedData):
        without.load_checkpoint("t")
    with pytest.raises(EncryptedData, match="opened without a key"):
        without.append_message("t", "user", "plain text into an encrypted store")
    assert [m.id for m in without.list_threads()] == ["t"]
    assert with_key.list_messages("t")[0].id == plain


def test_opening_an_encrypted_database_without_or_with_a_wrong_key(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path, encryption_key=KEY) as store:
        _fill(store)
    with StateStore.open(path) as store:
        assert store.get_thread("t") is not None
        with pytest.raises(EncryptedData):
            store.list_messages("t")
    with StateStore.open(path, read_only=True) as store, pytest.raises(EncryptedData):
        store.get_job("j")
    with pytest.raises(EncryptedData, match="wrong encryption key"):
        StateStore.open(path, encryption_key=OTHER)
    with pytest.raises(InvalidRecord, match="32 bytes"):
        StateStore.open(path, encryption_key="not a key")


def test_the_key_may_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, KEY)
    with StateStore.open(tmp_path / "state.db") as store:
        _fill(store)
        assert all(v.lstrip('"').startswith("tlenc1:") for v in _raw(store))
    monkeypatch.delenv(ENV_VAR)
    with StateStore.open(tmp_path / "state.db") as store, pytest.raises(EncryptedData):
        store.list_messages("t")


def test_a_tampered_value_fails_authentication(make_store: StoreFactory) -> None:
    store = make_store(encryption_key=KEY)
    _fill(store)
    column = SEALED_COLUMNS[0]
    row = store.backend.scan_column(column, None, 1)[0]
    assert row.value is not None
    flipped = row.value[:-3] + ("A" if row.value[-3] != "A" else "B") + row.value[-2:]
    assert store.backend.rewrite_column(column, [(row, flipped)]) == 1
    with pytest.raises(EncryptedData, match="failed authentication"):
        store.list_messages("t")


def test_idempotency_keys_of_an_encrypted_store(make_store: StoreFactory) -> None:
    store = make_store(encryption_key=KEY)
    store.upsert_thread(ThreadMetadata.create("t", cwd="/w"))
    first = store.append_message("t", "user", "secret", idempotency_key="k")
    assert store.append_message("t", "user", "secret", idempotency_key="k") == first
    store.save_checkpoint("t", "c", {"s": 1}, idempotency_key="c")
    store.save_checkpoint("t", "c", {"s": 1}, idempotency_key="c")
    assert len(store.list_all_messages("t")) == 1


def test_rotation_reseals_everything_with_the_new_key(make_store: StoreFactory) -> None:
    store = make_store(encryption_key=KEY)
    _fill(store)
    backend = store.backend
    from threadloom._sealed_store import sealed_store_for
    from threadloom.encryption import Keyring

    both = sealed_store_for(
        backend, Keyring([OTHER, KEY]), read_only=False, clock=None, idempotency_ttl=60
    )
    assert both is not None
    both.append_message("t", "user", "written during the rotation window")
    report = rotate(both, batch_size=2)
    assert sum(report.resealed.values()) == 6 and sum(report.encrypted.values()) == 0
    status = {s.column: s for s in encryption_status(both)}
    assert all(s.plain == 0 and set(s.sealed) <= {report.current_key} for s in status.values())
    only_new = sealed_store_for(
        backend, Keyring([OTHER]), read_only=False, clock=None, idempotency_ttl=60
    )
    assert only_new is not None
    assert [m.content for m in only_new.list_messages("t")][
        -1
    ] == "written during the rotation window"
    assert only_new.get_job("j").detail == "customer list"  # type: ignore[union-attr]
    old_only = sealed_store_for(
        backend, Keyring([KEY]), read_only=False, clock=None, idempotency_ttl=60
    )
    assert old_only is not None
    with pytest.raises(EncryptedData):
        old_only.list_messages("t")


def test_rotate_encrypts_plain_data_and_refuses_without_a_key(make_store: StoreFactory) -> None:
    store = make_store()
    _fill(store)
    with pytest.raises(EncryptedData):
        rotate(store)
    from threadloom._sealed_store import sealed_store_for
    from threadloom.encryption import Keyring

    keyed = sealed_store_for(
        store.backend, Keyring([KEY]), read_only=False, clock=None, idempotency_ttl=60
    )
    assert keyed is not None
    report = rotate(keyed)
    assert sum(report.encrypted.values()) == 6
    assert keyed.list_messages("t")[0].content == "my API key is sk-123"
    assert all(v.lstrip('"').startswith("tlenc1:") for v in _raw(keyed))


def test_a_rewrite_loses_to_a_concurrent_change(make_store: StoreFactory) -> None:
    store = make_store()
    _fill(store)
    column = SEALED_COLUMNS[3]  # jobs.detail
    [row] = store.backend.scan_column(column, None, 10)
    store.upsert_job(_job("changed meanwhile"))
    assert store.backend.rewrite_column(column, [(row, "x")]) == 0
    assert store.get_job("j").detail == "changed meanwhile"  # type: ignore[union-attr]
    assert store.backend.rewrite_column(column, [(SealedValue(row.key, None), "x")]) == 0


def test_a_clear_error_when_cryptography_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.ciphers.aead", None)
    with pytest.raises(ThreadloomError, match=r"pip install 'threadloom\[encryption\]'"):
        StateStore.open(tmp_path / "state.db", encryption_key=KEY)
    assert not (tmp_path / "state.db").exists()


def test_secure_delete_overwrites_deleted_content(tmp_path: Path) -> None:
    marker = "UNIQUE-MARKER-" * 20
    for secure, expect_left in ((False, True), (True, False)):
        path = tmp_path / f"secure-{secure}" / "state.db"
        with StateStore.open(path, secure_delete=secure) as store:
            store.upsert_thread(ThreadMetadata.create("t", cwd="/w"))
            store.upsert_thread(ThreadMetadata.create("keep", cwd="/w"))
            store.append_message("keep", "user", "x")
            store.append_message("t", "user", marker)
            store.backend.checkpoint_wal()
            store.delete_thread("t")
            store.backend.checkpoint_wal()
        assert (marker.encode() in path.read_bytes()) is expect_left, secure


def test_key_rotation_while_writers_and_readers_run(target: str) -> None:
    import multiprocessing

    from tests.lifecycle.workers import write_and_read_sealed

    with StateStore.open(target, encryption_key=KEY) as store:
        _fill(store)
        for n in range(200):
            store.append_message("t", "user", f"old message {n}")
        for w in ("w0", "w1"):
            store.upsert_thread(ThreadMetadata.create(w, cwd="/w"))
    ctx = multiprocessing.get_context("spawn")
    ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    writers = [
        ctx.Process(
            target=write_and_read_sealed, args=(target, [OTHER, KEY], f"w{i}", 60, ready, go, out)
        )
        for i in range(2)
    ]
    for p in writers:
        p.start()
    for _ in writers:
        ready.get(timeout=120)
    with StateStore.open(target, encryption_key=[OTHER, KEY], busy_timeout=30.0) as store:
        go.set()
        report = rotate(store, batch_size=25)
    errors = [out.get(timeout=180) for _ in writers]
    for p in writers:
        p.join(60)
    assert errors == [[], []]
    assert report.resealed["messages.content"] >= 202
    with StateStore.open(target, encryption_key=OTHER) as store:
        assert len(store.list_all_messages("t")) == 2 + 200
        for w in ("w0", "w1"):
            contents = [m.content for m in store.list_all_messages(w)]
            assert contents == [f"during rotation {n}" for n in range(60)]
        status = {s.column: s for s in encryption_status(store)}
        assert set(status["messages.content"].sealed) == {report.current_key}


def test_a_copy_of_an_encrypted_store_stays_encrypted(tmp_path: Path) -> None:
    from threadloom.transfer.copy import copy_store

    with StateStore.open(tmp_path / "a" / "state.db", encryption_key=KEY) as source:
        _fill(source)
        with StateStore.open(tmp_path / "b" / "state.db") as target:
            assert copy_store(source, target).verified
    with StateStore.open(tmp_path / "b" / "state.db") as copied, pytest.raises(EncryptedData):
        copied.list_messages("t")
    with StateStore.open(tmp_path / "b" / "state.db", encryption_key=KEY) as copied:
        assert copied.list_messages("t")[0].content == "my API key is sk-123"


def test_an_import_into_an_encrypted_store_is_sealed(make_store: StoreFactory) -> None:
    from threadloom.transfer.export import build_document
    from threadloom.transfer.importer import import_document

    source = make_store(encryption_key=KEY)
    _fill(source)
    doc = build_document(source, "t")
    target = make_store(encryption_key=OTHER)
    import_document(target, doc)
    assert target.list_all_messages("t")[0].content == "my API key is sk-123"
    assert target.load_checkpoint("t").state == {"secret": ["a", "b"]}  # type: ignore[union-attr]
    assert target.get_thread_goal("t").objective == "ship the secret project"  # type: ignore[union-attr]
    raw = _raw(target)
    assert raw and all(v.lstrip('"').startswith("tlenc1:") for v in raw)


@pytest.mark.oracle
def test_the_original_opens_a_database_with_the_lifecycle_tables(tmp_path: Path) -> None:
    """threadloom-v3's tables leave the original's alone: the seed oracle reads, writes
    and deletes in such a file (encrypted content reads as its sealed text there)."""
    from tests.support.ops import run_oracle
    from tests.support.shared import require_oracle
    from threadloom import RetentionPolicy

    oracle = require_oracle()
    path = tmp_path / "state.db"
    with StateStore.open(path, encryption_key=KEY) as store:
        _fill(store)
        store.append_message("t", "user", "once", idempotency_key="k")
        store.set_retention_policy(RetentionPolicy(older_than_days=30))
    answers = run_oracle(
        oracle,
        path,
        [
            {"op": "list_messages", "thread_id": "t"},
            {
                "op": "append_message",
                "thread_id": "t",
                "role": "user",
                "content": "from the original",
            },
            {"op": "get_thread", "id": "t"},
            {"op": "delete_thread", "id": "t"},
        ],
    )
    assert all("ok" in a for a in answers), answers
    assert answers[0]["ok"][0]["content"].startswith("tlenc1:")
    assert answers[2]["ok"]["id"] == "t"
    with StateStore.open(path, encryption_key=KEY) as store:
        assert store.get_thread("t") is None
        assert store.retention_policy() == RetentionPolicy(older_than_days=30)
