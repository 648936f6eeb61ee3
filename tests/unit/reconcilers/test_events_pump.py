"""The Docker events pump (``reconcilers.events``) with a fake stream, for what a real daemon
cannot do on demand: a stream that ends and is replayed ``since`` the last second, a daemon
that refuses to answer; every subscriber sees each event once, and hears of the loss."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kedge import errors
from kedge.reconcilers import events


def _event(nanos: int, action: str, cid: str = "c1") -> dict[str, Any]:
    return {
        "Type": "container",
        "Action": action,
        "time": nanos // 1_000_000_000,
        "timeNano": nanos,
        "Actor": {"ID": cid, "Attributes": {"kedge.managed": "true", "kedge.stack": "shop"}},
    }


class _Stream:
    def __init__(self, items: list[dict[str, Any]], *, block: bool) -> None:
        self._items, self._block, self._closed = items, block, threading.Event()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield from self._items
        if self._block:
            self._closed.wait()

    def close(self) -> None:
        self._closed.set()


class Replaying:
    """First a stream of two events that ends; then a refusal; then the replay since the
    last event's second (both again, and a new one), held open."""

    SECOND = 1_700_000_000 * 1_000_000_000

    def __init__(self) -> None:
        self.sinces: list[float | None] = []
        self.first = [_event(self.SECOND + 1, "start"), _event(self.SECOND + 5, "die")]
        self.later = _event(self.SECOND + 9, "destroy")

    def events(
        self, filters: Mapping[str, Sequence[str]], *, since: float | None = None
    ) -> _Stream:
        self.sinces.append(since)
        if len(self.sinces) == 1:
            return _Stream(self.first, block=False)
        if len(self.sinces) == 2:
            raise errors.EngineUnavailable("daemon restarting")
        return _Stream([*self.first, self.later], block=True)


def test_a_lost_stream_is_replayed_once_to_every_subscriber() -> None:
    engine = Replaying()
    pump = events.DockerEvents(engine, backoff_cap=0.05, since=123.0)
    seen: dict[str, list[str]] = {"a": [], "b": []}
    lost: list[str] = []
    back = threading.Event()
    pump.subscribe(lambda e: seen["a"].append(e["Action"]))
    pump.subscribe(
        lambda e: seen["b"].append(e["Action"]),
        on_lost=lambda error: lost.append(type(error).__name__),
        on_reopened=back.set,
    )
    pump.start()
    try:
        assert back.wait(10)
        for _ in range(100):
            if len(seen["b"]) == 3:
                break
            threading.Event().wait(0.05)
    finally:
        pump.close()
    assert seen["a"] == seen["b"] == ["start", "die", "destroy"]  # the replay's twins dropped
    assert lost == ["NoneType", "EngineUnavailable"]  # the end, then the refusal
    assert engine.sinces == [123.0, 1_700_000_000, 1_700_000_000]


def test_a_closed_subscription_hears_nothing_more_and_serving_finds_the_shared_pump() -> None:
    engine = Replaying()
    pump = events.DockerEvents(engine, backoff_cap=0.05)
    heard: list[str] = []
    subscription = pump.subscribe(lambda e: heard.append(e["Action"]))
    subscription.close()
    assert events.serving(engine) is None
    pump.start()
    try:
        assert events.serving(engine) is pump
    finally:
        pump.close()
    assert events.serving(engine) is None
    assert heard == []
    own = events.DockerEvents(engine, filters={"type": ["container"]}).start()
    try:
        assert events.serving(engine) is None  # one stack's pump is not for others
    finally:
        own.close()
