"""``threadloom serve``: an HTTP API and a browser viewer of conversation trees.

Needs the ``server`` extra (``pip install 'threadloom[server]'``: Starlette and
uvicorn); ``import threadloom`` never imports this package.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "threadloom serve needs the server extra: pip install 'threadloom[server]'"
    ) from exc

from .app import ENDPOINTS, ServerOptions, create_app, openapi
from .security import CONTENT_SECURITY_POLICY, is_loopback, new_token

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "ENDPOINTS",
    "ServerOptions",
    "create_app",
    "is_loopback",
    "new_token",
    "openapi",
]
