"""Posting specs: a version from YAML or JSON (validated by the spec contract, deduplicated
by digest, 409 on a version conflict), and the plan of a posted spec."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

BASE = "https://kedge.dev/problems/"
SHOP = """\
name: shop
x-kedge: {description: web shop}
services:
  web:
    image: busybox:1
    command: ["sleep", "3600"]
"""


def _post(client: TestClient, body: str | bytes, **kwargs: Any) -> Any:
    media = kwargs.pop("media", "application/yaml")
    return client.post(
        "/api/v1/versions", content=body, headers={"Content-Type": media}, params=kwargs
    )


def test_yaml_spec_becomes_a_version_and_an_apply(client: TestClient) -> None:
    answer = _post(client, SHOP, source="/specs/shop.yaml")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["created"] is True
    assert body["version"]["number"] == 1
    assert body["version"]["source"] == "/specs/shop.yaml"
    assert body["version"]["digest"].startswith("sha256:")
    assert body["command"]["type"] == "APPLY"
    assert body["command"]["version"] == 1
    spec = client.get("/api/v1/stacks/shop/versions/1").json()["spec"]
    assert spec["services"]["web"]["image"] == "busybox:1"


def test_same_spec_maps_to_the_same_version(client: TestClient) -> None:
    first = _post(client, SHOP).json()
    again = _post(client, SHOP.replace("web shop", "web shop")).json()
    assert again["created"] is False
    assert again["version"]["number"] == first["version"]["number"]
    changed = _post(client, SHOP.replace("busybox:1", "busybox:2")).json()
    assert changed["version"]["number"] == 2


def test_json_spec_is_accepted(client: TestClient) -> None:
    document = {"name": "blog", "services": {"web": {"image": "busybox:1"}}}
    answer = _post(client, json.dumps(document), media="application/json")
    assert answer.status_code == 201, answer.text
    assert answer.json()["version"]["stack"] == "blog"


def test_name_from_the_file_stem(client: TestClient) -> None:
    body = "services:\n  web:\n    image: busybox:1\n"
    answer = _post(client, body, source="/somewhere/notes.yaml")
    assert answer.json()["version"]["stack"] == "notes"


def test_version_without_apply(client: TestClient) -> None:
    answer = _post(client, SHOP, apply="false").json()
    assert answer["command"] is None
    assert client.get("/api/v1/commands").json()["items"] == []


def test_invalid_spec_is_a_422_with_locations(client: TestClient) -> None:
    broken = "name: shop\nservices:\n  web:\n    image: busybox:1\n    replics: 2\n"
    answer = _post(client, broken, source="/specs/shop.yaml")
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == BASE + "invalid-spec"
    error = problem["errors"][0]
    assert error["file"] == "/specs/shop.yaml"
    assert error["line"] == 5
    assert error["column"] is not None
    assert "replics" in error["path"] + error["message"]
    assert error["message"]


def test_yaml_syntax_error_is_a_422(client: TestClient) -> None:
    answer = _post(client, "name: shop\nservices: [\n")
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["line"] is not None


def test_declared_version_that_is_not_next_is_a_conflict(client: TestClient) -> None:
    _post(client, SHOP)
    declared = SHOP.replace("x-kedge: {description: web shop}", "x-kedge: {version: 5}")
    answer = _post(client, declared)
    assert answer.status_code == 409
    assert answer.json()["type"] == BASE + "conflict"
    assert "5" in answer.json()["detail"]


@pytest.mark.parametrize("media", ["text/html", "application/xml"], ids=str)
def test_other_media_types_are_refused(client: TestClient, media: str) -> None:
    answer = _post(client, SHOP, media=media)
    assert answer.status_code == 415
    assert answer.json()["type"] == BASE + "unsupported-media-type"


def test_too_large_spec_is_refused(client: TestClient) -> None:
    answer = _post(client, SHOP + "#" * (1 << 20))
    assert answer.status_code == 413
    assert "KEDGE_MAX_SPEC_BYTES" in answer.json()["detail"]


def test_plan_without_docker_is_unavailable(client: TestClient) -> None:
    answer = client.post("/api/v1/plan", content=SHOP, headers={"Content-Type": "application/yaml"})
    assert answer.status_code == 503
    assert answer.json()["type"] == BASE + "engine-unavailable"
