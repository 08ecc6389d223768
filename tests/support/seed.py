"""Data for the viewer's tests and screenshots: the CLI demo, a workflow run that was
replayed (one hit, one divergence), and a session of hostile content."""

from __future__ import annotations

from threadloom import StateStore, ThreadMetadata, compute_leaf_input_hash
from threadloom.cli.demo import create_demo
from threadloom.records import DynamicToolRecord, JobStateRecord, JobStateStatus

__all__ = ["HOSTILE", "seed_hostile", "seed_viewer_demo"]

#: Payloads that must render as inert text. ``window.__pwned`` is set by any that runs.
HOSTILE = [
    "<script>window.__pwned = 'script'</script> after the script tag",
    "[click me](javascript:window.__pwned='link') and [data](data:text/html,<script>x</script>)",
    '<img src="x" onerror="window.__pwned=\'img\'"> an image tag',
    "<svg onload=\"window.__pwned='svg'\"><script>window.__pwned='svg2'</script></svg>",
    "![tracker](http://tracker.invalid/pixel.png) and [real](https://example.invalid/page)",
    '"><iframe src="javascript:window.__pwned=\'frame\'"></iframe>',
    "bidi: access\u202eLEVEL_ADMIN\u2066 // \u2067check\u2069 end",
    "```html\n<script>window.__pwned='fence'</script>\n```",
]
#: A 10 MB line: the viewer must show it collapsed and stay responsive.
HUGE = "A" * 10_000_000


def seed_viewer_demo(store: StateStore, now: int) -> dict[str, str]:
    """The CLI demo plus a replayed workflow run; returns the ids to look at."""
    main_id, ci_id, old_id = create_demo(store, now=now)
    wf = store.workflows
    spec = {"prompt": "Summarize the diff", "role": "reviewer"}
    key = compute_leaf_input_hash("review-pr", "Review PR 42", spec, {"diff": "v1"})
    first = wf.start_run("review-pr", "Review PR 42", metadata={"pr": 42})
    branch = wf.record_branch(first.id, "reviewers", "fanout")
    leaf = wf.record_leaf(first.id, "summarize", "task-1", input_hash=key, branch_run_id=branch.id)
    wf.update_leaf(leaf.id, status="succeeded", output={"summary": "Renames a flag."})
    lint = wf.record_leaf(first.id, "lint", "task-2", input_hash=key, branch_run_id=branch.id)
    wf.update_leaf(lint.id, status="succeeded", output={"warnings": 0})
    wf.update_branch(branch.id, status="succeeded")
    wf.finish_run(first.id, "succeeded")
    second = wf.start_run("review-pr", "Review PR 42")
    again = wf.record_branch(second.id, "reviewers", "fanout")
    wf.replay_leaf(first.id, second.id, "summarize", key, task_id="task-1", branch_run_id=again.id)
    other = compute_leaf_input_hash("review-pr", "Review PR 42", spec, {"diff": "v2"})
    wf.replay_leaf(first.id, second.id, "lint", other, task_id="task-2", branch_run_id=again.id)
    return {"main": main_id, "ci": ci_id, "old": old_id, "run": second.id, "first_run": first.id}


def seed_hostile(store: StateStore, thread_id: str, now: int, huge: bool = True) -> None:
    """A session whose every field an attacker wrote."""
    store.upsert_thread(
        ThreadMetadata.create(
            thread_id,
            name="<img src=x onerror=\"window.__pwned='name'\">\u202eevil",
            cwd="/tmp/<script>x</script>",
            now=now,
            preview="<script>window.__pwned='preview'</script>",
        )
    )
    parent = None
    for text in HOSTILE:
        parent = store.append_message(thread_id, "assistant", text)
    assert parent is not None
    store.fork_at_message(parent, "user", "<b>forked</b> <script>window.__pwned='fork'</script>")
    store.set_current_leaf_id(thread_id, parent)
    store.append_message(
        thread_id,
        "tool",
        "<script>window.__pwned='tool'</script>",
        {
            "type": "function_call_output",
            "name": "<img src=x onerror=alert(1)>",
            "output": "<svg/onload=alert(1)>",
        },
    )
    if huge:
        store.append_message(thread_id, "assistant", HUGE)
    store.save_checkpoint(
        thread_id, "<script>", {"<img src=x onerror=alert(1)>": ["javascript:alert(1)", "\u202e"]}
    )
    store.persist_dynamic_tools(
        thread_id,
        [
            DynamicToolRecord(
                position=0,
                name="<script>window.__pwned='tool-name'</script>",
                description="<img src=x onerror=\"window.__pwned='desc'\">",
                input_schema={"type": "object", "properties": {"<svg onload=alert(1)>": {}}},
            )
        ],
    )
    store.upsert_job(
        JobStateRecord(
            id="<script>job</script>",
            name="<img src=x onerror=\"window.__pwned='job'\">",
            status=JobStateStatus.RUNNING,
            progress=40,
            detail="<script>window.__pwned='detail'</script>",
            created_at=now,
            updated_at=now,
        )
    )
