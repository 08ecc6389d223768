"""The backend contract: everything a storage engine does for the layers above it.

:class:`Backend` is what both backends (SQLite, PostgreSQL) satisfy and one contract
test suite checks; the facade (:class:`~threadloom.StateStore`), maintenance, transfer
and the workflow trace store are written only against it.
"""

from .core import Backend, MigrationStep, SchemaInfo, ToolRow
from .graph import GraphCheckpointRow, GraphKey, GraphOperations, GraphWriteRow
from .keyvalue import KeyValueOperations, KeyValueRow
from .maintenance import (
    CHILD_TABLES,
    Compaction,
    MaintenanceOperations,
    Orphans,
    StorageInfo,
    TableStats,
    ThreadCounts,
    ThreadSize,
)
from .search import MessageHitRow, SearchFilters, SearchOperations, ThreadHitRow
from .traces import TRACE_CHILD_TABLES, TRACE_COLUMNS, TraceOperations, TraceRow, TraceTable
from .transfer import (
    CheckpointRow,
    CopyTable,
    MessageRow,
    Row,
    RowCount,
    ThreadImport,
    TransferOperations,
)

__all__ = [
    "CHILD_TABLES",
    "TRACE_CHILD_TABLES",
    "TRACE_COLUMNS",
    "Backend",
    "CheckpointRow",
    "Compaction",
    "CopyTable",
    "GraphCheckpointRow",
    "GraphKey",
    "GraphOperations",
    "GraphWriteRow",
    "KeyValueOperations",
    "KeyValueRow",
    "MaintenanceOperations",
    "MessageHitRow",
    "MessageRow",
    "MigrationStep",
    "Orphans",
    "Row",
    "RowCount",
    "SchemaInfo",
    "SearchFilters",
    "SearchOperations",
    "StorageInfo",
    "TableStats",
    "ThreadCounts",
    "ThreadHitRow",
    "ThreadImport",
    "ThreadSize",
    "ToolRow",
    "TraceOperations",
    "TraceRow",
    "TraceTable",
    "TransferOperations",
]
