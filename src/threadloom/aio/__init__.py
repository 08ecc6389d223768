"""The async API: :class:`AsyncStateStore` and :class:`AsyncWorkflowStore`.

Every method of the synchronous store, awaitable, running on threads the async store
owns (see :mod:`threadloom.aio.lanes` for which thread runs what).
"""

from ._generated import AsyncStateStore, AsyncWorkflowStore

__all__ = ["AsyncStateStore", "AsyncWorkflowStore"]
