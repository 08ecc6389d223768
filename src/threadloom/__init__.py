"""threadloom: durable state for AI-agent sessions.

Threads, branching message trees, checkpoints, background jobs, dynamic tools, goals
and workflow traces, on the original CodeWhale ``StateStore``'s SQLite format (or
PostgreSQL). Start with :meth:`StateStore.open`.
"""

from .errors import (
    Conflict,
    CorruptData,
    InvalidRecord,
    NotFound,
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
from .session_index import CompactionReport, IndexHealth
from .store import StateStore

__version__ = "0.1.0"

__all__ = [
    "CheckpointRecord",
    "CompactionReport",
    "Conflict",
    "CorruptData",
    "DynamicToolRecord",
    "IndexHealth",
    "InvalidRecord",
    "JobStateRecord",
    "JobStateStatus",
    "MessageRecord",
    "NotFound",
    "SchemaError",
    "SessionIndexEntry",
    "SessionSource",
    "StateStore",
    "StoreBusy",
    "ThreadGoalRecord",
    "ThreadGoalStatus",
    "ThreadListFilters",
    "ThreadMetadata",
    "ThreadStatus",
    "ThreadloomError",
    "__version__",
    "default_state_db_path",
]
