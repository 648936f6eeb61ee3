"""Sync and health derived from an observation: tables with ids."""

from __future__ import annotations

from typing import Any

import pytest

from kedge.controller.status import (
    Health,
    Sync,
    derive_health,
    derive_sync,
    health_of_container,
    is_worse,
    worst,
)
from kedge.planning.observed import ObservedContainer, ObservedStack


def _container(service: str = "web", number: int = 1, **fields: Any) -> ObservedContainer:
    base: dict[str, Any] = {
        "id": f"{service}{number}",
        "name": f"s-{service}-{number}",
        "stack": "s",
        "service": service,
        "number": number,
        "state": "running",
    }
    return ObservedContainer(**(base | fields))


@pytest.mark.parametrize(
    ("fields", "one_shot", "expected"),
    [
        ({}, False, Health.HEALTHY),
        ({"health": "healthy"}, False, Health.HEALTHY),
        ({"health": "starting"}, False, Health.PROGRESSING),
        ({"health": "unhealthy"}, False, Health.DEGRADED),
        ({"state": "created"}, False, Health.PROGRESSING),
        ({"state": "restarting"}, False, Health.DEGRADED),
        ({"state": "exited", "exit_code": 0}, True, Health.HEALTHY),
        ({"state": "exited", "exit_code": 0}, False, Health.DEGRADED),
        ({"state": "exited", "exit_code": 1}, True, Health.DEGRADED),
        ({"state": "dead"}, False, Health.DEGRADED),
    ],
    ids=[
        "running-no-check",
        "running-healthy",
        "running-starting",
        "running-unhealthy",
        "created",
        "restarting",
        "one-shot-done",
        "exited-0-but-should-run",
        "one-shot-failed",
        "dead",
    ],
)
def test_health_of_one_container(fields: dict[str, Any], one_shot: bool, expected: Health) -> None:
    assert health_of_container(_container(**fields), one_shot=one_shot) == expected


def test_health_has_a_total_order() -> None:
    assert worst([Health.HEALTHY, Health.DEGRADED, Health.PROGRESSING]) == Health.DEGRADED
    assert worst([]) == Health.HEALTHY
    assert is_worse(Health.MISSING, Health.PROGRESSING)
    assert is_worse(Health.UNKNOWN, Health.DEGRADED)
    assert not is_worse(Health.HEALTHY, Health.HEALTHY)


@pytest.mark.parametrize(
    ("containers", "replicas", "expected"),
    [
        ((), {}, Health.HEALTHY),
        ((), {"web": 1}, Health.MISSING),
        ((_container(),), {"web": 1}, Health.HEALTHY),
        ((_container(),), {"web": 2}, Health.MISSING),
        (
            (_container(), _container("db", health="starting")),
            {"web": 1, "db": 1},
            Health.PROGRESSING,
        ),
        ((_container(state="exited", exit_code=137),), {"web": 1, "db": 1}, Health.DEGRADED),
    ],
    ids=[
        "nothing-desired",
        "all-missing",
        "one-healthy",
        "one-of-two-missing",
        "dependency-starting",
        "degraded-beats-missing",
    ],
)
def test_health_of_a_stack(
    containers: tuple[ObservedContainer, ...], replicas: dict[str, int], expected: Health
) -> None:
    observed = ObservedStack(stack="s", containers=containers)
    assert derive_health(observed, replicas=replicas) == expected


@pytest.mark.parametrize(
    ("actions", "expected"),
    [(0, Sync.SYNCED), (3, Sync.OUT_OF_SYNC), (None, Sync.UNKNOWN)],
    ids=["empty-plan", "actions-left", "no-plan"],
)
def test_sync(actions: int | None, expected: Sync) -> None:
    assert derive_sync(plan_actions=actions) == expected
