"""The dashboard's pages and fragments rendered by the real app over a real, seeded store
(no Docker: containers then say they were not observed), its own assets, and the banner when
the events stream drops and comes back (headless Chromium)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kedge.api.app import create_app
from kedge.specs.commands import CommandReason, CommandStatus, CommandType
from kedge.store.sqlite import SqliteStore
from tests.dashboard.live import serve

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "kedge" / "api"


def _document(image: str) -> dict[str, Any]:
    return {"name": "shop", "services": {"web": {"image": image}}}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    found = SqliteStore.open(tmp_path / "kedge.db")
    yield found
    found.close()


@pytest.fixture
def seeded(store: SqliteStore) -> SqliteStore:
    for number, image in ((1, "busybox:1"), (2, "busybox:2")):
        store.versions.record("shop", _document(image), digest=f"{number}" * 64, source="shop.yaml")
        command = store.commands.enqueue(
            "shop", CommandType.APPLY, reason=CommandReason.API, version=number
        )
        held = store.commands.claim("w")
        assert held is not None
        store.commands.record_plan(
            command.id, token=held.token, plan="1  create  container:shop-web-1"
        )
        store.commands.log(command.id, token=held.token, message=f"applied v{number}")
        store.commands.finish(command.id, token=held.token, status=CommandStatus.DONE, actions=1)
    store.stacks.set_status(
        "shop", sync="Synced", health="Healthy", applied_version=2, desired_version=2
    )
    store.commands.enqueue("shop", CommandType.RECONCILE, reason=CommandReason.DRIFT, version=2)
    store.versions.record("blog", _document("nginx:1"), digest="b" * 64, source="blog.yaml")
    store.stacks.set_status("blog", last_error="blog.yaml:4: services.web.image: not a string")
    return store


@pytest.fixture
def client(seeded: SqliteStore) -> Iterator[TestClient]:
    with TestClient(create_app(seeded, None), base_url="http://127.0.0.1") as found:
        yield found


def test_the_stack_list_shows_every_stack(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert 'id="stack-shop"' in html
    assert 'id="stack-blog"' in html
    assert 'data-sync="Synced"' in html
    assert 'data-health="Healthy"' in html
    assert "#3 RECONCILE PENDING" in html
    assert "blog.yaml:4: services.web.image: not a string" in html
    assert client.get("/ui/stacks").text.count("<tr id=") == 2


def test_an_empty_store_says_how_to_start(store: SqliteStore) -> None:
    with TestClient(create_app(store, None), base_url="http://127.0.0.1") as client:
        assert "No stacks yet" in client.get("/").text


def test_the_stack_page_shows_versions_commands_and_actions(client: TestClient) -> None:
    html = client.get("/stacks/shop").text
    assert 'id="applied-version" data-version="2"' in html
    assert "Not observed: Docker not asked" in html
    assert 'data-action="apply" data-stack="shop" data-version="1"' in html
    assert 'data-confirm="Apply version 1 of shop?"' in html
    assert 'data-action="rollback"' in html
    assert 'data-action="cancel" data-command="3"' in html  # the pending RECONCILE
    assert "2 passes, 0 failed" in html
    assert html.count('class="bar-done"') == 2
    assert client.get("/ui/stacks/shop").text.count("<details") == 3


def test_a_command_shows_its_plan_and_log_lines(client: TestClient) -> None:
    html = client.get("/ui/commands/1").text
    assert "1  create  container:shop-web-1" in html
    assert "applied v1" in html


def test_two_versions_are_diffed(client: TestClient) -> None:
    html = client.get("/ui/stacks/shop/diff", params={"a": 1, "b": 2}).text
    assert '<span class="del">-    image: busybox:1</span>' in html
    assert '<span class="add">+    image: busybox:2</span>' in html
    same = client.get("/ui/stacks/shop/diff", params={"a": 2, "b": 2}).text
    assert "are the same" in same


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/stacks/nobody", 404, id="unknown-stack"),
        pytest.param("/ui/commands/999", 404, id="unknown-command"),
        pytest.param("/ui/stacks/shop/diff?a=1&b=9", 404, id="unknown-version"),
        pytest.param("/static/../app.py", 404, id="outside-static"),
        pytest.param("/static/other.js", 404, id="unknown-asset"),
    ],
)
def test_what_is_not_there_is_404(client: TestClient, path: str, status: int) -> None:
    assert client.get(path).status_code == status


@pytest.mark.parametrize(
    ("asset", "media"),
    [
        pytest.param("kedge.css", "text/css", id="css"),
        pytest.param("kedge.js", "text/javascript", id="js"),
        pytest.param("favicon.svg", "image/svg+xml", id="icon"),
    ],
)
def test_assets_are_served_by_kedge(client: TestClient, asset: str, media: str) -> None:
    response = client.get(f"/static/{asset}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)


def test_nothing_is_fetched_from_elsewhere(client: TestClient) -> None:
    sources = [p.read_text() for p in TEMPLATES.glob("templates/*.html")]
    sources += [p.read_text() for p in TEMPLATES.glob("static/*")]
    sources += [client.get("/").text, client.get("/stacks/shop").text]
    external = re.compile(
        r"""(src|href)\s*=\s*["'](https?:)?//|url\(\s*["']?(https?:)?//|@import"""
    )
    assert not [s for s in sources if external.search(s)]


def test_a_dropped_stream_shows_a_banner_until_it_is_back(
    seeded: SqliteStore, browser: Any
) -> None:
    live = serve(seeded)
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{live.url}/stacks/shop")
        page.wait_for_selector("#live-state.on")
        assert page.is_hidden("#banner")
        port = int(live.url.rsplit(":", 1)[1])
        live.stop()
        page.wait_for_selector("#banner:not([hidden])", timeout=20_000)
        assert "Live updates lost" in page.inner_text("#banner")
        live = serve(seeded, port=port)
        page.wait_for_selector("#banner.back", timeout=20_000)
        assert "back" in page.inner_text("#banner")
        page.wait_for_selector("#live-state.on")
        live.store.commands.enqueue(
            "shop", CommandType.RECONCILE, reason=CommandReason.DRIFT, version=2
        )
        page.wait_for_selector("[data-command='4']", timeout=20_000)  # live again
    finally:
        context.close()
        live.stop()
