"""Every error answers application/problem+json with a stable type."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Seed

BASE = "https://kedge.dev/problems/"


@pytest.fixture
def seeded(seed: Seed) -> Seed:
    seed.version("shop")
    for name in ("a1", "a2", "a3"):
        seed.version(name)
    return seed


@pytest.mark.parametrize(
    "case",
    [
        ("GET", "/api/v1/stacks/nobody", {}, None, 404, "not-found"),
        ("GET", "/api/v1/stacks/nobody/versions", {}, None, 404, "not-found"),
        ("GET", "/api/v1/stacks/shop/versions/9", {}, None, 404, "not-found"),
        ("GET", "/api/v1/stacks/shop/versions/0", {}, None, 422, "invalid-request"),
        ("GET", "/api/v1/stacks/Bad%20Name", {}, None, 422, "invalid-request"),
        ("GET", "/api/v1/commands/999", {}, None, 404, "not-found"),
        ("GET", "/api/v1/commands/999/logs", {}, None, 404, "not-found"),
        ("GET", "/api/v1/commands/999/logs/stream", {}, None, 404, "not-found"),
        ("GET", "/api/v1/commands", {"status": "SLEEPING"}, None, 422, "invalid-request"),
        ("GET", "/api/v1/commands", {"type": "DEPLOYED"}, None, 422, "invalid-request"),
        ("GET", "/api/v1/commands", {"since": "yesterday"}, None, 422, "invalid-request"),
        ("GET", "/api/v1/commands", {"limit": 0}, None, 422, "invalid-request"),
        ("GET", "/api/v1/commands", {"limit": 1001}, None, 422, "invalid-request"),
        ("GET", "/api/v1/commands", {"cursor": "garbage!"}, None, 400, "invalid-query"),
        ("GET", "/api/v1/stacks", {"cursor": "eyJ4IjoxfQ"}, None, 400, "invalid-query"),
        ("POST", "/api/v1/stacks/shop/apply", {}, {"version": 7}, 404, "not-found"),
        ("POST", "/api/v1/stacks/shop/apply", {}, {"version": "x"}, 422, "invalid-request"),
        ("POST", "/api/v1/stacks/shop/apply", {}, {"v": 1}, 422, "invalid-request"),
        ("POST", "/api/v1/stacks/nobody/apply", {}, {"version": 1}, 404, "not-found"),
        ("POST", "/api/v1/stacks/shop/rollback", {}, {"to": 5}, 404, "not-found"),
        ("POST", "/api/v1/stacks/nobody/rollback", {}, {}, 404, "not-found"),
        ("DELETE", "/api/v1/stacks/nobody", {}, None, 404, "not-found"),
        ("POST", "/api/v1/commands/999/cancel", {}, None, 404, "not-found"),
        ("GET", "/api/v1/nothing", {}, None, 404, "not-found"),
        ("PUT", "/api/v1/stacks", {}, None, 405, "method-not-allowed"),
    ],
    ids=str,
)
def test_problem(client: TestClient, seeded: Seed, case: tuple[Any, ...]) -> None:
    method, path, params, body, status, kind = case
    answer = client.request(method, path, params=params, json=body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == BASE + kind
    assert problem["status"] == status
    assert problem["title"]


def test_cursor_of_one_listing_is_refused_by_another(client: TestClient, seeded: Seed) -> None:
    cursor = client.get("/api/v1/stacks", params={"limit": 1}).json()["next_cursor"]
    assert cursor
    answer = client.get("/api/v1/stacks/shop/versions", params={"cursor": cursor})
    assert answer.status_code == 400
    assert "cursor" in answer.json()["detail"]


def test_cursor_made_for_other_filters_is_refused(client: TestClient, seed: Seed) -> None:
    v1 = seed.version("shop")
    for _ in range(3):
        seed.command("shop", version=v1)
    cursor = client.get("/api/v1/commands", params={"stack": "shop", "limit": 1}).json()[
        "next_cursor"
    ]
    answer = client.get("/api/v1/commands", params={"stack": "blog", "cursor": cursor})
    assert answer.status_code == 400
    assert answer.json()["type"] == BASE + "invalid-query"
