"""The audit trail (issue #16, Done when 4): a scripted session — an apply by a CI token, a
rollback by a user's token, a refused delete, an anonymous request turned away — read back
through ``GET /api/v1/audit`` and ``kedge get audit``, identities, verbs, stacks, outcomes and
statuses exact, newest first. Reads that succeed are not recorded; the audit route is an
admin's, and its refusal is itself recorded; no token secret, query string or body text
reaches the table or the file.

The real app over a real SQLite store (no Docker: the routes used need none); the CLI test
runs ``kedge`` against a live uvicorn server (``tests.cli.conftest.start_server``).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kedge.api.app import create_app
from kedge.cli.main import app as kedge_app
from kedge.store import audit
from kedge.store.records import AuditEntry
from kedge.store.sqlite import SqliteStore
from tests.api.conftest import Clock, Seed
from tests.cli.conftest import start_server
from tests.security.conftest import LOCAL

STACK = "shop-a"
V = "/api/v1"
#: text that a request carries only in its query string or its body: never recorded
QUERY_SECRET = "hunter2-in-the-query"
BODY_SECRET = "body-secret-xyz"
#: (identity, method, route, stack, verb, outcome, status), newest first
EXPECTED = [
    ("token:ci", "GET", V + "/audit", None, "audit", "refused", 403),
    ("anonymous", "POST", V + "/versions", None, None, "refused", 401),
    ("token:ci", "DELETE", V + "/stacks/{name}", STACK, "delete", "refused", 403),
    ("token:alice", "POST", V + "/stacks/{name}/rollback", STACK, "rollback", "allowed", 202),
    ("token:ci", "POST", V + "/stacks/{name}/apply", STACK, "apply", "allowed", 202),
]


@dataclass
class Session:
    """The store after the scripted session, the tokens' secrets by name, the commands the
    writes made."""

    store: SqliteStore
    path: Path
    secrets: dict[str, str]
    applied: int
    rolled_back: int


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _script(client: TestClient, secrets: dict[str, str]) -> tuple[int, int]:
    """The session; answers the ids of the apply's and the rollback's commands."""
    ci, alice = _bearer(secrets["ci"]), _bearer(secrets["alice"])
    applied = client.post(f"{V}/stacks/{STACK}/apply", json={"version": 2}, headers=ci)
    assert applied.status_code == 202, applied.text
    rolled = client.post(f"{V}/stacks/{STACK}/rollback", json={"to": 1}, headers=alice)
    assert rolled.status_code == 202, rolled.text
    deleted = client.delete(f"{V}/stacks/{STACK}", headers=ci)
    assert deleted.status_code == 403, deleted.text
    read = client.get(f"{V}/stacks", headers=ci)  # an allowed read: not recorded
    assert read.status_code == 200, read.text
    anonymous = client.post(
        f"{V}/versions?note={QUERY_SECRET}",
        content=f"name: {STACK}\nx-password: {BODY_SECRET}\n",
        headers={"Content-Type": "application/yaml"},
    )
    assert anonymous.status_code == 401, anonymous.text
    trail = client.get(f"{V}/audit", headers=ci)
    assert trail.status_code == 403, trail.text
    return applied.json()["command"]["id"], rolled.json()["command"]["id"]


@pytest.fixture
def session(store: SqliteStore, seed: Seed) -> Session:
    seed.version(STACK)
    seed.version(STACK, image="busybox:2")
    made = {
        name: store.tokens.create(name, role=role, stacks=stacks, lifetime=None).secret
        for name, role, stacks in [
            ("root", "admin", ("*",)),
            ("ci", "operator", ("shop-*",)),
            ("alice", "operator", ("shop-*",)),
        ]
    }
    with TestClient(create_app(store, None), base_url=LOCAL) as client:
        applied, rolled_back = _script(client, made)
    return Session(store, store.path, made, applied, rolled_back)


def _rows(client: TestClient, secret: str, **params: Any) -> list[dict[str, Any]]:
    answer = client.get(f"{V}/audit", params=params, headers=_bearer(secret))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _shape(row: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("identity", "method", "route", "stack", "verb", "outcome", "status")
    return tuple(row[k] for k in keys)


def test_the_trail_of_a_session_reads_back_exact(session: Session) -> None:
    with TestClient(create_app(session.store, None), base_url=LOCAL) as client:
        rows = _rows(client, session.secrets["root"])
    assert [_shape(r) for r in rows] == EXPECTED
    refused_trail, anonymous, delete, rollback, apply = rows
    assert (apply["command_id"], apply["version"]) == (session.applied, 2)
    assert (rollback["command_id"], rollback["version"]) == (session.rolled_back, 1)
    assert (apply["token_name"], apply["role"], apply["identity_kind"]) == (
        "ci",
        "operator",
        "token",
    )
    assert rollback["role"] == "operator"
    assert rollback["token_name"] == "alice"
    assert delete["reason"] == "token 'ci' (role operator) may not delete stack 'shop-a'"
    assert "may not audit" in refused_trail["reason"]
    assert anonymous["identity_kind"] == "anonymous"
    assert anonymous["token_name"] is None
    assert "needs a token" in anonymous["reason"]
    assert all(r["client"] == "testclient" for r in rows)
    assert all(r["reason"] is None for r in (apply, rollback))


def test_the_admins_own_reads_of_the_trail_are_not_recorded(session: Session) -> None:
    with TestClient(create_app(session.store, None), base_url=LOCAL) as client:
        first = _rows(client, session.secrets["root"])
        again = _rows(client, session.secrets["root"])
    assert first == again


def test_the_filters(session: Session) -> None:
    with TestClient(create_app(session.store, None), base_url=LOCAL) as client:
        root = session.secrets["root"]
        refused = _rows(client, root, outcome="refused")
        by_ci = _rows(client, root, identity="token:ci")
        about = _rows(client, root, stack=STACK)
        later = _rows(client, root, since="2100-01-01T00:00:00Z")
    assert [r["status"] for r in refused] == [403, 401, 403]
    assert [(r["method"], r["outcome"]) for r in by_ci] == [
        ("GET", "refused"),
        ("DELETE", "refused"),
        ("POST", "allowed"),
    ]
    assert [r["verb"] for r in about] == ["delete", "rollback", "apply"]
    assert later == []


def test_keyset_pages_cover_the_trail_once(session: Session) -> None:
    with TestClient(create_app(session.store, None), base_url=LOCAL) as client:
        root = _bearer(session.secrets["root"])
        pages: list[dict[str, Any]] = []
        cursor: str | None = None
        while not pages or cursor:
            params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            pages.append(client.get(f"{V}/audit", params=params, headers=root).json())
            cursor = pages[-1]["next_cursor"]
        first = pages[0]["next_cursor"]
        # a cursor is its listing's and its filters': another filter's page is a 400
        other = client.get(
            f"{V}/audit", params={"cursor": first, "outcome": "refused"}, headers=root
        )
    seen = [r["id"] for page in pages for r in page["items"]]
    assert [len(page["items"]) for page in pages] == [2, 2, 1]
    assert seen == sorted(seen, reverse=True)
    assert len(set(seen)) == len(EXPECTED)
    assert other.status_code == 400, other.text


def test_no_secret_query_or_body_reaches_the_trail_or_the_file(session: Session) -> None:
    session.store.close()
    files = [p for p in session.path.parent.iterdir() if p.name.startswith(session.path.name)]
    raw = b"".join(p.read_bytes() for p in files)
    for secret in session.secrets.values():
        assert secret.encode() not in raw
    assert QUERY_SECRET.encode() not in raw
    assert BODY_SECRET.encode() not in raw
    with sqlite3.connect(session.path) as db:
        text = json.dumps(db.execute("SELECT * FROM audit").fetchall())
    assert "?" not in text
    assert "note=" not in text
    assert len(json.loads(text)) == len(EXPECTED)


def test_a_refused_write_is_refused_whatever_the_store_of_the_trail_does(
    store: SqliteStore, seed: Seed
) -> None:
    """Recording must not break a request: a trail that cannot be written (its table gone)
    is logged, and the request's answer is the route's."""
    seed.version(STACK)
    store._database.write(lambda db: db.execute("DROP TABLE audit"))
    with TestClient(create_app(store, None), base_url=LOCAL) as client:
        answer = client.post(f"{V}/stacks/{STACK}/apply", json={"version": 1})
    assert answer.status_code == 202, answer.text


def test_the_store_keeps_the_newest_rows(store: SqliteStore) -> None:
    trail = audit.SqliteAudit(store._database, clock=Clock(), keep=3)
    for n in range(5):
        trail.append(_entry(status=200 + n))
    assert trail.prune() == 2
    assert [e.status for e in trail.list().items] == [204, 203, 202]


def _entry(*, status: int) -> AuditEntry:
    return AuditEntry(
        identity="anonymous",
        identity_kind="anonymous",
        method="POST",
        route="/api/v1/versions",
        outcome="allowed",
        status=status,
    )


def test_kedge_get_audit_prints_the_trail(session: Session) -> None:
    live = start_server(session.store)
    try:
        runner = CliRunner()
        env = {"KEDGE_SERVER": live.url, "NO_COLOR": "1", "COLUMNS": "250"}
        admin = env | {"KEDGE_TOKEN": session.secrets["root"]}
        table = runner.invoke(kedge_app, ["get", "audit", "--outcome", "refused"], env=admin)
        as_json = runner.invoke(kedge_app, ["get", "audit", "-o", "json"], env=admin)
        by_ci = runner.invoke(
            kedge_app, ["get", "audit", "--identity", "token:ci", "-o", "json"], env=admin
        )
        refused = runner.invoke(
            kedge_app, ["get", "audit"], env=env | {"KEDGE_TOKEN": session.secrets["ci"]}
        )
    finally:
        live.stop()
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split()[:3] == ["ID", "AT", "IDENTITY"]
    assert [line.split()[2] for line in lines[1:]] == ["token:ci", "anonymous", "token:ci"]
    assert "refused" in lines[1]
    assert "403" in lines[1]
    assert as_json.exit_code == 0, as_json.output
    listed = json.loads(as_json.output)
    assert listed["kind"] == "AuditEntryList"
    assert [_shape(r) for r in listed["items"]] == EXPECTED
    assert by_ci.exit_code == 0, by_ci.output
    assert {r["identity"] for r in json.loads(by_ci.output)["items"]} == {"token:ci"}
    assert refused.exit_code != 0
    assert "may not audit" in refused.output
