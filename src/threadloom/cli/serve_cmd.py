"""``threadloom serve``: the browser viewer and JSON API (the ``server`` extra)."""

from __future__ import annotations

import socket
from types import FrameType

import click

from .context import CliError, open_store
from .params import COUNT, Count

__all__ = ["COMMANDS"]


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", default=8765, show_default=True, type=Count(0, 65535), help="Port (0: any free one)."
)
@click.option(
    "--allow-writes",
    is_flag=True,
    help="Allow fork, switch branch, rename and archive from the browser.",
)
@click.option(
    "--token",
    envvar="THREADLOOM_TOKEN",
    help="Token every request must carry (default: a random one when --host is not "
    "loopback; none on loopback).",
)
@click.option(
    "--poll-ms",
    "poll_ms",
    default=1000,
    show_default=True,
    type=Count(50, 60_000),
    help="Milliseconds between looks at the store for live updates.",
)
@click.option("--limit-concurrency", default=64, show_default=True, type=COUNT, hidden=True)
def serve_cmd(
    host: str,
    port: int,
    allow_writes: bool,
    token: str | None,
    poll_ms: int,
    limit_concurrency: int,
) -> None:
    """Serve the browser viewer and the JSON API (/api/) over --db; prints the URL.

    Read-only unless --allow-writes. Bound to a non-loopback address, every request
    needs a token (printed in the URL).
    """
    try:
        import uvicorn

        from ..server import ServerOptions, create_app, is_loopback, new_token
    except ImportError as exc:
        raise CliError(
            "threadloom serve needs the server extra: pip install 'threadloom[server]'"
        ) from exc
    loopback = is_loopback(host)
    if not loopback and token is None:
        token = new_token()
    if token is not None and len(token) < 16:
        raise click.BadParameter("a token needs at least 16 characters", param_hint="'--token'")
    store = open_store(read_only=not allow_writes)
    options = ServerOptions(
        allow_writes=allow_writes, token=token, loopback_only=loopback, poll_interval=poll_ms / 1000
    )
    app = create_app(store, options)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        limit_concurrency=limit_concurrency,
        timeout_graceful_shutdown=1,
    )
    shown = f"[{host}]" if ":" in host else host
    mode = "read-write" if allow_writes else "read-only"

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            options.stopping.set()  # live streams end, so the shutdown need not wait
            super().handle_exit(sig, frame)

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            # The URL once the socket is bound: --port 0 picks a free port.
            bound = next((s.getsockname()[1] for srv in self.servers for s in srv.sockets), port)
            url = f"http://{shown}:{bound}/"
            if token is not None:
                url += f"auth?token={token}"
            click.echo(f"threadloom serve ({mode}): {url}")
            click.echo("Press Ctrl+C to stop.")

    server = _Server(config)
    server.run()


COMMANDS: list[click.Command] = [serve_cmd]
