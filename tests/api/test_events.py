"""The events stream, ``GET /api/v1/events``, against a live server over a real store: order,
resume with ``Last-Event-ID``, filter by stack, the gap message, and the store's writes
published as Kedge's events."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kedge.cli.client import iter_sse
from kedge.observability.hub import EventHub
from kedge.specs.commands import CommandReason, CommandStatus, CommandType
from kedge.store.sqlite import SqliteStore
from tests.dashboard.live import Live, serve


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    store = SqliteStore.open(tmp_path / "kedge.db")
    found = serve(store, hub=EventHub(capacity=50, first_id=1))
    yield found
    found.stop()
    store.close()


def read(
    live: Live, *, count: int | None = None, headers: dict[str, str] | None = None, **params: Any
) -> list[dict[str, Any]]:
    """The messages of one stream: (event, data) decoded, ``count`` of them when following."""
    found: list[dict[str, Any]] = []
    with httpx.stream(
        "GET", f"{live.url}/api/v1/events", params=params, headers=headers or {}, timeout=10
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for event, data in iter_sse(response.iter_lines()):
            if event == "keepalive":
                continue
            found.append({"event": event, **json.loads(data)})
            if count is not None and len(found) >= count:
                break
    return found


def publish(hub: EventHub, *stacks: str) -> None:
    for i, stack in enumerate(stacks):
        hub.publish("test.tick", stack=stack, message=f"tick {i}", fields={"i": i})


def test_backlog_comes_in_order_and_the_stream_ends_without_follow(live: Live) -> None:
    publish(live.hub, "a", "b", "a", "c")
    found = read(live, follow="false", backlog=10)
    assert [e["id"] for e in found] == [1, 2, 3, 4]
    assert [e["stack"] for e in found] == ["a", "b", "a", "c"]
    assert {e["event"] for e in found} == {"test.tick"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"stack": "a"}, [1, 3, 5], id="one-stack"),
        pytest.param({"stack": "nobody"}, [], id="unknown-stack"),
        pytest.param({}, [1, 2, 3, 4, 5], id="every-stack"),
        pytest.param({"backlog": 2}, [4, 5], id="last-two"),
    ],
)
def test_filter_by_stack(live: Live, params: dict[str, Any], expected: list[int]) -> None:
    publish(live.hub, "a", "b", "a", "b", "a")
    found = read(live, follow="false", **({"backlog": 100} | params))
    assert [e["id"] for e in found] == expected


@pytest.mark.parametrize(
    "how",
    [pytest.param("header", id="last-event-id-header"), pytest.param("query", id="after-query")],
)
def test_resume_after_the_last_id_seen(live: Live, how: str) -> None:
    publish(live.hub, "a", "a", "a", "a")
    seen = read(live, follow="false", backlog=2)
    last = seen[-1]["id"]
    publish(live.hub, "a", "b")
    if how == "header":
        found = read(live, follow="false", headers={"Last-Event-ID": str(last)})
    else:
        found = read(live, follow="false", after=last)
    assert [e["id"] for e in found] == [5, 6]


def test_a_lost_id_gets_a_gap_first(live: Live) -> None:
    publish(live.hub, *["a"] * 60)  # the hub keeps 50: ids 11..60
    found = read(live, follow="false", headers={"Last-Event-ID": "3"})
    assert found[0]["event"] == "gap"
    assert [e["id"] for e in found[1:]] == list(range(11, 61))
    future = read(live, follow="false", headers={"Last-Event-ID": "999"})
    assert future[0]["event"] == "gap"


def test_following_delivers_new_events_in_order_to_each_client(live: Live) -> None:
    results: dict[str, list[dict[str, Any]]] = {}

    def follow(name: str, **params: Any) -> None:
        results[name] = read(live, count=3, **params)

    readers = [
        threading.Thread(target=follow, args=("all",)),
        threading.Thread(target=follow, args=("b",), kwargs={"stack": "b"}),
    ]
    for reader in readers:
        reader.start()
    for _ in range(200):  # both streams wait for the next event: they follow from now
        if live.hub.waiting >= 2:
            break
        time.sleep(0.02)
    publish(live.hub, "b", "a", "b", "b", "a", "b")
    for reader in readers:
        reader.join(timeout=10)
    assert [e["stack"] for e in results["all"]] == ["b", "a", "b"]
    assert [e["id"] for e in results["b"]] == [1, 3, 4]


def test_store_writes_are_published_as_kedge_events(live: Live) -> None:
    store = live.store
    document = {"name": "shop", "services": {"web": {"image": "busybox:1"}}}
    store.versions.record("shop", document, digest="a" * 64, source="shop.yaml")
    store.versions.record("shop", document, digest="a" * 64, source="shop.yaml")  # the same
    command = store.commands.enqueue("shop", CommandType.APPLY, reason=CommandReason.API, version=1)
    claimed = store.commands.claim("w1")
    assert claimed is not None
    store.commands.log(
        command.id, token=claimed.token, message="create container:shop-web-1 done in 0.20 s"
    )
    store.commands.log(command.id, token=claimed.token, message="planned: 1 action")
    store.commands.finish(command.id, token=claimed.token, status=CommandStatus.DONE, actions=1)
    store.stacks.set_status("shop", sync="OutOfSync", health="Healthy", applied_version=1)
    store.stacks.set_status("shop", sync="OutOfSync", health="Healthy")  # no change: no event
    store.commands.enqueue("shop", CommandType.RECONCILE, reason=CommandReason.DRIFT, version=1)
    store.commands.enqueue(
        "shop",
        CommandType.APPLY,
        reason=CommandReason.FILE,
        options={"spec_error": "shop.yaml:3: bad"},
    )
    found = read(live, follow="false", backlog=100, stack="shop")
    assert [e["kind"] for e in found] == [
        "version.created",
        "command.queued",
        "pass.started",
        "action.done",
        "command.log",
        "pass.finished",
        "drift.seen",
        "stack.status",
        "drift.seen",
        "command.queued",
        "spec.error",
        "command.queued",
    ]
    finished = found[5]
    assert finished["fields"]["status"] == "DONE"
    assert finished["fields"]["actions"] == 1
    assert found[3]["fields"]["target"] == "container:shop-web-1"
    assert found[10]["message"] == "shop.yaml:3: bad"
