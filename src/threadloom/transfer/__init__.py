"""Moving data between stores, written only against the backend contract.

- :mod:`.export`: a whole thread as one document (``json``, ``jsonl``, ``md``);
- :mod:`.importer`: such a document written into a store, once;
- :mod:`.copy`: every table of a store into another (SQLite ↔ PostgreSQL), verified.
"""

from .copy import CopyMode, CopyReport, DestinationNotEmpty, TableReport, copy_store
from .export import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    FORMATS,
    NotAnExport,
    build_document,
    dumps,
    loads,
)
from .importer import AlreadyImported, ImportReport, import_document

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "FORMATS",
    "AlreadyImported",
    "CopyMode",
    "CopyReport",
    "DestinationNotEmpty",
    "ImportReport",
    "NotAnExport",
    "TableReport",
    "build_document",
    "copy_store",
    "dumps",
    "import_document",
    "loads",
]
