"""Write routes against the real app and a real store: apply, rollback, delete, cancel. Each
answers with the command it created."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from kedge.specs.commands import CommandStatus, CommandType
from tests.api.conftest import Seed


def test_apply_a_version_enqueues_an_apply(client: TestClient, seed: Seed, store: Any) -> None:
    seed.version("shop")
    answer = client.post(
        "/api/v1/stacks/shop/apply", json={"version": 1}, headers={"X-Kedge-User": "alice@h"}
    )
    assert answer.status_code == 202, answer.text
    command = answer.json()["command"]
    assert (command["type"], command["status"], command["version"]) == ("APPLY", "PENDING", 1)
    assert command["reason"] == "api"
    assert command["created_by"] == "alice@h"
    assert store.commands.get(command["id"]).status is CommandStatus.PENDING
    assert answer.json()["version"]["number"] == 1


def test_rollback_to_a_named_version(client: TestClient, seed: Seed) -> None:
    seed.version("shop")
    seed.version("shop", image="busybox:2")
    answer = client.post("/api/v1/stacks/shop/rollback", json={"to": 1})
    assert answer.status_code == 202
    command = answer.json()["command"]
    assert (command["type"], command["version"]) == ("ROLLBACK", 1)


def test_rollback_to_the_previous_applied_version(client: TestClient, seed: Seed) -> None:
    v1 = seed.version("shop")
    v2 = seed.version("shop", image="busybox:2")
    v3 = seed.version("shop", image="busybox:3")
    seed.command("shop", version=v1)
    seed.command("shop", version=v3)  # v2 was never applied
    seed.applied("shop", v3)
    assert v2 == 2
    command = client.post("/api/v1/stacks/shop/rollback", json={}).json()["command"]
    assert command["version"] == v1


def test_rollback_with_nothing_earlier_is_a_conflict(client: TestClient, seed: Seed) -> None:
    v1 = seed.version("shop")
    seed.command("shop", version=v1)
    seed.applied("shop", v1)
    answer = client.post("/api/v1/stacks/shop/rollback", json={})
    assert answer.status_code == 409
    assert answer.json()["type"] == "https://kedge.dev/problems/conflict"
    assert "no earlier version" in answer.json()["detail"]


def test_delete_keeps_volumes_unless_asked(client: TestClient, seed: Seed) -> None:
    seed.version("shop")
    kept = client.delete("/api/v1/stacks/shop").json()["command"]
    assert kept["type"] == "DELETE"
    assert kept["options"] == {"remove_volumes": False}
    gone = client.delete("/api/v1/stacks/shop", params={"volumes": True}).json()["command"]
    assert gone["options"] == {"remove_volumes": True}


def test_cancel_pending_and_running(client: TestClient, seed: Seed) -> None:
    v1 = seed.version("shop")
    running = seed.command("shop", type=CommandType.DELETE, end=CommandStatus.RUNNING)
    pending = seed.command("shop", version=v1, end=CommandStatus.PENDING)
    answer = client.post(f"/api/v1/commands/{pending.id}/cancel")
    assert answer.status_code == 202
    assert answer.json()["command"]["status"] == "CANCELLED"
    asked = client.post(f"/api/v1/commands/{running.id}/cancel").json()["command"]
    assert asked["status"] == "RUNNING"
    assert asked["cancel_requested"] is True


def test_cancel_a_finished_command_is_a_conflict(client: TestClient, seed: Seed) -> None:
    done = seed.command("shop", type=CommandType.DELETE)
    answer = client.post(f"/api/v1/commands/{done.id}/cancel")
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"


def test_writes_record_the_desired_version(client: TestClient, seed: Seed, store: Any) -> None:
    seed.version("shop")
    seed.version("shop", image="busybox:2")
    client.post("/api/v1/stacks/shop/apply", json={"version": 2})
    assert store.stacks.get("shop").desired_version == 2
    client.post("/api/v1/stacks/shop/rollback", json={"to": 1})
    assert store.stacks.get("shop").desired_version == 1
    client.delete("/api/v1/stacks/shop")
    assert store.stacks.get("shop").desired_version is None


def test_wait_asks_the_pass_to_wait_until_ready(client: TestClient, seed: Seed, store: Any) -> None:
    """``--wait`` of ``kedge apply`` and ``rollback``: the command carries ``wait``, which
    makes its pass wait until what it started is ready (``planning.health``)."""
    seed.version("shop")
    seed.version("shop", image="busybox:2")
    posted = client.post(
        "/api/v1/versions",
        content="services:\n  web: {image: busybox:3}\n",
        headers={"Content-Type": "application/yaml"},
        params={"source": "/specs/shop.yaml", "wait": True},
    )
    applied = client.post("/api/v1/stacks/shop/apply", json={"version": 1, "wait": True})
    rolled = client.post("/api/v1/stacks/shop/rollback", json={"to": 1, "wait": True})
    plain = client.post("/api/v1/stacks/shop/rollback", json={"to": 1})
    for answer, wait in ((posted, True), (applied, True), (rolled, True), (plain, False)):
        assert answer.status_code in (201, 202), answer.text
        options = store.commands.get(answer.json()["command"]["id"]).options
        assert bool(options.get("wait")) is wait, options
