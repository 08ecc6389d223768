"""The PostgreSQL backend (optional extra: ``pip install 'threadloom[postgres]'``)."""

from .backend import PostgresBackend

__all__ = ["PostgresBackend"]
