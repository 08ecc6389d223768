"""Contract tests of the workflow trace store, on every backend (``make_store``).

Each test opens a fresh store with a step clock, so stamps are distinct and known.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tests.conftest import StepClock
from threadloom import (
    CandidateKind,
    CandidateStatus,
    Conflict,
    InvalidRecord,
    LeafRun,
    NodeKind,
    NotFound,
    RunStatus,
    StateStore,
    compute_leaf_input_hash,
)
from threadloom.contract import TraceOperations, TraceTable
from threadloom.workflows import WorkflowStore

StoreFactory = Callable[..., StateStore]


@pytest.fixture
def wf(make_store: StoreFactory) -> WorkflowStore:
    """The workflow store of a fresh store with a step clock."""
    return make_store(clock=StepClock()).workflows


def _count_rows(wf: WorkflowStore, run_id: str) -> int:
    tree = wf.get_run_tree(run_id)
    return (
        1
        + len(tree.branches)
        + len(list(tree.iter_leaves()))
        + len(tree.control_nodes)
        + len(list(tree.iter_candidates()))
    )


# -- round trips -------------------------------------------------------------------------


def test_run_round_trip(wf: WorkflowStore) -> None:
    metadata = {"budget": {"tokens": 5000}, "tags": ["a", "ü"], "none": None}
    run = wf.start_run("wf-1", "fix the bug", input_hash="h0", metadata=metadata, run_id="r1")
    assert wf.get_run("r1") == run
    assert (run.status, run.completed_at, run.metadata) == (RunStatus.RUNNING, None, metadata)
    done = wf.finish_run("r1", "succeeded", metadata={"cost": 1.5})
    assert done.status is RunStatus.SUCCEEDED
    assert done.completed_at is not None and done.completed_at >= run.started_at
    assert wf.get_run("r1") == done
    assert done.to_dict()["status"] == "succeeded"


def test_branch_leaf_control_candidate_round_trips(wf: WorkflowStore) -> None:
    run = wf.start_run("wf", "goal")
    branch = wf.record_branch(run.id, "b1", "node-b", result={"notes": "n"}, started_at=5)
    leaf = wf.record_leaf(
        run.id,
        "leaf-1",
        "task-1",
        input_hash="abc",
        branch_run_id=branch.id,
        output={"text": "héllo ✓", "n": [1, 2.5, None, True]},
        artifacts=[{"path": "/tmp/x"}],
        status="succeeded",
        started_at=7,
        completed_at=9,
    )
    node = wf.record_control_node(
        run.id, "review", NodeKind.TEACHER_REVIEW, selected_children=["leaf-1"], result={"s": 1}
    )
    cand = wf.record_candidate(
        node.id,
        "review:leaf-1",
        "skill_patch",
        branch_run_id=branch.id,
        score=0.75,
        passed=False,
        rationale=["because", {"k": "v"}],
    )
    tree = wf.get_run_tree(run.id)
    assert [b.branch for b in tree.branches] == [branch]
    assert tree.branches[0].leaves == (leaf,)
    assert (leaf.started_at, leaf.completed_at, leaf.status) == (7, 9, RunStatus.SUCCEEDED)
    assert [n.control_node for n in tree.control_nodes] == [node]
    assert tree.control_nodes[0].candidates == (cand,)
    assert (cand.kind, cand.status, cand.passed, cand.score) == (
        CandidateKind.SKILL_PATCH,
        CandidateStatus.PROPOSED,
        False,
        0.75,
    )
    assert cand.workflow_run_id == run.id
    assert node.kind is NodeKind.TEACHER_REVIEW and node.selected_children == ["leaf-1"]


def test_json_null_and_defaults(wf: WorkflowStore) -> None:
    run = wf.start_run("wf", "goal", metadata=None)
    leaf = wf.record_leaf(run.id, "l", "t", output=None)
    bare = wf.record_leaf(run.id, "l2", "t")
    assert run.metadata is None and leaf.output is None
    assert (bare.output, bare.artifacts) == ({}, [])
    assert list(wf.get_run_tree(run.id).leaves) == [leaf, bare]


def test_updates_and_terminal_stamps(wf: WorkflowStore) -> None:
    run = wf.start_run("wf", "goal")
    branch = wf.record_branch(run.id, "b", "n")
    leaf = wf.record_leaf(run.id, "l", "t", branch_run_id=branch.id)
    node = wf.record_control_node(run.id, "seq", "sequence")
    cand = wf.record_candidate(node.id, "seq:l", CandidateKind.NOTE)
    assert leaf.completed_at is None and branch.completed_at is None

    leaf2 = wf.update_leaf(leaf.id, status="failed", output={"error": "x"}, artifacts=[1])
    assert leaf2.completed_at is not None and leaf2.output == {"error": "x"}
    # A later change keeps the stamp unless one is given.
    assert wf.update_leaf(leaf.id, status="succeeded").completed_at == leaf2.completed_at
    assert wf.update_leaf(leaf.id, completed_at=None).completed_at is None

    branch2 = wf.update_branch(branch.id, status="succeeded", result={"ok": True})
    assert branch2.completed_at is not None and branch2.result == {"ok": True}
    node2 = wf.update_control_node(node.id, status="cancelled", selected_children=["a", "b"])
    assert node2.selected_children == ["a", "b"] and node2.completed_at is not None
    cand2 = wf.update_candidate(cand.id, status="promoted", score=1, passed=True)
    assert (cand2.status, cand2.score, cand2.passed, cand2.kind) == (
        CandidateStatus.PROMOTED,
        1.0,
        True,
        CandidateKind.NOTE,
    )
    assert wf.update_candidate(cand.id, rationale={"r": 1}).status is CandidateStatus.PROMOTED
    run2 = wf.update_run(run.id, status="budget_exceeded")
    assert run2.completed_at is not None
    tree = wf.get_run_tree(run.id)
    assert tree.branches[0].leaves[0] == wf.update_leaf(leaf.id)


# -- a whole life ------------------------------------------------------------------------


def test_run_recorded_through_its_life_reads_back_as_a_tree(wf: WorkflowStore) -> None:
    run = wf.start_run("wf-life", "ship it", status="pending")
    wf.update_run(run.id, status="running")
    expected_leaves: dict[str, list[str]] = {}
    for b in range(3):
        branch = wf.record_branch(run.id, f"branch-{b}", "fanout")
        expected_leaves[branch.id] = []
        for i in range(b + 1):
            leaf = wf.record_leaf(run.id, f"leaf-{b}-{i}", f"task-{b}-{i}", branch_run_id=branch.id)
            wf.update_leaf(leaf.id, status="succeeded", output={"i": i})
            expected_leaves[branch.id].append(leaf.id)
        wf.update_branch(branch.id, status="succeeded")
    loose = wf.record_leaf(run.id, "reduce-leaf", "t", status="succeeded")
    review = wf.record_control_node(run.id, "rev", "teacher_review")
    kinds = list(CandidateKind)
    for i, kind in enumerate(kinds):
        wf.record_candidate(review.id, f"rev:{i}", kind, score=i / 10, passed=i % 2 == 0)
    wf.update_control_node(review.id, status="succeeded", result={"summary": "ok"})
    wf.finish_run(run.id, RunStatus.SUCCEEDED)

    tree = wf.get_run_tree(run.id)
    assert tree.run.status is RunStatus.SUCCEEDED and tree.run.completed_at is not None
    assert {b.branch.id: [leaf.id for leaf in b.leaves] for b in tree.branches} == expected_leaves
    assert all(b.branch.status is RunStatus.SUCCEEDED for b in tree.branches)
    assert all(
        leaf.output == {"i": int(leaf.leaf_id[-1])} for b in tree.branches for leaf in b.leaves
    )
    assert [leaf.id for leaf in tree.leaves] == [loose.id]
    assert [c.kind for c in tree.iter_candidates()] == kinds
    assert tree.control_nodes[0].control_node.result == {"summary": "ok"}


# -- listing -----------------------------------------------------------------------------


def test_list_runs_newest_first_with_pages_and_filters(wf: WorkflowStore) -> None:
    made = []
    for i in range(7):
        run = wf.start_run("A" if i % 2 else "B", "g", started_at=100 + i // 2)
        if i % 3 == 0:
            run = wf.finish_run(run.id, "failed")
        made.append(run)
    # Newest started first; equal started_at: the later recorded first.
    newest_first = [r.id for r in sorted(made, key=lambda r: (r.started_at, made.index(r)))][::-1]
    pages = [wf.list_runs(limit=3, offset=o) for o in range(0, 9, 3)]
    assert [r.id for page in pages for r in page] == newest_first
    assert [len(p) for p in pages] == [3, 3, 1]
    for workflow_id, status in itertools.product(["A", "B", None], ["failed", None]):
        got = wf.list_runs(workflow_id=workflow_id, status=status, limit=100)
        want = [
            i
            for i in newest_first
            if (workflow_id is None or wf.get_run(i).workflow_id == workflow_id)  # type: ignore[union-attr]
            and (status is None or wf.get_run(i).status == status)  # type: ignore[union-attr]
        ]
        assert [r.id for r in got] == want
    assert wf.list_runs(limit=0) == []


# -- delete and retention ----------------------------------------------------------------


def _full_run(wf: WorkflowStore, workflow_id: str = "wf", **finish: int) -> str:
    run = wf.start_run(workflow_id, "g")
    branch = wf.record_branch(run.id, "b", "n")
    wf.record_leaf(run.id, "l", "t", branch_run_id=branch.id, input_hash="h", status="succeeded")
    wf.record_leaf(run.id, "l2", "t")
    node = wf.record_control_node(run.id, "rev", "teacher_review")
    wf.record_candidate(node.id, "rev:l", "note", branch_run_id=branch.id)
    if finish:
        wf.finish_run(run.id, "succeeded", completed_at=finish["completed_at"])
    return run.id


def test_delete_run_cascades_to_everything_under_it(wf: WorkflowStore) -> None:
    keep, gone = _full_run(wf), _full_run(wf)
    before = _count_rows(wf, keep)
    assert wf.delete_run(gone) is True
    assert wf.get_run(gone) is None
    with pytest.raises(NotFound):
        wf.get_run_tree(gone)
    assert wf.find_replay(keep, "l", "h") is not None
    assert _count_rows(wf, keep) == before
    assert wf.delete_run(gone) is False


def test_retention_deletes_old_finished_runs_keeping_last_n(wf: WorkflowStore) -> None:
    runs: dict[str, tuple[str, int | None]] = {}
    for i in range(10):
        workflow_id = "A" if i < 6 else "B"
        done = None if i in (0, 7) else 1000 + i * 10
        run_id = (
            _full_run(wf, workflow_id)
            if done is None
            else _full_run(wf, workflow_id, completed_at=done)
        )
        runs[run_id] = (workflow_id, done)
    cutoff, keep_last = 1000 + 75, 2

    def kept_by_model(run_id: str) -> bool:
        workflow_id, done = runs[run_id]
        if done is None or done >= cutoff:
            return True
        finished = sorted(
            (d for w, d in runs.values() if w == workflow_id and d is not None), reverse=True
        )
        return done in finished[:keep_last]

    deleted = wf.delete_finished_runs(cutoff, keep_last=keep_last)
    expected_kept = {r for r in runs if kept_by_model(r)}
    assert deleted == len(runs) - len(expected_kept)
    assert {r.id for r in wf.list_runs(limit=100)} == expected_kept
    assert wf.delete_finished_runs(cutoff, keep_last=keep_last) == 0
    old_but_kept = [r for r in expected_kept if (runs[r][1] or cutoff) < cutoff]
    assert wf.delete_finished_runs(cutoff) == len(old_but_kept)
    assert all((runs[r.id][1] or cutoff) >= cutoff for r in wf.list_runs(limit=100))


# -- replay ------------------------------------------------------------------------------


def _hash(spec: Mapping[str, object], inputs: Mapping[str, object]) -> str:
    return compute_leaf_input_hash("wf", "goal", spec, inputs)


def test_replay_hit_returns_the_recorded_output(wf: WorkflowStore) -> None:
    first = wf.start_run("wf", "goal")
    h = _hash({"prompt": "summarize"}, {"dep": "text"})
    wf.record_leaf(
        first.id, "l1", "t1", input_hash=h, status="succeeded", output={"v": 1}, artifacts=["a"]
    )
    wf.finish_run(first.id, "succeeded")
    second = wf.start_run("wf", "goal")
    outcome = wf.replay_leaf(
        first.id, second.id, "l1", _hash({"prompt": "summarize"}, {"dep": "text"}), task_id="t2"
    )
    assert outcome.hit and outcome.output == {"v": 1} and outcome.artifacts == ["a"]
    assert outcome.recorded is not None and outcome.recorded.workflow_run_id == first.id
    assert outcome.leaf.workflow_run_id == second.id and outcome.leaf.output == {"v": 1}
    assert outcome.leaf.status is RunStatus.SUCCEEDED and outcome.leaf.task_id == "t2"
    assert wf.get_run(second.id).status is RunStatus.RUNNING  # type: ignore[union-attr]
    assert wf.find_replay(second.id, "l1", h) == outcome.leaf


def test_replay_miss_marks_leaf_and_run_diverged(wf: WorkflowStore) -> None:
    first = wf.start_run("wf", "goal")
    wf.record_leaf(first.id, "l1", "t", input_hash=_hash({"p": 1}, {}), status="succeeded")
    wf.record_leaf(first.id, "l2", "t", input_hash=_hash({"p": 2}, {}))  # never completed
    second = wf.start_run("wf", "goal")
    changed = wf.replay_leaf(first.id, second.id, "l1", _hash({"p": 1}, {"new": True}), task_id="t")
    unfinished = wf.replay_leaf(first.id, second.id, "l2", _hash({"p": 2}, {}), task_id="t")
    for outcome in (changed, unfinished):
        assert not outcome.hit and outcome.output is None and outcome.recorded is None
        assert (
            outcome.leaf.status is RunStatus.REPLAY_DIVERGED and outcome.leaf.completed_at is None
        )
    run = wf.get_run(second.id)
    assert run is not None and run.status is RunStatus.REPLAY_DIVERGED and run.completed_at is None
    done = wf.update_leaf(changed.leaf.id, status="replay_diverged", output={"fresh": 1})
    assert done.completed_at is not None
    assert wf.find_replay(second.id, "l1", changed.leaf.input_hash or "") == done


def test_replay_divergence_over_a_whole_run(wf: WorkflowStore) -> None:
    specs = {f"leaf-{i}": {"prompt": f"p{i}"} for i in range(5)}
    first = wf.start_run("wf", "goal")
    for leaf_id, spec in specs.items():
        wf.record_leaf(
            first.id,
            leaf_id,
            "t",
            input_hash=_hash(spec, {}),
            status="succeeded",
            output={"o": leaf_id},
        )
    same = wf.start_run("wf", "goal")
    outs = [
        wf.replay_leaf(first.id, same.id, lid, _hash(s, {}), task_id="t")
        for lid, s in specs.items()
    ]
    assert all(o.hit for o in outs) and [o.output for o in outs] == [{"o": lid} for lid in specs]
    assert wf.get_run(same.id).status is RunStatus.RUNNING  # type: ignore[union-attr]
    edited = wf.start_run("wf", "goal")
    hits = [
        wf.replay_leaf(
            first.id,
            edited.id,
            lid,
            _hash(s if lid != "leaf-3" else {"prompt": "x"}, {}),
            task_id="t",
        ).hit
        for lid, s in specs.items()
    ]
    assert hits == [lid != "leaf-3" for lid in specs]
    assert wf.get_run(edited.id).status is RunStatus.REPLAY_DIVERGED  # type: ignore[union-attr]


# -- bad input ---------------------------------------------------------------------------


def test_unknown_ids_raise_not_found(wf: WorkflowStore) -> None:
    run = wf.start_run("wf", "g")
    calls: list[Callable[[], object]] = [
        lambda: wf.finish_run("nope", "failed"),
        lambda: wf.update_run("nope", status="failed"),
        lambda: wf.get_run_tree("nope"),
        lambda: wf.record_branch("nope", "b", "n"),
        lambda: wf.record_leaf("nope", "l", "t"),
        lambda: wf.record_leaf(run.id, "l", "t", branch_run_id="nope"),
        lambda: wf.record_control_node("nope", "n", "cond"),
        lambda: wf.record_candidate("nope", "c", "note"),
        lambda: wf.update_branch("nope"),
        lambda: wf.update_leaf("nope"),
        lambda: wf.update_control_node("nope"),
        lambda: wf.update_candidate("nope"),
        lambda: wf.find_replay("nope", "l", "h"),
        lambda: wf.replay_leaf("nope", run.id, "l", "h", task_id="t"),
        lambda: wf.replay_leaf(run.id, "nope", "l", "h", task_id="t"),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()
    assert wf.get_run("nope") is None
    assert _count_rows(wf, run.id) == 1


def test_invalid_statuses_and_values_raise_value_error(wf: WorkflowStore) -> None:
    run = wf.start_run("wf", "g")
    node = wf.record_control_node(run.id, "n", "expand")
    calls: list[Callable[[], object]] = [
        lambda: wf.start_run("wf", "g", status="done"),
        lambda: wf.finish_run(run.id, "running"),
        lambda: wf.update_run(run.id, status="SUCCEEDED"),
        lambda: wf.record_leaf(run.id, "l", "t", status="ok"),
        lambda: wf.record_control_node(run.id, "n", "fork"),
        lambda: wf.record_candidate(node.id, "c", "patch"),
        lambda: wf.record_candidate(node.id, "c", "note", status="maybe"),
        lambda: wf.record_candidate(node.id, "c", "note", score=float("nan")),
        lambda: wf.list_runs(status="nope"),
        lambda: wf.list_runs(limit=-1),
        lambda: wf.delete_finished_runs(10, keep_last=-1),
    ]
    for call in calls:
        with pytest.raises(ValueError):
            call()
    assert _count_rows(wf, run.id) == 2


def test_non_json_output_raises_before_anything_is_written(wf: WorkflowStore) -> None:
    run = wf.start_run("wf", "g")
    leaf = wf.record_leaf(run.id, "l", "t")
    bad: list[object] = [{1, 2}, object(), {"x": float("inf")}, b"bytes"]
    for value in bad:
        with pytest.raises(InvalidRecord):
            wf.record_leaf(run.id, "l", "t", output=value)
        with pytest.raises(InvalidRecord):
            wf.update_leaf(leaf.id, status="succeeded", output=value)
        with pytest.raises(InvalidRecord):
            wf.start_run("wf", "g", metadata=value)
    assert wf.update_leaf(leaf.id) == leaf
    assert len(wf.list_runs()) == 1 and _count_rows(wf, run.id) == 2


def test_failure_mid_recording_leaves_no_half_written_rows(wf: WorkflowStore) -> None:
    run = wf.start_run("wf", "g")
    first = wf.record_leaf(run.id, "l", "t", leaf_run_id="dup", input_hash="h", status="succeeded")
    batch = [
        LeafRun(
            id=f"new-{i}" if i != 3 else "dup",
            workflow_run_id=run.id,
            branch_run_id=None,
            leaf_id=f"l{i}",
            task_id="t",
            input_hash=None,
            status=RunStatus.SUCCEEDED,
            output={},
            artifacts=[],
            started_at=1,
            completed_at=2,
        )
        for i in range(5)
    ]
    with pytest.raises(Conflict):
        wf.record_leaf_runs(batch)
    # A replay miss that fails on its insert must not leave the run marked diverged.
    second = wf.start_run("wf", "g")
    with pytest.raises(Conflict):
        wf.replay_leaf(run.id, second.id, "other", "h", task_id="t", leaf_run_id="dup")
    assert wf.get_run(second.id) == second
    with pytest.raises(RuntimeError), wf.transaction():
        wf.record_branch(second.id, "b", "n")
        wf.finish_run(second.id, "succeeded")
        raise RuntimeError("crash")
    assert wf.get_run_tree(run.id).leaves == (first,)
    assert _count_rows(wf, second.id) == 1 and wf.get_run(second.id) == second


def test_branch_of_another_run_is_refused(wf: WorkflowStore) -> None:
    a, b = wf.start_run("wf", "g"), wf.start_run("wf", "g")
    branch = wf.record_branch(a.id, "b", "n")
    with pytest.raises(InvalidRecord):
        wf.record_leaf(b.id, "l", "t", branch_run_id=branch.id)
    with pytest.raises(Conflict):
        wf.start_run("wf", "g", run_id=a.id)
    assert _count_rows(wf, b.id) == 1


# -- the seam ----------------------------------------------------------------------------

#: What the facade may use of a backend: the contract's trace operations and transactions.
_CONTRACT_SURFACE = frozenset(
    {name for name in vars(TraceOperations) if not name.startswith("_")}
    | {"transaction", "snapshot"}
)


class _OnlyTheContract:
    """A backend seen through the trace contract alone: anything else raises."""

    def __init__(self, backend: object) -> None:
        self._inner = backend

    def __getattr__(self, name: str) -> Any:
        if name in _CONTRACT_SURFACE:
            return getattr(self._inner, name)
        raise AttributeError(f"the workflow facade used {name!r}, which is not in the contract")


def test_the_facade_uses_only_the_contracts_trace_operations(make_store: StoreFactory) -> None:
    store = make_store(clock=StepClock())
    assert {"find_replay_leaf", "insert_trace_rows"} <= _CONTRACT_SURFACE
    wf = WorkflowStore(_OnlyTheContract(store.backend), clock=StepClock(1_000))
    run = wf.start_run("wf", "g", run_id="seam")
    branch = wf.record_branch(run.id, "b", "n")
    # NUL in a key and in JSON: PostgreSQL's dialect escapes the one and not the other.
    leaf = wf.record_leaf(run.id, "l\x00", "t", branch_run_id=branch.id, input_hash="h")
    wf.update_leaf(leaf.id, status="succeeded", output={"ok": "\x00"})
    node = wf.record_control_node(run.id, "review", NodeKind.TEACHER_REVIEW)
    wf.record_candidate(node.id, "review:l", CandidateKind.NOTE, passed=True, score=0.5)
    wf.finish_run(run.id, "succeeded", completed_at=1_500)
    hit = wf.find_replay(run.id, "l\x00", "h")
    assert hit is not None and hit.output == {"ok": "\x00"}
    assert wf.list_runs(workflow_id="wf", status="succeeded") == [wf.get_run(run.id)]
    # The store's own facade reads back what the contract-only one wrote, and vice versa.
    assert store.workflows.get_run_tree(run.id) == wf.get_run_tree(run.id)
    assert wf.delete_finished_runs(2_000) == 1
    assert store.workflows.get_run(run.id) is None


def test_trace_operations_of_the_contract(store: StateStore) -> None:
    """The backend's own trace operations: rows in, rows out, the same on every backend."""
    backend = store.backend
    run: tuple[object, ...] = ("r", "wf", "g", "running", None, 10, None, "{}")
    backend.insert_trace_rows(TraceTable.RUNS, [run])
    # A dangling reference and a duplicate id are Conflicts, and write nothing.
    leaf = ("x", "r", None, "l", "t", "h", "succeeded", "{}", "[]", 10, 11)
    with pytest.raises(Conflict):
        backend.insert_trace_rows(TraceTable.LEAVES, [leaf, ("y", "missing", *leaf[2:])])
    with pytest.raises(Conflict):
        backend.insert_trace_rows(TraceTable.RUNS, [run])
    assert backend.trace_rows_of_run(TraceTable.LEAVES, "r") == []
    # Timestamp ties break by insertion order: oldest first for a run's rows...
    rows = [(f"leaf-{i}", "r", None, "l", "t", "h", "succeeded", "{}", "[]", 10, 11) for i in "cab"]
    backend.insert_trace_rows(TraceTable.LEAVES, rows)
    assert backend.trace_rows_of_run(TraceTable.LEAVES, "r") == rows
    # ...and newest first for runs; the latest completion wins a replay lookup.
    backend.insert_trace_rows(TraceTable.RUNS, [("q", "wf", "g", "running", None, 10, None, "{}")])
    listed = backend.list_workflow_runs(workflow_id="wf", status="running", limit=5, offset=0)
    assert [row[0] for row in listed] == ["q", "r"]
    later = ("leaf-z", "r", None, "l", "t", "h", "succeeded", '{"n":1}', "[]", 10, 12)
    backend.insert_trace_rows(TraceTable.LEAVES, [later])
    assert backend.find_replay_leaf("r", "l", "h") == later
    assert backend.find_replay_leaf("r", "l", "other") is None
    changed = (*later[:7], '{"n":2}', *later[8:])
    assert backend.update_trace_row(TraceTable.LEAVES, changed) is True
    assert backend.get_trace_row(TraceTable.LEAVES, "leaf-z") == changed
    assert backend.update_trace_row(TraceTable.LEAVES, ("nope", *later[1:])) is False
    # Retention picks finished runs only, oldest first; deleting takes their rows along.
    backend.update_trace_row(TraceTable.RUNS, ("r", "wf", "g", "succeeded", None, 10, 20, "{}"))
    backend.update_trace_row(TraceTable.RUNS, ("q", "wf", "g", "succeeded", None, 10, 15, "{}"))
    assert backend.finished_workflow_run_ids(30, None) == ["q", "r"]
    assert backend.finished_workflow_run_ids(30, 1) == ["q"]
    assert backend.delete_workflow_runs([]) == 0
    assert backend.delete_workflow_runs(["r", "missing"]) == 1
    assert backend.trace_rows_of_run(TraceTable.LEAVES, "r") == []
    assert backend.get_trace_row(TraceTable.RUNS, "q") is not None
