"""Who may write, and what a page of another site can do: the probe's rows S07, S08, S09,
S10, S11 and S12 (``security-2026-12-07.md``), against the real app and store.

A browser sends ``Origin`` on a cross-origin POST and ``Sec-Fetch-Site`` on every request;
the CLI and curl send neither. These tests send exactly the headers a browser would.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from kedge.api.app import create_app
from kedge.specs.commands import CommandStatus
from kedge.store.sqlite import SqliteStore
from tests.api.conftest import Seed
from tests.security.conftest import EVIL, LOCAL

SPEC = "name: secp-x\nservices:\n  app:\n    image: busybox:1\n"
PROBLEM = "application/problem+json"


def _stacks(client: TestClient) -> list[str]:
    return [s["name"] for s in client.get("/api/v1/stacks").json()["items"]]


def _token(client: TestClient) -> str:
    page = client.get("/").text
    found = re.search(r'<meta name="kedge-csrf" content="([0-9a-f]+)">', page)
    assert found, "the dashboard's page carries no CSRF token"
    return found.group(1)


def test_s07_a_cross_site_text_plain_post_creates_no_stack(client: TestClient) -> None:
    """S07: a page of another site POSTs a spec as text/plain (a CORS "simple" request, sent
    without a preflight): refused, and nothing is recorded."""
    answer = client.post(
        "/api/v1/versions",
        content=SPEC,
        headers={"Content-Type": "text/plain", "Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
    )
    assert answer.status_code == 403
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["type"].endswith("/cross-site")
    assert _stacks(client) == []


def test_s07_the_exact_body_of_a_text_plain_form_is_refused(client: TestClient) -> None:
    """S07: ``<form enctype="text/plain">`` with one field named by the YAML (ending in ``#``
    so the ``=`` and the line break it appends are a comment) — what the probe replayed."""
    body = SPEC + "#" + "=\r\n"
    answer = client.post(
        "/api/v1/versions",
        content=body,
        headers={
            "Content-Type": "text/plain",
            "Origin": "null",  # a form in a sandboxed frame or after a redirect
            "Sec-Fetch-Site": "cross-site",
            "Sec-Fetch-Mode": "navigate",
        },
    )
    assert answer.status_code == 403
    assert _stacks(client) == []


def test_text_plain_is_refused_even_without_origin(client: TestClient) -> None:
    """Only application/json and application/yaml bodies reach a route: a type a browser may
    send cross-site without a preflight never does, whoever sends it."""
    for media in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        answer = client.post("/api/v1/versions", content=SPEC, headers={"Content-Type": media})
        assert answer.status_code == 415, media
        assert answer.json()["type"].endswith("/unsupported-media-type")
    untyped = client.post("/api/v1/versions", content=SPEC.encode(), headers={"Content-Type": ""})
    assert untyped.status_code == 415
    assert _stacks(client) == []


@pytest.mark.parametrize("media", ["application/yaml", "application/x-yaml"])
def test_clients_that_are_not_browsers_still_write(client: TestClient, media: str) -> None:
    """The CLI's path: no Origin, no Sec-Fetch-Site, a YAML or JSON body — accepted."""
    answer = client.post(
        "/api/v1/versions", content=SPEC, headers={"Content-Type": media}, params={"apply": False}
    )
    assert answer.status_code == 201, answer.text
    assert _stacks(client) == ["secp-x"]


def test_s08_a_cross_site_bodyless_cancel_is_refused(client: TestClient, seed: Seed) -> None:
    """S08: a bodyless cross-origin POST cancelled a RUNNING command."""
    version = seed.version("secp-run")
    running = seed.command("secp-run", version=version, end=CommandStatus.RUNNING)
    for headers in (
        {"Origin": EVIL},
        {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a page on another port of this host
        {"Origin": "http://127.0.0.1:1"},  # same host name, another origin
    ):
        answer = client.post(f"/api/v1/commands/{running.id}/cancel", headers=headers)
        assert answer.status_code == 403, headers
    command = client.get(f"/api/v1/commands/{running.id}").json()
    assert command["status"] == "RUNNING"


def test_s09_cross_site_json_apply_and_delete_are_refused(client: TestClient, seed: Seed) -> None:
    """S09 held by luck (a preflight that answers 405); now the origin check refuses them."""
    seed.version("secp-a")
    apply = client.post(
        "/api/v1/stacks/secp-a/apply",
        json={"version": 1},
        headers={"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
    )
    delete = client.delete("/api/v1/stacks/secp-a", headers={"Origin": EVIL})
    assert (apply.status_code, delete.status_code) == (403, 403)
    assert client.get("/api/v1/commands").json()["items"] == []


def test_the_dashboard_writes_with_its_token(client: TestClient, seed: Seed) -> None:
    """A browser's write from Kedge's own page carries the page's CSRF token; the same write
    without it (or with a wrong one) is refused."""
    seed.version("secp-a")
    same_origin = {"Origin": LOCAL, "Sec-Fetch-Site": "same-origin"}
    path, body = "/api/v1/stacks/secp-a/apply", {"version": 1}
    missing = client.post(path, json=body, headers=same_origin)
    wrong = client.post(path, json=body, headers=same_origin | {"X-Kedge-CSRF": "0" * 64})
    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert missing.json()["type"].endswith("/csrf")
    good = client.post(path, json=body, headers=same_origin | {"X-Kedge-CSRF": _token(client)})
    assert good.status_code == 202, good.text


def test_the_dashboard_script_sends_the_token() -> None:
    """The buttons' fetch in the served script sends the token read from the page."""
    from kedge.api import dashboard

    script = (dashboard._HERE / "static" / "kedge.js").read_text()
    assert 'meta[name="kedge-csrf"]' in script
    assert '"X-Kedge-CSRF": csrf' in script


def test_s10_no_cross_origin_reads_are_granted(client: TestClient, seed: Seed) -> None:
    """S10: no ``Access-Control-Allow-*`` on any answer, and no preflight succeeds."""
    seed.version("secp-a")
    read = client.get("/api/v1/stacks", headers={"Origin": EVIL})
    preflight = client.options(
        "/api/v1/versions",
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
    )
    for answer in (read, preflight):
        assert not [h for h in answer.headers if h.lower().startswith("access-control-")]
    assert preflight.status_code >= 400


def test_s11_an_unknown_host_is_refused(store: SqliteStore, seed: Seed) -> None:
    """S11: a DNS-rebinding page reaches the server as ``Host: attacker.example``: nothing
    is answered but 421, reads included."""
    seed.version("secp-a")
    with TestClient(create_app(store, None), base_url="http://attacker.example:8080") as client:
        for path in ("/api/v1/stacks", "/api/v1/stacks/secp-a/versions/1", "/", "/healthz"):
            answer = client.get(path)
            assert answer.status_code == 421, path
            assert answer.headers["content-type"] == PROBLEM
            assert set(answer.json()) <= {"type", "title", "status", "detail", "instance"}
            assert "busybox" not in answer.text  # nothing of the stack's data
        assert client.post("/api/v1/versions", content=SPEC).status_code == 421


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8080", "localhost:8080", "LOCALHOST", "[::1]:8080", "127.0.0.2"]
)
def test_loopback_names_are_answered(store: SqliteStore, host: str) -> None:
    with TestClient(create_app(store, None), base_url=LOCAL) as client:
        assert client.get("/healthz", headers={"Host": host}).status_code == 200


def test_allowed_hosts_are_answered(store: SqliteStore) -> None:
    """``kedge serve --allowed-host kedge.corp.example --allowed-host '*.lab.example'``."""
    from kedge.api.edge import EdgeSettings

    limits = EdgeSettings.for_listener(
        "10.0.0.5", ["kedge.corp.example", "*.lab.example"], max_body=1000
    )
    app = create_app(store, None, limits=limits)
    with TestClient(app, base_url=LOCAL) as client:
        for host, status in [
            ("kedge.corp.example", 200),
            ("KEDGE.corp.example.:443", 200),
            ("a.lab.example", 200),
            ("10.0.0.5:8080", 200),  # the address it listens on
            ("lab.example", 421),
            ("evil-lab.example", 421),
            ("kedge.corp.example.evil.example", 421),
            ("", 421),
        ]:
            assert client.get("/healthz", headers={"Host": host}).status_code == status, host
    wildcard = EdgeSettings.for_listener("0.0.0.0")
    assert not wildcard.answers_to("0.0.0.0")
    assert not wildcard.answers_to("192.168.1.20:8080")


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self.styles: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        self.handlers += [f"{tag} {name}" for name in names if name.startswith("on")]
        self.styles += [tag for name in names if name == "style"]
        self._in_script = tag == "script"
        if tag == "script" and not names.get("src"):
            self.inline.append("<script> without src")
        if tag == "a" and (names.get("href") or "").lower().startswith("javascript:"):
            self.handlers.append("a href=javascript:")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data.strip()[:80])


def test_s12_every_answer_has_the_security_headers(client: TestClient, seed: Seed) -> None:
    """S12: the pages could be framed and had no CSP. Every answer now carries a CSP that
    allows only Kedge's own scripts and no framing, nosniff and a referrer policy."""
    version = seed.version("secp-a")
    seed.command("secp-a", version=version, lines=1)
    paths = [
        "/",
        "/stacks/secp-a",
        "/ui/stacks",
        "/ui/stacks/secp-a",
        "/ui/commands/1",
        "/ui/stacks/secp-a/diff?a=1&b=1",
        "/docs",
        "/static/kedge.js",
        "/api/v1/stacks",
        "/api/v1/stacks/nobody",  # a problem
        "/openapi.json",
        "/healthz",
    ]
    for path in paths:
        answer = client.get(path)
        assert answer.status_code < 500, path
        csp = answer.headers.get("content-security-policy", "")
        directives = dict([*d.strip().split(" ", 1), ""][:2] for d in csp.split(";") if d.strip())
        assert directives.get("script-src") == "'self'", (path, csp)
        assert directives.get("frame-ancestors") == "'none'", (path, csp)
        assert "unsafe-inline" not in directives.get("script-src", "")
        assert answer.headers.get("x-frame-options") == "DENY", path
        assert answer.headers.get("x-content-type-options") == "nosniff", path
        assert answer.headers.get("referrer-policy") == "no-referrer", path


def test_s12_pages_hold_no_inline_script(client: TestClient, seed: Seed) -> None:
    """The CSP forbids inline scripts, so the pages must have none (nor inline handlers or
    styles): every script is a file Kedge serves."""
    version = seed.version("secp-a")
    seed.command("secp-a", version=version, end=CommandStatus.RUNNING)
    for path in ("/", "/stacks/secp-a", "/ui/stacks/secp-a", "/ui/commands/1", "/docs"):
        found = _Scripts()
        found.feed(client.get(path).text)
        assert found.inline == [], path
        assert found.handlers == [], path
        assert found.styles == [], path
    for script in ("/static/kedge.js", "/static/docs.js", "/docs/static/swagger-ui-bundle.js"):
        served = client.get(script)
        assert served.status_code == 200, script
        assert "javascript" in served.headers["content-type"]
