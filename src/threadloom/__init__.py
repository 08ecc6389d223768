"""threadloom: durable state for AI-agent sessions.

Threads, branching message trees, checkpoints, background jobs, dynamic tools, goals
and workflow traces, on the original CodeWhale ``StateStore``'s SQLite format (or
PostgreSQL). Start with :meth:`StateStore.open`.
"""

from .aio import AsyncStateStore, AsyncWorkflowStore
from .errors import (
    Conflict,
    CorruptData,
    EncryptedData,
    InvalidRecord,
    InvalidType,
    NotFound,
    ReadOnlyError,
    ReadOnlyStore,
    SchemaError,
    StoreBusy,
    ThreadloomError,
)
from .paths import default_state_db_path
from .records import (
    CheckpointRecord,
    DynamicToolRecord,
    JobStateRecord,
    JobStateStatus,
    MessageRecord,
    SessionIndexEntry,
    SessionSource,
    ThreadGoalRecord,
    ThreadGoalStatus,
    ThreadListFilters,
    ThreadMetadata,
    ThreadStatus,
)
from .retention import RetentionPolicy, RetentionReport
from .session_index import CompactionReport, IndexHealth
from .store import StateStore
from .workflows import (
    BranchRun,
    CandidateKind,
    CandidateStatus,
    ControlNodeRun,
    LeafRun,
    NodeKind,
    ReplayOutcome,
    RunStatus,
    TeacherCandidate,
    WorkflowRun,
    WorkflowRunTree,
    WorkflowStore,
    compute_leaf_input_hash,
)

__version__ = "0.1.0"

__all__ = [
    "AsyncStateStore",
    "AsyncWorkflowStore",
    "BranchRun",
    "CandidateKind",
    "CandidateStatus",
    "CheckpointRecord",
    "CompactionReport",
    "Conflict",
    "ControlNodeRun",
    "CorruptData",
    "DynamicToolRecord",
    "EncryptedData",
    "IndexHealth",
    "InvalidRecord",
    "InvalidType",
    "JobStateRecord",
    "JobStateStatus",
    "LeafRun",
    "MessageRecord",
    "NodeKind",
    "NotFound",
    "ReadOnlyError",
    "ReadOnlyStore",
    "ReplayOutcome",
    "RetentionPolicy",
    "RetentionReport",
    "RunStatus",
    "SchemaError",
    "SessionIndexEntry",
    "SessionSource",
    "StateStore",
    "StoreBusy",
    "TeacherCandidate",
    "ThreadGoalRecord",
    "ThreadGoalStatus",
    "ThreadListFilters",
    "ThreadMetadata",
    "ThreadStatus",
    "ThreadloomError",
    "WorkflowRun",
    "WorkflowRunTree",
    "WorkflowStore",
    "__version__",
    "compute_leaf_input_hash",
    "default_state_db_path",
]
