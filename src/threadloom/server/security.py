"""The server's guard: host and token checks, same-origin writes, security headers.

One ASGI middleware in front of every route (static files, API, events):

- **Host**: bound to loopback, only requests naming a loopback host are answered, so
  a page on another site cannot reach the API through DNS rebinding.
- **Token**: bound to anything else, every request needs the token, as
  ``Authorization: Bearer TOKEN`` or the cookie that ``/auth?token=TOKEN`` sets.
- **Writes** (any method but GET/HEAD): only with ``--allow-writes``, only JSON bodies,
  and only when ``Origin`` is this server and ``Sec-Fetch-Site`` (where sent) says
  ``same-origin``: a form or script on another origin cannot fork or rename (CSRF).
- **Headers** on every answer: a strict Content-Security-Policy (scripts, styles,
  images and connections from this origin only; no inline code; no frames),
  ``nosniff``, no referrer, no framing, isolated from other origins.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from ipaddress import ip_address
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "COOKIE",
    "Guard",
    "GuardOptions",
    "is_loopback",
    "new_token",
]

#: What the page may load: its own scripts, styles and API, nothing else, no inline code.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
COOKIE = "threadloom_token"
_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
_READS = {"GET", "HEAD"}


def new_token() -> str:
    """A fresh random token (32 bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class GuardOptions:
    """What the guard enforces.

    Attributes:
        token: Required on every request when set.
        allow_writes: Whether any write is allowed at all.
        loopback_only: Answer only requests whose ``Host`` is a loopback name.
    """

    token: str | None
    allow_writes: bool
    loopback_only: bool


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """The ASGI middleware described in the module docstring."""

    def __init__(self, app: ASGIApp, options: GuardOptions) -> None:
        self.app = app
        self.options = options

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_HEADERS]}
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            status, text, extra = refusal
            await _answer(send_with_headers, status, {"error": text}, extra)
            return
        if scope["path"] == "/auth":
            await self._login(scope, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope) -> tuple[int, str, Iterable[tuple[bytes, bytes]]] | None:
        host = _header(scope, b"host") or ""
        if self.options.loopback_only and not is_loopback(_host_name(host)):
            return 421, f"this server answers only for loopback hosts, not {host!r}", ()
        needs_token = self.options.token is not None and scope["path"] != "/auth"
        if needs_token and not self._has_token(scope):
            return 401, "a token is required: open the URL the server printed", ()
        if scope["method"] not in _READS:
            if not self.options.allow_writes:
                return 403, "the server is read-only (start it with --allow-writes)", ()
            problem = _cross_origin(scope, host)
            if problem is not None:
                return 403, problem, ()
        return None

    def _has_token(self, scope: Scope) -> bool:
        token = self.options.token
        assert token is not None
        auth = _header(scope, b"authorization") or ""
        if auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].encode(), token.encode()):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(_header(scope, b"cookie") or "")
        except Exception:  # a malformed cookie header is no token
            return False
        morsel = cookie.get(COOKIE)
        return morsel is not None and hmac.compare_digest(morsel.value.encode(), token.encode())

    async def _login(self, scope: Scope, send: Send) -> None:
        """``/auth?token=TOKEN``: a cookie for the session, then the viewer (Datasette's
        one-time URL); the token leaves the address bar at once."""
        token = self.options.token
        given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        if token is None or not hmac.compare_digest(given.encode(), token.encode()):
            await _answer(send, 401, {"error": "wrong or missing token"}, ())
            return
        cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", b"/"), (b"set-cookie", cookie.encode())],
            }
        )
        await send({"type": "http.response.body", "body": b""})


def _cross_origin(scope: Scope, host: str) -> str | None:
    """Why a write is refused as possibly cross-site, or ``None`` if it is same-origin."""
    scheme = scope.get("scheme", "http")
    origin = _header(scope, b"origin")
    if origin is None or origin != f"{scheme}://{host}":
        return "writes must come from this server's own page (Origin does not match)"
    site = _header(scope, b"sec-fetch-site")
    if site is not None and site != "same-origin":
        return "writes must come from this server's own page (Sec-Fetch-Site)"
    content_type = (_header(scope, b"content-type") or "").split(";")[0].strip()
    if content_type != "application/json":
        return "writes take a JSON body (Content-Type: application/json)"
    return None


async def _answer(
    send: Send, status: int, body: dict[str, Any], extra: Iterable[tuple[bytes, bytes]]
) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
