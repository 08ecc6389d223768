"""Differential tests: random op sequences through the oracle and through threadloom.

Each seed gives a sequence of ops across every family (see
:mod:`tests.support.opgen` for what is left out and why). Answers are compared op by
op: ``ok`` values exactly (with clock-stamped times masked, since the oracle runs on
the real clock), and an error on one side must be an error on the other.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StepClock
from tests.support.legacy_v0 import message_tree, random_v0
from tests.support.opgen import OpGenerator, fold_answers, normalize, oracle_lines
from tests.support.ops import apply_op, run_oracle
from tests.support.ramdir import ram_dir
from tests.support.shared import require_oracle
from threadloom import StateStore

pytestmark = pytest.mark.oracle

SEEDS = (1, 2, 3)
OPS_PER_SEED = 1000


@pytest.fixture
def oracle_dir(tmp_path: Path) -> Iterator[Path]:
    """Where the oracle keeps its database (RAM when there is some)."""
    with ram_dir(tmp_path / "oracle") as folder:
        yield folder


def _first_difference(
    ops: list[dict[str, Any]], ours: list[dict[str, Any]], theirs: list[dict[str, Any]]
) -> str | None:
    for number, (op, a, b) in enumerate(zip(ops, ours, theirs, strict=True)):
        if normalize(op, a) != normalize(op, b):
            return (
                f"op #{number}: {json.dumps(op, ensure_ascii=False)[:300]}\n"
                f"  threadloom: {json.dumps(a, ensure_ascii=False)[:500]}\n"
                f"  original:   {json.dumps(b, ensure_ascii=False)[:500]}"
            )
    return None


@pytest.mark.parametrize("seed", SEEDS)
def test_random_ops_answer_like_the_original(seed: int, tmp_path: Path, oracle_dir: Path) -> None:
    oracle = require_oracle()
    ops = OpGenerator(seed).ops(OPS_PER_SEED)
    families = {op["op"] for op in ops}
    assert len(families) >= 31, sorted(families)
    assert "record_thread_goal_usage" in families
    theirs = fold_answers(ops, run_oracle(oracle, oracle_dir / "state.db", oracle_lines(ops)))
    assert len(theirs) == len(ops)
    with StateStore.open(tmp_path / "ours" / "state.db", clock=StepClock()) as store:
        ours = [apply_op(store, op) for op in ops]
    difference = _first_difference(ops, ours, theirs)
    assert difference is None, difference
    # The run must exercise both outcomes, or the comparison proves little.
    assert sum("err" in a for a in ours) > 5
    assert sum(bool(a.get("ok")) for a in ours) > OPS_PER_SEED // 4
    # Goal usage was recorded on real goals, not only answered None.
    usage = [a for op, a in zip(ops, ours, strict=True) if op["op"] == "record_thread_goal_usage"]
    assert sum(a.get("ok") is not None for a in usage) >= 3, usage


def test_generator_is_deterministic() -> None:
    assert OpGenerator(7).ops(300) == OpGenerator(7).ops(300)
    assert OpGenerator(7).ops(300) != OpGenerator(8).ops(300)


def test_normalize_masks_only_stamped_times() -> None:
    message = {"id": 1, "thread_id": "t", "role": "u", "content": "c", "item": None,
               "created_at": 5, "parent_entry_id": None}  # fmt: skip
    job = {"id": "j", "created_at": 5, "updated_at": 6}
    op = {"op": "list_messages"}
    assert normalize(op, {"ok": [message]}) != normalize(op, {"ok": [{**message, "id": 2}]})
    assert normalize(op, {"ok": [message]}) == normalize(op, {"ok": [{**message, "created_at": 9}]})
    assert normalize({"op": "get_job"}, {"ok": job}) != normalize(
        {"op": "get_job"}, {"ok": {**job, "created_at": 9}}
    )
    assert normalize(op, {"err": "a"}) == normalize(op, {"err": "b"})


# -- the v0 migration: parent links derived from time order ---------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_v0_migration_derives_parents_like_the_original(seed: int, tmp_path: Path) -> None:
    oracle = require_oracle()
    (tmp_path / "theirs").mkdir()
    (tmp_path / "ours").mkdir()
    theirs_db, ours_db = tmp_path / "theirs" / "state.db", tmp_path / "ours" / "state.db"
    random_v0(theirs_db, seed)
    shutil.copyfile(theirs_db, ours_db)
    # Opening migrates: the original to its v3, threadloom to its current version.
    assert "err" not in run_oracle(oracle, theirs_db, [{"op": "db_path"}])[0]
    StateStore.open(ours_db).close()
    their_parents, their_leaves = message_tree(theirs_db)
    our_parents, our_leaves = message_tree(ours_db)
    # Every parent link is the original's.
    assert our_parents == their_parents
    conn = sqlite3.connect(ours_db)
    messages = conn.execute("SELECT id, thread_id, created_at FROM messages").fetchall()
    conn.close()
    disagreements = 0
    for thread_id in {t for t in their_leaves if t.startswith("R-")}:
        own = [(stamp, mid) for mid, t, stamp in messages if t == thread_id]
        if not own:
            assert our_leaves[thread_id] is None and their_leaves[thread_id] is None
            continue
        # Deliberate difference: our leaf ends the derived chain (newest by time);
        # the original took the largest id.
        assert our_leaves[thread_id] == max(own)[1]
        assert their_leaves[thread_id] == max(mid for _, mid in own)
        disagreements += our_leaves[thread_id] != their_leaves[thread_id]
    assert disagreements > 0  # the histories did exercise the difference
