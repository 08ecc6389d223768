"""Differential tests: random op sequences through the oracle and through threadloom.

Each seed gives a sequence of ops across every family (see
:mod:`tests.support.opgen` for what is left out and why). Answers are compared op by
op: ``ok`` values exactly (with clock-stamped times masked, since the oracle runs on
the real clock), and an error on one side must be an error on the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StepClock
from tests.support.opgen import OpGenerator, normalize
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
    assert len(families) >= 30, sorted(families)
    theirs = run_oracle(oracle, oracle_dir / "state.db", ops)
    assert len(theirs) == len(ops)
    with StateStore.open(tmp_path / "ours" / "state.db", clock=StepClock()) as store:
        ours = [apply_op(store, op) for op in ops]
    difference = _first_difference(ops, ours, theirs)
    assert difference is None, difference
    # The run must exercise both outcomes, or the comparison proves little.
    assert sum("err" in a for a in ours) > 5
    assert sum(bool(a.get("ok")) for a in ours) > OPS_PER_SEED // 4


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
