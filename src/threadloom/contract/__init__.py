"""The backend contract: everything a storage engine does for the layers above it.

:class:`Backend` is what both backends (SQLite, PostgreSQL) satisfy and one contract
test suite checks; the facade (:class:`~threadloom.StateStore`), maintenance, transfer
and the workflow trace store are written only against it.
"""

from .core import Backend, MigrationStep, SchemaInfo, ToolRow
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

__all__ = [
    "CHILD_TABLES",
    "Backend",
    "Compaction",
    "MaintenanceOperations",
    "MigrationStep",
    "Orphans",
    "SchemaInfo",
    "StorageInfo",
    "TableStats",
    "ThreadCounts",
    "ThreadSize",
    "ToolRow",
]
