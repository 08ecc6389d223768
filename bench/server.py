"""The viewer's API and first screen on a long, bushy thread.

Fills a fresh SQLite store with one thread of ``--messages`` messages (default 10,000)
and ``--branches`` leaves (default 1,000: a main line of half the messages, the rest in
short side branches forking from it), then measures:

- a page of 200 messages: the library call (``StateStore.list_messages(id, 200)``), the
  API's handler called in-process (ASGI, no socket: the server's own cost), and the
  API over HTTP from a client (uvicorn on a loopback socket); medians and the ratios
  to the library call;
- the tree document (every message as a node) through the API;
- with Playwright and Chromium present (the ``browser`` extra): the first screen of
  the conversation and of the tree graph, from navigation to the view drawn.

Run it as ``python bench/server.py [--messages N] [--branches N] [--repeat N]``; it
prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from threadloom import StateStore, ThreadMetadata

__all__ = ["fill", "main", "run_benchmark"]

THREAD = "bench-thread"


def fill(store: StateStore, messages: int, branches: int, seed: int = 7) -> None:
    """One thread: a main line of half the messages, the rest in side branches."""
    rng = random.Random(seed)
    store.upsert_thread(ThreadMetadata.create(THREAD, name="A long, bushy thread"))
    main_line = max(1, messages // 2)
    sides = max(0, branches - 1)
    per_side = max(1, (messages - main_line) // max(1, sides))
    ids: list[int] = []
    with store.transaction():
        for n in range(main_line):
            role = "user" if n % 2 == 0 else "assistant"
            ids.append(store.append_message(THREAD, role, f"Message {n}: " + "lorem ipsum " * 8))
        for b in range(sides):
            parent = ids[rng.randrange(len(ids) - 1)]
            for k in range(per_side):
                parent = store.fork_at_message(parent, "assistant", f"Side {b}.{k}: try this")
        store.set_current_leaf_id(THREAD, ids[-1])


def _median_ms(call: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return round(statistics.median(samples) * 1000, 3)


async def _asgi_get(app: Any, path: str, query: str) -> bytes:
    """One GET through the ASGI app, no socket: what the server itself spends."""
    body: list[bytes] = []
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1:8765")], "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8765), "root_path": "",
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await app(scope, receive, send)
    return b"".join(body)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _first_screens(url: str) -> dict[str, float] | None:
    """Navigation to a drawn view, in ms, for the conversation and the tree graph."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        return None
    out: dict[str, float] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(url)  # warm: the modules are cached as a returning visitor's would be
        page.wait_for_selector("main:not([aria-busy])", state="attached")
        for name, hash_, ready in (
            ("conversation", f"#/t/{THREAD}", ".msg"),
            ("tree", f"#/t/{THREAD}/tree", "svg.tree .node"),
        ):
            samples = []
            for _ in range(3):
                page.goto(url + "#/jobs")
                page.wait_for_selector("main:not([aria-busy])", state="attached")
                start = time.perf_counter()
                page.evaluate(f"location.hash = {json.dumps(hash_)}")
                page.wait_for_selector(ready)
                page.wait_for_selector("main:not([aria-busy])", state="attached")
                samples.append(time.perf_counter() - start)
            out[name] = round(statistics.median(samples) * 1000, 1)
        browser.close()
    return out


def run_benchmark(
    messages: int, branches: int, repeat: int, screens: bool = True
) -> dict[str, Any]:
    """Fill a store, time the API against the library; the figures as a dict."""
    import httpx2 as httpx
    import uvicorn

    from threadloom.server import create_app

    with tempfile.TemporaryDirectory() as folder:
        store = StateStore.open(Path(folder) / "state.db")
        fill(store, messages, branches)
        leaves = len(store.list_leaf_messages(THREAD))
        total = len(store.list_all_messages(THREAD))
        app = create_app(store)
        path = f"/api/threads/{THREAD}/messages"
        loop = asyncio.new_event_loop()
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        url = f"http://127.0.0.1:{port}/"
        with httpx.Client() as client:
            # Interleaved, one of each per round, so a busy machine weighs on all three.
            calls: dict[str, Callable[[], object]] = {
                "library": lambda: store.list_messages(THREAD, 200),
                "asgi": lambda: loop.run_until_complete(_asgi_get(app, path, "limit=200")),
                "http": lambda: client.get(
                    url + path[1:], params={"limit": 200}
                ).raise_for_status(),
            }
            samples: dict[str, list[float]] = {name: [] for name in calls}
            for _ in range(repeat):
                for name, call in calls.items():
                    start = time.perf_counter()
                    call()
                    samples[name].append(time.perf_counter() - start)
            library, asgi, http = (
                round(statistics.median(samples[n]) * 1000, 3) for n in ("library", "asgi", "http")
            )
        tree = _median_ms(
            lambda: loop.run_until_complete(_asgi_get(app, path[:-9] + "/tree", "")),
            max(3, repeat // 10),
        )
        first = _first_screens(url) if screens else None
        server.should_exit = True
        thread.join()
        loop.close()
        store.close()
    return {
        "scenario": "server_api",
        "load_average_1m": round(os.getloadavg()[0], 1),
        "messages": total,
        "branches": leaves,
        "page_200_library_ms": library,
        "page_200_api_in_process_ms": asgi,
        "page_200_api_http_ms": http,
        "ratio_in_process": round(asgi / library, 2),
        "ratio_http": round(http / library, 2),
        "tree_document_ms": tree,
        "first_screen_ms": first,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: prints the figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--branches", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args(argv)
    print(json.dumps(run_benchmark(args.messages, args.branches, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
