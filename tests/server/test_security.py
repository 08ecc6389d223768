"""The guard: host check, token, same-origin writes, headers, and the static bundle
(no path reaches a file outside it, no inline or remote code in it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.server.conftest import BASE, Served, serve_on
from threadloom.server import CONTENT_SECURITY_POLICY

STATIC = Path(str(resources.files("threadloom.server") / "static"))
GOOD_WRITE = {"origin": BASE, "content-type": "application/json"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The guard does not depend on the backend: SQLite only."""
    yield from serve_on("sqlite", tmp_path)


def test_loopback_serves_only_loopback_host_names(client: TestClient) -> None:
    for host in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765", "localhost"):
        assert client.get("/api/", headers={"host": host}).status_code == 200, host
    # A page on another site that rebinds its name to 127.0.0.1 still sends its name.
    for host in ("evil.example:8765", "127.0.0.1.evil.example", "0.0.0.0:8765", ""):
        response = client.get("/api/threads", headers={"host": host})
        assert response.status_code == 421, host
        assert "loopback" in response.json()["error"]


def test_a_token_is_needed_for_everything(served: Served) -> None:
    token = "t" * 40
    with served.client(token=token, loopback_only=False) as client:
        for path in ("/", "/app.js", "/api/threads", "/api/events"):
            assert client.get(path).status_code == 401, path
        assert (
            client.get("/api/threads", headers={"authorization": "Bearer nope"}).status_code == 401
        )
        ok = client.get("/api/threads", headers={"authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        assert client.get("/auth", params={"token": "wrong"}).status_code == 401
        login = client.get("/auth", params={"token": token}, follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"] == "/"
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        # The client keeps the cookie: now every request passes.
        assert client.get("/api/threads").status_code == 200
        assert client.get("/").status_code == 200
        # Any host name will do behind a token (the token is the check).
        assert client.get("/api/", headers={"host": "box.lan:8765"}).status_code == 200


def test_writes_are_refused_when_read_only(client: TestClient, served: Served) -> None:
    main = served.ids["main"]
    response = client.post(f"/api/threads/{main}/rename", json={"name": "x"}, headers=GOOD_WRITE)
    assert response.status_code == 403 and "read-only" in response.json()["error"]
    assert served.store.get_thread(main).name != "x"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "application/json"},  # no Origin
        {"origin": "http://evil.example", "content-type": "application/json"},
        {"origin": "http://127.0.0.1:9999", "content-type": "application/json"},
        {"origin": "null", "content-type": "application/json"},
        {**GOOD_WRITE, "sec-fetch-site": "cross-site"},
        {**GOOD_WRITE, "sec-fetch-site": "same-site"},
        {"origin": BASE, "content-type": "text/plain"},  # what a cross-site form can send
        {"origin": BASE, "content-type": "application/x-www-form-urlencoded"},
    ],
)
def test_cross_origin_writes_are_refused(served: Served, headers: dict[str, str]) -> None:
    main = served.ids["main"]
    with served.client(allow_writes=True) as client:
        response = client.post(
            f"/api/threads/{main}/rename", content=b'{"name": "pwned"}', headers=headers
        )
        assert response.status_code == 403, response.text
        assert served.store.get_thread(main).name != "pwned"  # type: ignore[union-attr]
        same = client.post(
            f"/api/threads/{main}/rename",
            content=b'{"name": "mine"}',
            headers={**GOOD_WRITE, "sec-fetch-site": "same-origin"},
        )
        assert same.status_code == 200
        assert served.store.get_thread(main).name == "mine"  # type: ignore[union-attr]


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    for path in ("/", "/app.js", "/api/threads", "/api/threads/nope", "/nope"):
        response = client.get(path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
    refused = client.get("/api/", headers={"host": "evil.example"})
    assert refused.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    "path",
    [
        "/../pyproject.toml",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fapp.py",
        "/views/../../app.py",
        "/views/..%2f..%2f__init__.py",
        "/app.py",
        "/__init__.py",
        "/static/app.js",
        "//etc/passwd",
        "/%00app.js",
        "/app.js%00.png",
        "/C:%5cwindows%5cwin.ini",
    ],
)
def test_no_path_reaches_outside_the_bundle(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, path
    assert "import" not in response.text and "root:" not in response.text


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[str] = []
        self.inline = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [k for k, _ in attrs if k.startswith("on") or k == "style"]
        if tag == "script":
            self.scripts.append(dict(attrs))
            self._in_script = True

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline += data.strip()


def test_the_page_has_no_inline_code_and_the_bundle_no_remote_assets() -> None:
    page = _Scripts()
    page.feed((STATIC / "index.html").read_text("utf-8"))
    assert page.scripts == [{"type": "module", "src": "/app.js"}]
    assert page.inline == "" and page.handlers == []
    files = [p for p in STATIC.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} <= {".html", ".js", ".css", ".svg"}
    for path in files:
        text = path.read_text("utf-8")
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.\w+[^\s\"')]*", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (path.name, urls)
        assert "@import" not in text and "url(" not in text, path.name


def test_the_scripts_never_build_html_from_text() -> None:
    # Stored text reaches the page only as text nodes (dom.js): no HTML parsing sinks.
    sinks = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
        r"setAttribute\(\s*[\"']on|\.src\s*=|srcdoc"
    )
    found = {
        p.name: sinks.findall(p.read_text("utf-8"))
        for p in STATIC.rglob("*.js")
        if sinks.search(p.read_text("utf-8"))
    }
    assert found == {}
