"""Redaction (``specs.redaction``): a secret value planted through every path — a variable,
an env file, a secret, a config (file and inline content) and an invalid field — is found in
no API answer, no error, no log line, no event, no metric and no dashboard page, and the
store keeps it only where a pass needs it.

Rows of the probe (shared/reports/security-2026-12-07.md): K02, K03 (masked in answers),
K04 (an invalid field's value echoed into errors, logs, events and the database).

Where the store keeps it (DESIGN.md, *Trust boundary*): the ``document`` of a version, in
``environment`` values and inline config ``content``, because a pass creates containers
from them. A secret or config read from a file or a variable is kept as a salted digest.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import structlog
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from kedge.api import feeds
from kedge.api.app import create_app
from kedge.controller.folder_source import FolderSource
from kedge.observability.hub import EventHub
from kedge.observability.metrics import Metrics
from kedge.store import SqliteStore
from tests.security.conftest import LOCAL, write_settled

PLANTED = "pl4nt3d-s3cr3t-v4lue"

GOOD = """\
name: shop
services:
  app:
    image: busybox:1
    env_file: [app.env]
    environment:
      FROM_VARIABLE: "${PLANTED_VAR}"
      REV: "{rev}"
    secrets: [s]
    configs: [c, inline]
secrets:
  s:
    environment: PLANTED_VAR
configs:
  c:
    file: ./c.txt
  inline:
    content: "${PLANTED_VAR}"
"""

INVALID = """\
name: broken
services:
  app:
    image: busybox:1
    mem_limit: "${PLANTED_VAR}"
"""


def _hits(database: Path) -> set[tuple[str, str]]:
    """Every (table, column) of the SQLite file whose text holds the planted value."""
    found: set[tuple[str, str]] = set()
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA wal_checkpoint(FULL)")
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for column in [r[1] for r in db.execute(f"PRAGMA table_info('{table}')")]:
                query = f"SELECT count(*) FROM '{table}' WHERE instr(CAST(\"{column}\" AS TEXT), ?)"
                if db.execute(query, [PLANTED]).fetchone()[0]:
                    found.add((table, column))
    return found


def test_a_planted_secret_is_found_nowhere_it_should_not_be(
    tmp_path: Path, folder: Path, store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANTED_VAR", PLANTED)
    (folder / "app.env").write_text(f"FROM_ENV_FILE={PLANTED}\n")
    (folder / "c.txt").write_text(PLANTED + "\n")
    hub = EventHub()
    published = feeds.publishing(store, hub)
    registry = CollectorRegistry()
    source = FolderSource(folder, store=published, metrics=Metrics(registry), wake=lambda: None)
    write_settled(folder / "shop.yaml", GOOD.replace("{rev}", "1"))
    write_settled(folder / "broken.yaml", INVALID)
    with structlog.testing.capture_logs() as logs:
        first = source.sync()
        write_settled(folder / "shop.yaml", GOOD.replace("{rev}", "2"))
        second = source.sync()
    assert first.applied == {"shop": 1}
    assert second.applied == {"shop": 2}
    assert "invalid size" in first.errors["broken"]  # the error is there, the value is not
    # the pass needs the values: they are in the stored version
    stored = store.versions.get("shop", 1).document["services"]["app"]["environment"]
    assert stored["FROM_VARIABLE"] == PLANTED
    assert stored["FROM_ENV_FILE"] == PLANTED

    client = TestClient(create_app(published, None, registry=registry), base_url=LOCAL)
    client.app.state.events = hub  # type: ignore[attr-defined]
    pages = {
        path: client.get(path)
        for path in (
            "/api/v1/stacks",
            "/api/v1/stacks/shop",
            "/api/v1/stacks/broken",
            "/api/v1/stacks/shop/versions",
            "/api/v1/stacks/shop/versions/1",
            "/api/v1/stacks/shop/versions/2",
            "/api/v1/commands",
            "/api/v1/commands?stack=broken",
            "/metrics",
            "/",
            "/stacks/shop",
            "/stacks/broken",
            "/ui/stacks/shop/diff?a=1&b=2",
        )
    }
    for command in store.commands.list().items:
        pages[f"/api/v1/commands/{command.id}"] = client.get(f"/api/v1/commands/{command.id}")
        pages[f"/ui/commands/{command.id}"] = client.get(f"/ui/commands/{command.id}")
    for path, answer in pages.items():
        assert answer.status_code == 200, (path, answer.text)
        assert PLANTED not in answer.text, path
    shown = pages["/api/v1/stacks/shop/versions/1"].json()["spec"]
    assert shown["services"]["app"]["environment"]["FROM_VARIABLE"] == "<redacted>"
    assert shown["configs"]["inline"]["content"] == "<redacted>"
    assert (
        "<redacted>" in pages["/stacks/broken"].text
        or "<redacted>" in pages["/api/v1/stacks/broken"].text
    )

    assert logs, "the scans logged nothing"
    assert all(PLANTED not in repr(entry) for entry in logs)
    events = hub.recent(1000)
    assert events
    assert all(PLANTED not in event.model_dump_json() for event in events)

    assert _hits(tmp_path / "kedge.db") == {("versions", "document")}


def test_k02_k03_values_a_client_posts_are_masked_in_every_answer(store: SqliteStore) -> None:
    """K02/K03: ``kedge apply`` sends a spec interpolated on the client, so a value from the
    client's ``${OTHER_SECRET}`` reaches the server as a literal ``environment`` value (or
    inline config content). The version, the stack, the diff and the
    dashboard pages showed it in plain text; they mask it now. The store keeps it in the
    version's document, which a pass needs to create the container."""
    client = TestClient(create_app(store, None), base_url=LOCAL)
    spec = {
        "name": "posted",
        "services": {
            "app": {
                "image": "busybox:1",
                "environment": {"INTERP_PASS": PLANTED, "REV": "{rev}"},
            }
        },
        "configs": {"inline": {"content": PLANTED}},
    }
    for rev in ("1", "2"):
        spec["services"]["app"]["environment"]["REV"] = rev  # type: ignore[index]
        answer = client.post("/api/v1/versions", json=spec, params={"apply": False})
        assert answer.status_code == 201, answer.text
    assert PLANTED not in answer.text
    assert store.versions.get("posted", 1).document["services"]["app"]["environment"] == {
        "INTERP_PASS": PLANTED,
        "REV": "1",
    }
    for path in (
        "/api/v1/stacks/posted",
        "/api/v1/stacks/posted/versions",
        "/api/v1/stacks/posted/versions/1",
        "/api/v1/stacks/posted/versions/2",
        "/stacks/posted",
        "/ui/stacks/posted",
        "/ui/stacks/posted/diff?a=1&b=2",
    ):
        shown = client.get(path)
        assert shown.status_code == 200, (path, shown.text)
        assert PLANTED not in shown.text, path
    version = client.get("/api/v1/stacks/posted/versions/1").json()["spec"]
    assert version["services"]["app"]["environment"]["INTERP_PASS"] == "<redacted>"
    assert version["configs"]["inline"]["content"] == "<redacted>"
