"""Removing a network while the daemon still counts endpoints on it ("has active endpoints").

A real daemon lags like this only now and then — after a delete of many containers on a busy
daemon (seen with 20.10 and 50 containers) — so a small fake engine plays it here. A running
container holding the network, which a real daemon gives on demand, is tested against it in
``tests/integration/test_engine.py``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from kedge import errors
from kedge.planning.actions import Action, ActionKind
from kedge.reconcilers import networks, retrying
from kedge.reconcilers.desired import Desired

ACTION = Action(
    kind=ActionKind.REMOVE_NETWORK, target="network:shop_back", cause="t", name="shop_back"
)
DESIRED = Desired("shop")


class LaggingEngine:
    """Refuses ``lag`` removals of the network, and any while an endpoint is attached."""

    def __init__(
        self,
        *,
        lag: int = 0,
        attached: dict[str, str] | None = None,
        live: frozenset[str] = frozenset(),
        frees_after: int | None = None,
    ) -> None:
        self.lag = lag
        self.frees_after = frees_after  # the daemon drops the endpoints itself after n tries
        self.attached = dict(attached or {})  # container id -> endpoint name
        self.live = live
        self.tries = 0
        self.removed = False
        self.disconnected: list[str] = []

    def remove_network(self, ref: str) -> None:
        self.tries += 1
        if self.frees_after is not None and self.tries > self.frees_after:
            self.attached.clear()
        if self.lag > 0 or self.attached:
            self.lag -= 1
            # the class the engine maps Docker's 403 to (refusals; was EngineConflict)
            raise errors.EndpointsActive(
                f"remove network {ref}: error while removing network: network {ref} id 72fc"
                " has active endpoints"
            )
        self.removed = True

    def inspect_network(self, ref: str) -> dict[str, Any]:
        return {"Containers": {c: {"Name": name} for c, name in self.attached.items()}}

    def inspect_container(self, ref: str) -> dict[str, Any]:
        if ref not in self.live:
            raise errors.EngineNotFound(f"inspect container {ref}: no such container")
        return {"State": {"Status": "running"}}

    def disconnect_network(self, ref: str, container: str, *, force: bool) -> None:
        assert force
        self.disconnected.append(container)
        del self.attached[container]


@pytest.fixture(autouse=True)
def quick_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(networks, "_SETTLE", (0.001, 0.004))


def remove(engine: LaggingEngine) -> None:
    # as the executor carries it out: each attempt is one call, and an attempt refused while
    # the daemon may still free the endpoints says when to try again (no sleep in it)
    retrying.attempt(
        lambda: networks.remove_network(engine, ACTION, desired=DESIRED)  # type: ignore[arg-type]
    )


def test_a_network_is_removed_once_the_daemon_frees_its_endpoints() -> None:
    engine = LaggingEngine(lag=12)  # past the four tries (1.5 s) that once gave up
    remove(engine)
    assert engine.removed
    assert engine.tries == 13


def test_endpoints_the_daemon_is_still_freeing_are_left_to_it() -> None:
    """No force-disconnect while the daemon may still free them (moby/libnetwork#2649)."""
    engine = LaggingEngine(attached={"c0ffee": "shop-web-1"}, frees_after=3)
    remove(engine)
    assert engine.disconnected == []
    assert engine.removed
    assert engine.tries == 4


def test_an_endpoint_kept_past_the_patience_is_disconnected_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(networks, "PATIENCE", 0.05)
    engine = LaggingEngine(attached={"c0ffee": "shop-web-1"})
    remove(engine)
    assert engine.disconnected == ["c0ffee"]
    assert engine.removed


def test_a_container_still_attached_fails_at_once_naming_it() -> None:
    engine = LaggingEngine(
        attached={"c0ffee": "intruder", "dead": "shop-web-1"}, live=frozenset({"c0ffee"})
    )
    with pytest.raises(errors.EngineConflict, match=r"active endpoints \(attached: intruder\)"):
        remove(engine)
    assert engine.tries == 1
    assert not engine.removed
    assert engine.disconnected == []  # nothing is forced while a live container holds it


def test_a_daemon_that_never_frees_the_endpoints_fails_after_the_patience(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(networks, "PATIENCE", 0.05)
    engine = LaggingEngine(lag=10_000)
    with pytest.raises(errors.EngineConflict, match="has active endpoints") as failed:
        remove(engine)
    assert "no container is attached" in str(failed.value)
    assert "restarting dockerd always does" in str(failed.value)
    assert not engine.removed
    assert 2 < engine.tries < 10_000


def test_an_attempt_does_not_wait_but_says_when_to_try_again() -> None:
    engine = LaggingEngine(lag=1)
    started = time.monotonic()
    with pytest.raises(errors.EndpointsActive) as refused:
        networks.remove_network(engine, ACTION, desired=DESIRED)  # type: ignore[arg-type]
    assert time.monotonic() - started < 0.5  # no sleep inside the action
    assert refused.value.temporary
    assert refused.value.retry_after == 0.001  # the first pause (the fixture's)
    assert refused.value.retry is not None
    refused.value.retry()
    assert engine.removed
