"""Per-stack backoff, the doorbell, and which Docker events make a stack reconcile."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from kedge.controller.backoff import StackBackoff
from kedge.controller.doorbell import Doorbell
from kedge.controller.events_source import reconcile_cause


def test_failures_back_off_exponentially_capped_and_reset_on_success() -> None:
    backoff = StackBackoff(base=1.0, cap=5.0)
    delays = [backoff.failed("shop", now=100.0) for _ in range(5)]
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.delay("shop", now=102.0) == 3.0
    assert backoff.delay("other", now=102.0) == 0.0
    backoff.succeeded("shop")
    assert backoff.delay("shop", now=102.0) == 0.0


def test_repairs_in_quick_succession_wait_longer_and_a_quiet_window_resets() -> None:
    backoff = StackBackoff(base=1.0, cap=60.0, window=30.0)
    delays = []
    for t in (0.0, 1.0, 2.0, 3.0):
        delays.append(backoff.repair_delay("shop", now=t))
        backoff.repaired("shop", now=t)
    assert delays == [0, 1, 2, 4]
    assert backoff.repair_delay("shop", now=100.0) == 0.0


def test_the_doorbell_never_loses_a_ring() -> None:
    bell = Doorbell()
    seen = bell.rings
    bell.ring()  # rung between the look and the wait
    assert bell.wait(seen, timeout=5.0) == seen + 1
    woke = threading.Event()

    def waiter() -> None:
        bell.wait(bell.rings, timeout=5.0)
        woke.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    bell.ring()
    thread.join(5.0)
    assert woke.is_set()


def _event(action: str, **attributes: str) -> dict[str, Any]:
    return {"Type": "container", "Action": action, "Actor": {"Attributes": attributes}}


MANAGED = {"kedge.managed": "true", "kedge.stack": "shop"}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (_event("die", **MANAGED), ("shop", "die")),
        (_event("destroy", **MANAGED), ("shop", "destroy")),
        (_event("oom", **MANAGED), ("shop", "oom")),
        (_event("health_status: unhealthy", **MANAGED), ("shop", "unhealthy")),
        (_event("health_status: healthy", **MANAGED), None),
        (_event("start", **MANAGED), None),
        (_event("die", **{"kedge.stack": "shop"}), None),
        (_event("die", **{"kedge.managed": "true"}), None),
    ],
    ids=["die", "destroy", "oom", "unhealthy", "healthy", "start", "not-managed", "no-stack"],
)
def test_which_events_make_a_stack_reconcile(
    event: dict[str, Any], expected: tuple[str, str] | None
) -> None:
    assert reconcile_cause(event) == expected
