"""The embedded SQLite backend."""

from .backend import SqliteBackend
from .connection import Durability

__all__ = ["Durability", "SqliteBackend"]
