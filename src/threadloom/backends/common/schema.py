"""Schema text both engines run word for word: the workflow-trace indexes.

The original's schema-v2 step creates these on SQLite; PostgreSQL creates the same
ones. Tables differ between the engines (column types, sequences), indexes do not.
"""

from __future__ import annotations

__all__ = ["TRACE_INDEXES"]

#: ``CREATE INDEX`` statements by index name, exactly as the original's step has them.
TRACE_INDEXES: dict[str, str] = {
    "idx_control_node_runs_workflow_run_id": """
CREATE INDEX IF NOT EXISTS idx_control_node_runs_workflow_run_id
    ON control_node_runs(workflow_run_id)
""",
    "idx_leaf_runs_replay_lookup": """
CREATE INDEX IF NOT EXISTS idx_leaf_runs_replay_lookup
    ON leaf_runs(workflow_run_id, leaf_id, input_hash)
""",
    "idx_teacher_candidates_control_node_run_id": """
CREATE INDEX IF NOT EXISTS idx_teacher_candidates_control_node_run_id
    ON teacher_candidates(control_node_run_id)
""",
    "idx_teacher_candidates_workflow_run_id": """
CREATE INDEX IF NOT EXISTS idx_teacher_candidates_workflow_run_id
    ON teacher_candidates(workflow_run_id)
""",
    "idx_workflow_runs_status_started_at": """
CREATE INDEX IF NOT EXISTS idx_workflow_runs_status_started_at
    ON workflow_runs(status, started_at DESC)
""",
    "idx_workflow_runs_workflow_started_at": """
CREATE INDEX IF NOT EXISTS idx_workflow_runs_workflow_started_at
    ON workflow_runs(workflow_id, started_at DESC)
""",
}
