"""``threadloom serve`` as a real process: it prints its URL, answers, streams events
when another process writes, and demands a token when bound beyond loopback."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from tests.server.conftest import BASE, Served
from threadloom.server import ServerOptions, create_app

#: The command line, as another process (no console script needed).
THREADLOOM = [sys.executable, "-c", "from threadloom.cli import main; main()"]
#: Generous: a slow CI machine may take this long; a working server answers in ms.
DEADLINE = 30.0


@contextmanager
def running(*args: str) -> Iterator[str]:
    """``threadloom ARGS`` started, its printed URL yielded, then stopped."""
    proc = subprocess.Popen(
        [*THREADLOOM, *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"http://\S+", line)
        if found is None:
            proc.kill()
            raise AssertionError(f"no URL printed: {line!r} {proc.communicate()[1]}")
        yield found.group(0)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _events(stream: Iterator[str]) -> Iterator[str]:
    for line in stream:
        if line.startswith("event: "):
            yield line[len("event: ") :]


def test_another_process_appending_is_streamed_live(served: Served) -> None:
    main = served.ids["main"]
    with running("--db", served.db, "serve", "--poll-ms", "100") as url:
        timeout = httpx.Timeout(DEADLINE)
        with httpx.stream("GET", f"{url}api/events", params={"thread": main}, timeout=timeout) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            events = _events(r.iter_lines())
            assert next(events) == "hello"
            # Another process (the CLI) forks: the thread's leaf moves.
            subprocess.run(
                [*THREADLOOM, "--db", served.db, "fork", main, "2", "--content", "From elsewhere"],
                check=True,
                capture_output=True,
            )
            seen = set()
            for name in events:
                seen.add(name)
                if {"thread", "threads"} <= seen:
                    break
        page = httpx.get(f"{url}api/threads/{main}/messages", params={"limit": 1}).json()
        assert page["messages"][0]["content"] == "From elsewhere"


def test_beyond_loopback_a_token_is_generated_and_required(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    subprocess.run(
        [*THREADLOOM, "--db", str(db), "demo"],
        check=True,
        capture_output=True,
    )
    with running("--db", str(db), "serve", "--host", "0.0.0.0") as url:
        token = re.search(r"auth\?token=([\w-]+)", url)
        assert token is not None and len(token.group(1)) >= 32
        base = url.split("auth?")[0].replace("0.0.0.0", "127.0.0.1")
        assert httpx.get(f"{base}api/threads").status_code == 401
        with httpx.Client(follow_redirects=True) as client:
            login = client.get(f"{base}auth", params={"token": token.group(1)})
            assert login.status_code == 200  # followed the redirect to the viewer
            assert client.get(f"{base}api/threads").json()["total"] == 2


def test_a_short_token_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *THREADLOOM,
            "--db",
            str(tmp_path / "x.db"),
            "serve",
            "--host",
            "0.0.0.0",
            "--token",
            "short",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "at least 16 characters" in result.stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_needs_no_token(tmp_path: Path, host: str) -> None:
    from threadloom.server import is_loopback

    assert is_loopback(host)
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


def test_importing_threadloom_or_its_cli_loads_no_server_code() -> None:
    code = (
        "import sys, threadloom, threadloom.cli\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('starlette', 'uvicorn', 'anyio') or m.startswith('threadloom.server')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_stopping_ends_the_live_streams(served: Served) -> None:
    # Without it, Ctrl+C waits for each open page's stream, then cancels it with a
    # traceback; with it, the stream ends and the response completes.
    options = ServerOptions(poll_interval=30.0)
    app = create_app(served.store, options)
    with TestClient(app, base_url=BASE) as client:
        with client.stream("GET", "/api/events") as response:
            lines = response.iter_lines()
            assert next(lines) == "event: hello"
            options.stopping.set()
            rest = list(lines)  # ends: the stream closed itself well before 30 s
        assert all(not line.startswith("event:") for line in rest)
