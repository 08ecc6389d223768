"""The ASGI application: the JSON API under ``/api/``, live events, the viewer's files.

Every endpoint is declared once in :data:`ENDPOINTS` (method, path, query parameters,
summary), and both the routes and the OpenAPI description (``/api/openapi.json``) are
built from that table, so the two cannot disagree.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .. import __version__
from ..errors import (
    Conflict,
    InvalidRecord,
    InvalidType,
    NotFound,
    ReadOnlyError,
    StoreBusy,
    ThreadloomError,
)
from ..records import JobStateStatus, ThreadStatus
from ..store import StateStore
from . import shapes
from .access import StoreReads, open_access, search
from .events import event_stream
from .security import Guard, GuardOptions

__all__ = ["ENDPOINTS", "Endpoint", "Param", "ServerOptions", "create_app", "openapi"]

#: The most messages one page of a branch holds.
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """How the app behaves.

    Attributes:
        allow_writes: Serve the write endpoints (fork, switch, rename, archive).
        token: Require this token on every request.
        loopback_only: Answer only requests naming a loopback host.
        poll_interval: Seconds between the live stream's looks at the store.
        stopping: Set it to end every live stream (the server is shutting down: an
            open stream would otherwise hold the shutdown until its timeout).
    """

    allow_writes: bool = False
    token: str | None = None
    loopback_only: bool = True
    poll_interval: float = 1.0
    stopping: threading.Event = field(default_factory=threading.Event)


class BadRequest(ThreadloomError):
    """A query parameter or body the API cannot use (400)."""


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter of an endpoint (for the OpenAPI description)."""

    name: str
    kind: str  # "string" or "integer"
    doc: str
    enum: tuple[str, ...] = ()
    many: bool = False


Handler = Callable[[Request, StoreReads], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One API endpoint: its route, its handler, and what OpenAPI says about it."""

    method: str
    path: str
    summary: str
    handler: Handler
    params: tuple[Param, ...] = ()
    body: dict[str, Any] | None = None
    write: bool = False
    cli_twin: str | None = None


# -- parameters ---------------------------------------------------------------------


def _int(request: Request, name: str, default: int | None, low: int = 0, high: int = 2**62) -> Any:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}")
    return value


def _choice(request: Request, name: str, choices: tuple[str, ...]) -> tuple[str, ...]:
    values = tuple(request.query_params.getlist(name))
    for value in values:
        if value not in choices:
            raise BadRequest(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return values


async def _body(request: Request, *required: str) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    missing = [k for k in required if k not in body]
    if missing:
        raise BadRequest(f"the body lacks {', '.join(missing)}")
    return body


def _message_id(value: Any, name: str = "message_id") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name} must be an integer")
    return value


# -- handlers -----------------------------------------------------------------------

_STATUSES = tuple(s.value for s in ThreadStatus)
_JOB_STATUSES = tuple(s.value for s in JobStateStatus)


async def api_index(request: Request, access: StoreReads) -> Any:
    options: ServerOptions = request.app.state.options
    return {
        "name": "threadloom",
        "version": __version__,
        "read_only": not options.allow_writes,
        "openapi": "/api/openapi.json",
    }


async def api_openapi(request: Request, access: StoreReads) -> Any:
    return openapi(request.app.state.options)


async def api_threads(request: Request, access: StoreReads) -> Any:
    archived = _choice(request, "archived", ("include", "only"))
    filters = shapes.ThreadFilters(
        archived=archived[0] if archived else None,
        statuses=_choice(request, "status", _STATUSES),
        cwd=request.query_params.get("cwd") or None,
        name=request.query_params.get("name") or None,
    )
    limit = _int(request, "limit", 20, 1, 500)
    page = _int(request, "page", 1, 1)
    return await shapes.threads_doc(access, filters, limit, page)


async def api_thread(request: Request, access: StoreReads) -> Any:
    return await shapes.thread_doc(access, request.path_params["thread_id"])


async def api_messages(request: Request, access: StoreReads) -> Any:
    return await shapes.branch_page(
        access,
        request.path_params["thread_id"],
        leaf=_int(request, "leaf", None),
        before=_int(request, "before", None),
        limit=_int(request, "limit", 200, 0, MAX_PAGE),
    )


async def api_tree(request: Request, access: StoreReads) -> Any:
    return await shapes.tree_doc(access, request.path_params["thread_id"])


async def api_diff(request: Request, access: StoreReads) -> Any:
    a, b = _int(request, "a", None), _int(request, "b", None)
    if a is None or b is None:
        raise BadRequest("a diff needs two leaves: ?a=ID&b=ID")
    return await shapes.diff_doc(access, request.path_params["thread_id"], a, b)


async def api_checkpoints(request: Request, access: StoreReads) -> Any:
    limit = _int(request, "limit", 100, 0, 10_000)
    return await shapes.checkpoints_doc(access, request.path_params["thread_id"], limit)


async def api_checkpoint(request: Request, access: StoreReads) -> Any:
    return await shapes.checkpoint_doc(
        access, request.path_params["thread_id"], request.path_params["checkpoint_id"]
    )


async def api_goal(request: Request, access: StoreReads) -> Any:
    return await shapes.goal_doc(access, request.path_params["thread_id"])


async def api_tools(request: Request, access: StoreReads) -> Any:
    return await shapes.tools_doc(access, request.path_params["thread_id"])


async def api_jobs(request: Request, access: StoreReads) -> Any:
    limit = _int(request, "limit", 100, 0, 10_000)
    return await shapes.jobs_doc(access, limit, _choice(request, "status", _JOB_STATUSES))


async def api_runs(request: Request, access: StoreReads) -> Any:
    return await shapes.workflow_runs_doc(
        access,
        request.query_params.get("workflow_id") or None,
        request.query_params.get("status") or None,
        _int(request, "limit", 50, 0, 1000),
        _int(request, "offset", 0, 0),
    )


async def api_run(request: Request, access: StoreReads) -> Any:
    return await shapes.workflow_run_doc(access, request.path_params["run_id"])


async def api_search(request: Request, access: StoreReads) -> Any:
    query = request.query_params.get("q", "").strip()
    if not query:
        raise BadRequest("search needs ?q=TEXT")
    limit = _int(request, "limit", 50, 1, 500)
    return {"query": query, "hits": await search(access, query, limit)}


async def api_events(request: Request, access: StoreReads) -> Any:
    thread_id = request.query_params.get("thread") or None
    options: ServerOptions = request.app.state.options
    return StreamingResponse(
        event_stream(access, thread_id, options.poll_interval, options.stopping),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


async def api_fork(request: Request, access: StoreReads) -> Any:
    thread = await shapes.require_thread(access, request.path_params["thread_id"])
    body = await _body(request, "message_id", "content")
    parent = await _member(access, thread.id, _message_id(body["message_id"]))
    role = body.get("role", "user")
    if role not in ("user", "assistant", "system", "tool"):
        raise BadRequest("role must be one of user, assistant, system, tool")
    if not isinstance(body["content"], str):
        raise BadRequest("content must be text")
    new_id = await access.fork_at_message(parent, role, body["content"])
    return {"thread_id": thread.id, "parent_id": parent, "message_id": new_id}


async def api_switch(request: Request, access: StoreReads) -> Any:
    thread = await shapes.require_thread(access, request.path_params["thread_id"])
    body = await _body(request, "message_id")
    leaf = await _member(access, thread.id, _message_id(body["message_id"]))
    changed = leaf != thread.current_leaf_id
    if changed:
        await access.set_current_leaf_id(thread.id, leaf)
    return {
        "thread_id": thread.id,
        "previous_leaf_id": thread.current_leaf_id,
        "current_leaf_id": leaf,
        "changed": changed,
    }


async def api_rename(request: Request, access: StoreReads) -> Any:
    thread = await shapes.require_thread(access, request.path_params["thread_id"])
    name = (await _body(request, "name"))["name"]
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise BadRequest("name must be non-empty text, or null to remove it")
    if thread.name != name:
        # updated_at is kept, as the CLI's rename does: renaming is not activity.
        await access.upsert_thread(replace(thread, name=name))
    return await shapes.thread_doc(access, thread.id)


async def api_archive(request: Request, access: StoreReads) -> Any:
    thread = await shapes.require_thread(access, request.path_params["thread_id"])
    archived = (await _body(request, "archived"))["archived"]
    if not isinstance(archived, bool):
        raise BadRequest("archived must be true or false")
    if archived and not thread.archived:
        await access.mark_archived(thread.id)
    elif not archived and (thread.archived or thread.status.value == "archived"):
        await access.mark_unarchived(thread.id)
    return await shapes.thread_doc(access, thread.id)


async def _member(access: StoreReads, thread_id: str, message_id: int) -> int:
    if all(m.id != message_id for m in await access.list_all_messages(thread_id)):
        raise NotFound(f"message #{message_id} is not a message of thread {thread_id}")
    return message_id


# -- the table ----------------------------------------------------------------------

_T = "/api/threads/{thread_id}"
_LIMIT = Param("limit", "integer", "At most this many.")
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/api/", "What this server is and whether it is read-only.", api_index),
    Endpoint("GET", "/api/openapi.json", "This description.", api_openapi),
    Endpoint(
        "GET",
        "/api/threads",
        "Sessions, newest first, with counts (a page).",
        api_threads,
        (
            Param(
                "archived", "string", "Include archived threads, or only them.", ("include", "only")
            ),
            Param("status", "string", "Only these statuses (repeatable).", _STATUSES, True),
            Param("cwd", "string", "Only threads in this directory or below."),
            Param("name", "string", "Only threads whose name contains this text."),
            _LIMIT,
            Param("page", "integer", "Page number (from 1)."),
        ),
        cli_twin="threads --json",
    ),
    Endpoint("GET", _T, "One session with its title and counts.", api_thread),
    Endpoint(
        "GET",
        _T + "/messages",
        "A page of a branch, oldest first.",
        api_messages,
        (
            Param("leaf", "integer", "The branch's leaf (default: the current leaf)."),
            Param("before", "integer", "Only messages before this one (older pages)."),
            Param("limit", "integer", f"At most this many (default 200, up to {MAX_PAGE})."),
        ),
        cli_twin="show --json",
    ),
    Endpoint(
        "GET", _T + "/tree", "Every message as a tree node.", api_tree, cli_twin="tree --json"
    ),
    Endpoint(
        "GET",
        _T + "/diff",
        "Two branches from their common ancestor.",
        api_diff,
        (Param("a", "integer", "One leaf."), Param("b", "integer", "The other leaf.")),
    ),
    Endpoint(
        "GET",
        _T + "/checkpoints",
        "Checkpoints, latest first.",
        api_checkpoints,
        (_LIMIT,),
        cli_twin="checkpoints --json",
    ),
    Endpoint(
        "GET",
        _T + "/checkpoints/{checkpoint_id}",
        "One checkpoint's state.",
        api_checkpoint,
        cli_twin="checkpoint show --json",
    ),
    Endpoint(
        "GET", _T + "/goal", "The session's goal (null if none).", api_goal, cli_twin="goal --json"
    ),
    Endpoint(
        "GET", _T + "/tools", "Dynamic tools by position.", api_tools, cli_twin="tools --json"
    ),
    Endpoint(
        "GET",
        "/api/jobs",
        "Background jobs.",
        api_jobs,
        (
            _LIMIT,
            Param("status", "string", "Only these statuses (repeatable).", _JOB_STATUSES, True),
        ),
        cli_twin="jobs --json",
    ),
    Endpoint(
        "GET",
        "/api/workflows/runs",
        "Workflow runs, newest first.",
        api_runs,
        (
            Param("workflow_id", "string", "Only runs of this workflow."),
            Param("status", "string", "Only runs with this status."),
            _LIMIT,
            Param("offset", "integer", "Skip this many first."),
        ),
    ),
    Endpoint(
        "GET",
        "/api/workflows/runs/{run_id}",
        "A run: branches, leaves (replay hits and divergences), control nodes.",
        api_run,
    ),
    Endpoint(
        "GET",
        "/api/search",
        "Messages and sessions containing a text.",
        api_search,
        (Param("q", "string", "The text."), _LIMIT),
    ),
    Endpoint(
        "GET",
        "/api/events",
        "Server-sent events when the store changes.",
        api_events,
        (Param("thread", "string", "Also watch this thread and its goal."),),
    ),
    Endpoint(
        "POST",
        _T + "/fork",
        "Start a branch under a message (it becomes current).",
        api_fork,
        body={"message_id": "integer", "content": "string", "role": "string"},
        write=True,
        cli_twin="fork --json",
    ),
    Endpoint(
        "POST",
        _T + "/switch",
        "Make a message the current leaf.",
        api_switch,
        body={"message_id": "integer"},
        write=True,
        cli_twin="switch --json",
    ),
    Endpoint(
        "POST",
        _T + "/rename",
        "Rename (null removes the name).",
        api_rename,
        body={"name": "string"},
        write=True,
    ),
    Endpoint(
        "POST",
        _T + "/archive",
        "Archive or unarchive.",
        api_archive,
        body={"archived": "boolean"},
        write=True,
    ),
)


def openapi(options: ServerOptions) -> dict[str, Any]:
    """The OpenAPI 3.1 description of :data:`ENDPOINTS` (writes only when allowed)."""
    paths: dict[str, dict[str, Any]] = {}
    for e in ENDPOINTS:
        if e.write and not options.allow_writes:
            continue
        operation: dict[str, Any] = {
            "summary": e.summary,
            "operationId": e.handler.__name__,
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in ("thread_id", "checkpoint_id", "run_id")
                if "{" + name + "}" in e.path
            ]
            + [
                {
                    "name": p.name,
                    "in": "query",
                    "description": p.doc,
                    "schema": (
                        {"type": "array", "items": {"type": p.kind, **_enum(p)}}
                        if p.many
                        else {"type": p.kind, **_enum(p)}
                    ),
                }
                for p in e.params
            ],
            "responses": {
                "200": {
                    "description": "JSON"
                    + (f" (the shape of `threadloom {e.cli_twin}`)" if e.cli_twin else ""),
                    "content": {
                        "text/event-stream" if e.handler is api_events else "application/json": {}
                    },
                },
                "4XX": {"description": '{"error": "..."}'},
            },
        }
        if e.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {k: {"type": v} for k, v in e.body.items()},
                        }
                    }
                },
            }
        paths.setdefault(e.path, {})[e.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "threadloom", "version": __version__},
        "paths": paths,
    }


def _enum(p: Param) -> dict[str, Any]:
    return {"enum": list(p.enum)} if p.enum else {}


# -- wiring -------------------------------------------------------------------------

_ERRORS: tuple[tuple[type[Exception], int], ...] = (
    (BadRequest, 400),
    (NotFound, 404),
    (Conflict, 409),
    (ReadOnlyError, 403),
    (StoreBusy, 503),
    (InvalidRecord, 400),
    (InvalidType, 400),
    (ThreadloomError, 500),
)


def _json(value: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(value),
        status_code=status,
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


def _route(endpoint: Endpoint) -> Route:
    async def handle(request: Request) -> Response:
        access: StoreReads = request.app.state.access
        try:
            result = await endpoint.handler(request, access)
        except ThreadloomError as exc:
            status = next(code for kind, code in _ERRORS if isinstance(exc, kind))
            lines = str(exc).strip().splitlines()
            return _json({"error": lines[0] if lines else type(exc).__name__}, status)
        return result if isinstance(result, Response) else _json(result)

    return Route(endpoint.path, handle, methods=[endpoint.method])


#: The viewer's files: the package's static/ folder, read once. Requests are looked up
#: in this table by exact name, so no path can reach a file outside it.
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def _static_files() -> dict[str, tuple[bytes, str]]:
    files: dict[str, tuple[bytes, str]] = {}
    root = resources.files("threadloom.server") / "static"

    def walk(folder: Any, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
                continue
            suffix = "." + entry.name.rsplit(".", 1)[-1]
            if suffix in _TYPES:
                files[prefix + entry.name] = (entry.read_bytes(), _TYPES[suffix])

    walk(root, "")
    return files


def _static_route(files: dict[str, tuple[bytes, str]]) -> Route:
    async def serve(request: Request) -> Response:
        name = request.path_params.get("name") or "index.html"
        found = files.get(name)
        if found is None:
            return _json({"error": "not found"}, 404)
        body, media_type = found
        return Response(body, media_type=media_type, headers={"cache-control": "no-cache"})

    return Route("/{name:path}", serve, methods=["GET", "HEAD"])


def create_app(store: StateStore, options: ServerOptions | None = None) -> Guard:
    """The viewer and its API over ``store`` (which stays open: the caller closes it).

    Raises:
        ImportError: The ``server`` extra (Starlette) is not installed.
    """
    opts = options or ServerOptions()
    routes = [_route(e) for e in ENDPOINTS if not e.write or opts.allow_writes]
    routes.append(_static_route(_static_files()))
    access = open_access(store)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await access.aclose()  # its threads; the store stays the caller's

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.access = access
    app.state.options = opts
    return Guard(
        app,
        GuardOptions(
            token=opts.token, allow_writes=opts.allow_writes, loopback_only=opts.loopback_only
        ),
    )
