"""The one rule for "done" (``planning.health``): tables with ids, for every wait and status.

The ``ready`` column is what ``--wait`` of ``kedge up``, ``apply`` and ``rollback`` waits
for and what ready counts and health in status show; ``healthy`` and ``completed`` are
compose's ``service_healthy`` and ``service_completed_successfully`` gates.
"""

from __future__ import annotations

from typing import Any

import pytest

from kedge.planning.actions import WaitFor
from kedge.planning.desired import DesiredService, DesiredStack, is_one_shot
from kedge.planning.health import (
    Health,
    Readiness,
    Run,
    Verdict,
    health_of,
    is_ready,
    is_worse,
    judge,
    ready_count,
    render_failure,
    service_health,
    stack_health,
    worst,
)
from kedge.planning.observed import ObservedContainer, ObservedStack

D, W, F = Readiness.DONE, Readiness.WAITING, Readiness.FAILED

#: (run, verdict for ready, for healthy, for completed)
RULE = {
    "running-healthy": (Run("running", "healthy"), D, D, W),
    "running-no-check": (Run("running"), D, F, W),
    "running-starting": (Run("running", "starting"), W, W, W),
    "running-unhealthy": (Run("running", "unhealthy"), F, F, W),
    "one-shot-exit-0": (Run("exited", exit_code=0, restart="no"), D, F, D),
    "one-shot-exit-0-docker-empty-policy": (Run("exited", exit_code=0, restart=""), D, F, D),
    "on-failure-exit-0": (Run("exited", exit_code=0, restart="on-failure:3"), D, F, D),
    "one-shot-exit-3": (Run("exited", exit_code=3, restart="no"), F, F, F),
    "on-failure-restarting-after-exit-1": (
        Run("restarting", exit_code=1, restart="on-failure"),
        F,
        F,
        F,
    ),
    "always-exit-0": (Run("exited", exit_code=0, restart="always"), F, F, D),
    "unless-stopped-restarting-after-0": (
        Run("restarting", exit_code=0, restart="unless-stopped"),
        F,
        F,
        D,
    ),
    "dead": (Run("dead", exit_code=137), F, F, F),
    "paused": (Run("paused"), F, F, F),
    "created": (Run("created"), W, W, W),
    "removing": (Run("removing"), W, W, W),
}


@pytest.mark.parametrize("case", sorted(RULE))
@pytest.mark.parametrize("want", [WaitFor.READY, WaitFor.HEALTHY, WaitFor.COMPLETED])
def test_the_rule(case: str, want: WaitFor) -> None:
    run, *expected = RULE[case]
    column = [WaitFor.READY, WaitFor.HEALTHY, WaitFor.COMPLETED].index(want)
    assert judge(run, want).readiness is expected[column]


@pytest.mark.parametrize(
    ("run", "want", "reason"),
    [
        (Run("exited", exit_code=3), WaitFor.READY, "exited with code 3"),
        (Run("exited", exit_code=0), WaitFor.HEALTHY, "exited with code 0 before it was healthy"),
        (Run("exited", exit_code=0), WaitFor.READY, "completed (exited with code 0)"),
        (Run("running"), WaitFor.HEALTHY, "has no healthcheck, so it can never be healthy"),
        (Run("running"), WaitFor.READY, "is running (it has no healthcheck)"),
        (Run("running", "unhealthy"), WaitFor.READY, "is unhealthy"),
        (
            Run("exited", exit_code=0, restart="always"),
            WaitFor.READY,
            "exited with code 0, but restart: always starts it again; a service that runs once"
            ' and exits needs restart: "no" or on-failure',
        ),
    ],
    ids=[
        "exit-3",
        "exit-before-healthy",
        "completed",
        "no-check",
        "no-check-ready",
        "unhealthy",
        "always",
    ],
)
def test_reasons_complete_the_container_name(run: Run, want: WaitFor, reason: str) -> None:
    assert judge(run, want).reason == reason


def test_every_kind_is_started_unless_only_created() -> None:
    assert judge(Run("exited", exit_code=3), WaitFor.STARTED).is_done
    assert judge(Run("created"), WaitFor.STARTED).readiness is W


def test_a_failure_says_the_exit_code_and_the_last_lines() -> None:
    verdict = judge(Run("exited", exit_code=3))
    assert verdict.exit_code == 3
    output = [f"line {n}" for n in range(15)] + ["", "ERROR: relation missing  "]
    assert render_failure("shop-migrate-1", verdict, output=output) == (
        "shop-migrate-1 exited with code 3; its last lines:\n"
        + "\n".join(f"  | line {n}" for n in range(6, 15))
        + "\n  | ERROR: relation missing"
    )
    assert render_failure("shop-migrate-1", verdict) == "shop-migrate-1 exited with code 3"
    unhealthy = judge(Run("running", "unhealthy"))
    assert render_failure("db", unhealthy, output=["no answer"]) == (
        "db is unhealthy; its last check said:\n  | no answer"
    )


@pytest.mark.parametrize(
    ("restart", "expected"),
    [
        ("no", True),
        ("", True),
        ("on-failure", True),
        ("on-failure:5", True),
        ("always", False),
        ("unless-stopped", False),
    ],
)
def test_one_shot_restart_policies(restart: str, expected: bool) -> None:
    assert is_one_shot(restart) is expected


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


def _service(name: str = "web", *, replicas: int = 1, restart: str = "no") -> DesiredService:
    return DesiredService(name, config_hash="", image="x", replicas=replicas, restart=restart)


def _desired(replicas: dict[str, int], restarts: dict[str, str]) -> DesiredStack:
    return DesiredStack(
        "s",
        services={
            name: _service(name, replicas=n, restart=restarts.get(name, "no"))
            for name, n in replicas.items()
        },
    )


@pytest.mark.parametrize(
    ("fields", "restart", "expected"),
    [
        ({}, "no", Health.HEALTHY),
        ({"health": "healthy"}, "no", Health.HEALTHY),
        ({"health": "starting"}, "no", Health.PROGRESSING),
        ({"health": "unhealthy"}, "no", Health.DEGRADED),
        ({"state": "created"}, "no", Health.PROGRESSING),
        ({"state": "restarting"}, "always", Health.DEGRADED),
        ({"state": "exited", "exit_code": 0}, "no", Health.HEALTHY),
        ({"state": "exited", "exit_code": 0}, "on-failure", Health.HEALTHY),
        ({"state": "exited", "exit_code": 0}, "always", Health.DEGRADED),
        ({"state": "exited", "exit_code": 1}, "no", Health.DEGRADED),
        ({"state": "dead"}, "no", Health.DEGRADED),
    ],
    ids=[
        "running-no-check",
        "running-healthy",
        "running-starting",
        "running-unhealthy",
        "created",
        "restarting",
        "one-shot-done",
        "on-failure-done",
        "exited-0-but-should-run",
        "one-shot-failed",
        "dead",
    ],
)
def test_health_and_readiness_of_one_container(
    fields: dict[str, Any], restart: str, expected: Health
) -> None:
    container = _container(**fields)
    assert health_of(container, _service(restart=restart)) == expected
    assert is_ready(container, _service(restart=restart)) is (expected is Health.HEALTHY)


def test_a_container_of_a_service_not_desired_is_judged_as_restart_no() -> None:
    done = _container("old", state="exited", exit_code=0)
    assert health_of(done, None) is Health.HEALTHY
    assert ready_count([done, _container(health="starting")], DesiredStack("s")) == 1


def test_health_has_a_total_order() -> None:
    assert worst([Health.HEALTHY, Health.DEGRADED, Health.PROGRESSING]) == Health.DEGRADED
    assert worst([]) == Health.HEALTHY
    assert is_worse(Health.MISSING, Health.PROGRESSING)
    assert is_worse(Health.UNKNOWN, Health.DEGRADED)
    assert not is_worse(Health.HEALTHY, Health.HEALTHY)
    assert Verdict(F, "x").health is Health.DEGRADED


@pytest.mark.parametrize(
    ("containers", "replicas", "restarts", "expected"),
    [
        ((), {}, {}, Health.HEALTHY),
        ((), {"web": 1}, {}, Health.MISSING),
        ((_container(),), {"web": 1}, {}, Health.HEALTHY),
        ((_container(),), {"web": 2}, {}, Health.MISSING),
        (
            (_container(), _container("db", health="starting")),
            {"web": 1, "db": 1},
            {},
            Health.PROGRESSING,
        ),
        (
            (_container(state="exited", exit_code=137),),
            {"web": 1, "db": 1},
            {},
            Health.DEGRADED,
        ),
        (
            (_container(), _container("migrate", state="exited", exit_code=0)),
            {"web": 1, "migrate": 1},
            {"migrate": "no"},
            Health.HEALTHY,
        ),
        (
            (_container(), _container("migrate", state="exited", exit_code=0)),
            {"web": 1, "migrate": 1},
            {"migrate": "always"},
            Health.DEGRADED,
        ),
    ],
    ids=[
        "nothing-desired",
        "all-missing",
        "one-healthy",
        "one-of-two-missing",
        "dependency-starting",
        "degraded-beats-missing",
        "one-shot-completed",
        "exited-0-under-always",
    ],
)
def test_health_of_a_stack(
    containers: tuple[ObservedContainer, ...],
    replicas: dict[str, int],
    restarts: dict[str, str],
    expected: Health,
) -> None:
    observed = ObservedStack(stack="s", containers=containers)
    assert stack_health(_desired(replicas, restarts), observed) == expected


def test_while_an_apply_is_under_way_a_missing_replica_is_progressing() -> None:
    observed = ObservedStack(stack="s", containers=(_container(),))
    desired = _desired({"web": 2, "db": 1}, {})
    assert stack_health(desired, observed) is Health.MISSING
    assert stack_health(desired, observed, moving=True) is Health.PROGRESSING
    failed = ObservedStack(stack="s", containers=(_container(state="dead"),))
    assert stack_health(desired, failed, moving=True) is Health.DEGRADED


def test_a_service_not_desired_counts_for_its_own_health_only() -> None:
    orphan = _container("old", health="unhealthy")
    assert service_health(None, [orphan]) is Health.DEGRADED
    assert service_health(None, []) is Health.HEALTHY
    observed = ObservedStack(stack="s", containers=(_container(), orphan))
    assert stack_health(_desired({"web": 1}, {}), observed) is Health.HEALTHY
