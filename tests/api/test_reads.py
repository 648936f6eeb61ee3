"""Read routes against the real app and a real SQLite store: stacks, versions, commands, logs,
with every filter and the edges of keyset pagination."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kedge.specs.commands import CommandStatus, CommandType
from kedge.store import RetryPolicy
from tests.api.conftest import Seed

PROBLEM = "application/problem+json"


def _all_pages(client: TestClient, path: str, **params: Any) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        answer = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            return pages


def test_empty_store_lists_nothing(client: TestClient) -> None:
    assert client.get("/api/v1/stacks").json() == {"items": [], "next_cursor": None}
    assert client.get("/api/v1/commands").json() == {"items": [], "next_cursor": None}


def test_stacks_with_status_and_last_command(client: TestClient, seed: Seed) -> None:
    v1 = seed.version("shop")
    seed.command("shop", version=v1)
    seed.applied("shop", v1)
    seed.version("blog")
    body = client.get("/api/v1/stacks").json()
    assert [s["name"] for s in body["items"]] == ["blog", "shop"]
    shop = body["items"][1]
    assert shop["sync"] == "Synced"
    assert shop["health"] == "Healthy"
    assert shop["applied_version"] == 1
    assert shop["last_command"]["type"] == "APPLY"
    assert shop["last_command"]["status"] == "DONE"
    assert body["items"][0]["last_command"] is None


def test_stacks_pages_cover_every_stack_once(client: TestClient, seed: Seed) -> None:
    names = [f"s{n:02d}" for n in range(7)]
    for name in names:
        seed.version(name)
    pages = _all_pages(client, "/api/v1/stacks", limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [s["name"] for p in pages for s in p] == names


def test_last_page_exactly_full_has_no_cursor(client: TestClient, seed: Seed) -> None:
    for name in ("a1", "a2", "a3", "a4"):
        seed.version(name)
    pages = _all_pages(client, "/api/v1/stacks", limit=2)
    assert [len(p) for p in pages] == [2, 2]


def test_one_stack_in_detail(client: TestClient, seed: Seed) -> None:
    v1 = seed.version("shop")
    v2 = seed.version("shop", image="busybox:2")
    seed.command("shop", version=v1)
    seed.command("shop", version=v2, end=CommandStatus.FAILED)
    seed.applied("shop", v1, health="Degraded")
    body = client.get("/api/v1/stacks/shop").json()
    assert body["name"] == "shop"
    assert body["health"] == "Degraded"
    assert [v["number"] for v in body["versions"]] == [2, 1]
    assert [v["outcome"] for v in body["versions"]] == ["FAILED", "DONE"]
    assert [c["status"] for c in body["commands"]] == ["FAILED", "DONE"]
    assert body["observed"] is False
    assert "Docker" in body["observe_error"]


def test_versions_of_a_stack_and_one_version(client: TestClient, seed: Seed) -> None:
    for n in range(5):
        seed.version("shop", image=f"busybox:{n}", by="alice")
    pages = _all_pages(client, "/api/v1/stacks/shop/versions", limit=2)
    assert [[v["number"] for v in p] for p in pages] == [[5, 4], [3, 2], [1]]
    one = client.get("/api/v1/stacks/shop/versions/3").json()
    assert one["number"] == 3
    assert one["created_by"] == "alice"
    assert one["source"] == "/specs/shop.yaml"
    assert one["spec"]["services"]["web"]["image"] == "busybox:2"


@pytest.fixture
def queue(seed: Seed) -> dict[str, int]:
    """Commands over two stacks: shop APPLY done, shop ROLLBACK failed, blog APPLY pending,
    blog DELETE running. Returns their ids by name."""
    v1 = seed.version("shop")
    b1 = seed.version("blog")
    return {
        "shop-apply": seed.command("shop", version=v1).id,
        "shop-rollback": seed.command(
            "shop", type=CommandType.ROLLBACK, version=v1, end=CommandStatus.FAILED
        ).id,
        "blog-delete": seed.command(
            "blog", type=CommandType.DELETE, end=CommandStatus.RUNNING, lines=2
        ).id,
        "blog-apply": seed.command("blog", version=b1, end=CommandStatus.PENDING).id,
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["blog-apply", "blog-delete", "shop-rollback", "shop-apply"]),
        ({"stack": "shop"}, ["shop-rollback", "shop-apply"]),
        ({"status": "PENDING"}, ["blog-apply"]),
        ({"status": "RUNNING"}, ["blog-delete"]),
        ({"type": "APPLY"}, ["blog-apply", "shop-apply"]),
        ({"stack": "blog", "type": "DELETE"}, ["blog-delete"]),
        ({"stack": "nobody"}, []),
        ({"since": "2026-01-01T12:00:04Z"}, ["blog-apply", "blog-delete", "shop-rollback"]),
        ({"until": "2026-01-01T12:00:04Z"}, ["shop-apply"]),
    ],
    ids=str,
)
def test_commands_filters(
    client: TestClient, queue: dict[str, int], params: dict[str, str], expected: list[str]
) -> None:
    by_id = {v: k for k, v in queue.items()}
    body = client.get("/api/v1/commands", params=params).json()
    assert [by_id[c["id"]] for c in body["items"]] == expected


def test_commands_pages_with_a_filter(client: TestClient, seed: Seed) -> None:
    v1 = seed.version("shop")
    ids = [seed.command("shop", version=v1).id for _ in range(5)]
    seed.command("blog", type=CommandType.DELETE)
    pages = _all_pages(client, "/api/v1/commands", stack="shop", limit=2)
    assert [c["id"] for p in pages for c in p] == sorted(ids, reverse=True)
    assert [len(p) for p in pages] == [2, 2, 1]


def test_one_command_with_its_plan(client: TestClient, seed: Seed, store: Any) -> None:
    v1 = seed.version("shop")
    command = seed.command("shop", version=v1, end=CommandStatus.RUNNING)
    store.commands.record_plan(command.id, token=command.token, plan="+ create container:x")
    body = client.get(f"/api/v1/commands/{command.id}").json()
    assert body["plan"] == "+ create container:x"
    assert body["status"] == "RUNNING"


def test_log_lines_after_a_sequence_number(client: TestClient, seed: Seed) -> None:
    command = seed.command("shop", type=CommandType.DELETE, lines=4)
    lines = client.get(f"/api/v1/commands/{command.id}/logs").json()
    assert [line["seq"] for line in lines] == [1, 2, 3, 4]
    assert lines[0]["message"] == "line 1"
    later = client.get(f"/api/v1/commands/{command.id}/logs", params={"after": 2}).json()
    assert [line["message"] for line in later] == ["line 3", "line 4"]


def test_log_stream_of_a_finished_command_replays_and_ends(client: TestClient, seed: Seed) -> None:
    command = seed.command("shop", type=CommandType.DELETE, lines=3)
    answer = client.get(f"/api/v1/commands/{command.id}/logs/stream")
    assert answer.headers["content-type"].startswith("text/event-stream")
    text = answer.text
    assert text.count("event: line") == 3
    assert "id: 3\n" in text
    assert text.rstrip().splitlines()[-2] == "event: end"
    resumed = client.get(
        f"/api/v1/commands/{command.id}/logs/stream", headers={"Last-Event-ID": "2"}
    ).text
    assert resumed.count("event: line") == 1
    assert "line 3" in resumed


def test_healthz_and_readyz_without_docker(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["docker"]["ok"] is False


def test_openapi_document_and_docs_page(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path in (
        "/api/v1/stacks",
        "/api/v1/stacks/{name}",
        "/api/v1/stacks/{name}/versions",
        "/api/v1/stacks/{name}/versions/{number}",
        "/api/v1/commands",
        "/api/v1/commands/{command_id}",
        "/api/v1/commands/{command_id}/logs",
        "/api/v1/commands/{command_id}/logs/stream",
        "/api/v1/commands/{command_id}/cancel",
        "/api/v1/stacks/{name}/apply",
        "/api/v1/stacks/{name}/rollback",
    ):
        assert path in document["paths"], path
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/docs/static/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    script = client.get("/docs/static/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.text


def test_latest_command_of_many_stacks_in_one_query(seed: Seed, store: Any) -> None:
    v1 = seed.version("shop")
    seed.command("shop", version=v1)
    newest = seed.command("shop", type=CommandType.DELETE)
    seed.version("blog")
    assert store.commands.latest(["shop", "blog", "nobody"]) == {"shop": newest}
    assert store.commands.latest([]) == {}


def test_a_stack_shows_its_next_retry_and_its_age(
    client: TestClient, seed: Seed, store: Any, clock: Any
) -> None:
    """Issue 13: a failed pass that will be tried again shows when, which attempt, and why;
    the stack's age counts from its first version, not from its last status write."""
    v1 = seed.version("shop")
    born = clock.now
    command = seed.command("shop", version=v1, end=CommandStatus.RUNNING)
    policy = RetryPolicy(max_attempts=None, backoff=timedelta(seconds=40))
    clock.tick(5)
    retry = store.commands.finish(
        command.id,
        token=command.token,
        status=CommandStatus.FAILED,
        error="pull image shop:1: not found",
        retry=policy,
    ).retry
    store.stacks.set_status("shop", last_error="pull image shop:1: not found")
    for body in (
        client.get("/api/v1/stacks").json()["items"][0],
        client.get("/api/v1/stacks/shop").json(),
    ):
        assert body["next_retry"] == {
            "command": retry.id,
            "attempt": 2,
            "at": (clock.now + timedelta(seconds=40)).isoformat().replace("+00:00", "Z"),
            "cause": "pull image shop:1: not found",
        }
        assert datetime.fromisoformat(body["created_at"]) == born
    seed.command("shop", version=v1)  # a new command supersedes the retry
    assert client.get("/api/v1/stacks/shop").json()["next_retry"] is None
