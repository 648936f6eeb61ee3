"""Monitoring: what runs in each stack right now, observed from Docker, with live health.

``GET /api/v1/stacks/{name}/observed`` answers, per service and container: state, health
with the output of the last health check, uptime, restart count, image, published ports,
and the container's ``kedge.config-hash`` against the one the desired version gives. The
stack's *live* health is derived here from that observation (the controller's recorded
health is as of its last look): Healthy when every service has its replicas ready (ready
and failed by the one rule of ``planning.health``);
Progressing while an APPLY or ROLLBACK is under way and nothing failed; Missing when
nothing runs; Degraded otherwise (a replica missing, unhealthy, stopped or still starting).
``GET /api/v1/observed`` gives every stack's live health from one container list call.

Containers are found through Kedge's labels (``reconcilers.observe``) and inspected once
each (``Engine.inspect_container``); the desired config hashes come from the store's
version and the pure ``specs.digests.config_hash``. When Docker is not asked or does not
answer the answer says so (``observed: false``) instead of failing.
Callers: ``api.app``; the dashboard (``api.dashboard``).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from kedge import errors
from kedge.api import observing, problems
from kedge.api.deps import Engine, ServicesDep
from kedge.api.stacks import StackName
from kedge.planning.health import Health, judge, run_of
from kedge.planning.observed import ObservedContainer
from kedge.reconcilers import observe
from kedge.reconcilers.health import run_of_inspected
from kedge.specs import digests, labels
from kedge.specs.commands import ACTIVE_STATUSES, Command, CommandType
from kedge.store.protocol import Store
from kedge.store.records import StackStatus

__all__ = [
    "LiveHealth",
    "StackObserved",
    "all_stacks",
    "observe_all",
    "observe_stack_detail",
    "router",
]

router = APIRouter(tags=["monitoring"])

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_MOVING = frozenset({CommandType.APPLY, CommandType.ROLLBACK, CommandType.DEPLOY})


class PortView(BaseModel):
    model_config = _FROZEN

    container: str  # "80/tcp"
    host_ip: str = ""
    host_port: str = ""


class ContainerDetail(BaseModel):
    """One container as Docker has it now."""

    model_config = _FROZEN

    name: str
    id: str
    service: str
    number: int
    version: int | None = None
    state: str
    exit_code: int | None = None
    health: str  # none, starting, healthy, unhealthy
    health_output: str | None = None  # the output of the last health check
    health_exit_code: int | None = None
    failing_streak: int = 0
    started_at: datetime | None = None
    uptime_seconds: float | None = None
    restart_count: int = 0
    image: str = ""
    image_id: str = ""
    ports: list[PortView] = Field(default_factory=list)
    config_hash: str = ""
    desired_config_hash: str | None = None
    is_current: bool  # its config hash is the desired one
    is_ready: bool


class ServiceDetail(BaseModel):
    model_config = _FROZEN

    name: str
    desired: int
    ready: int
    health: str
    desired_config_hash: str | None = None
    containers: list[ContainerDetail]


class StackObserved(BaseModel):
    """A stack's containers in detail and its live health."""

    model_config = _FROZEN

    stack: str
    health: str
    desired_version: int | None = None
    observed: bool
    error: str | None = None
    observed_at: datetime
    services: list[ServiceDetail] = Field(default_factory=list)


class LiveHealth(BaseModel):
    """One stack's live health and ready containers, from one list call."""

    model_config = _FROZEN

    stack: str
    health: str
    ready: int
    desired: int
    containers: int


class Desired(BaseModel):
    """What the desired version says of each service: replicas, restart, config hash."""

    model_config = _FROZEN

    version: int | None = None
    replicas: dict[str, int] = Field(default_factory=dict)
    restarts: dict[str, str] = Field(default_factory=dict)
    hashes: dict[str, str] = Field(default_factory=dict)


def desired_of(
    store: Store, stack: str, *, status: StackStatus | None = None, hashes: bool = False
) -> Desired:
    """The stack's desired version (the recorded one, else its newest) as ``Desired``."""
    status = status or store.stacks.get(stack)
    number = status.desired_version or status.applied_version
    version = store.versions.get(stack, number) if number else store.versions.latest(stack)
    if version is None:
        return Desired()
    services: dict[str, Any] = version.document.get("services") or {}
    replicas = observing.desired_replicas(version.document)
    found = {}
    if hashes:
        spec = version.spec()
        found = {name: digests.config_hash(spec, name) for name in sorted(services)}
    return Desired(
        version=version.number,
        replicas=replicas,
        restarts=observing.desired_restarts(version.document),
        hashes=found,
    )


def derive_live_health(
    containers: list[ObservedContainer], desired: Desired, *, moving: bool
) -> tuple[str, int, int]:
    """(health, ready, desired replicas) of a stack from its containers (see the docstring)."""
    ready_by_service: dict[str, int] = {}
    failed = False
    for c in containers:
        verdict = judge(run_of(c, restart=desired.restarts.get(c.service, "no")))
        if verdict.is_done:
            ready_by_service[c.service] = ready_by_service.get(c.service, 0) + 1
        failed = failed or verdict.is_failed
    want = sum(desired.replicas.values())
    if not containers:
        health = Health.MISSING if want else Health.HEALTHY
    elif all(ready_by_service.get(s, 0) >= n for s, n in desired.replicas.items()):
        health = Health.HEALTHY
    elif moving and not failed:
        health = Health.PROGRESSING
    else:
        health = Health.DEGRADED
    return health.value, sum(ready_by_service.values()), want


def is_moving(commands: list[Command]) -> bool:
    """Whether an APPLY or ROLLBACK of the stack is pending or running."""
    return any(c.type in _MOVING and c.status in ACTIVE_STATUSES for c in commands)


def observe_all(
    engine: Engine | None, store: Store, stacks: list[StackStatus]
) -> dict[str, LiveHealth]:
    """Live health of ``stacks`` from one container list call; empty when Docker is not
    asked or does not answer."""
    if engine is None:
        return {}
    try:
        summaries = engine.list_containers({"label": labels.managed_filter()})
    except errors.EngineError:
        return {}
    by_stack: dict[str, list[ObservedContainer]] = {}
    for container in filter(None, map(observe.parse_container, summaries)):
        by_stack.setdefault(container.stack, []).append(container)
    latest = store.commands.latest([s.stack for s in stacks])
    found = {}
    for status in stacks:
        stack = status.stack
        desired = desired_of(store, stack, status=status)
        last = [latest[stack]] if stack in latest else []
        mine = by_stack.get(stack, [])
        health, ready, want = derive_live_health(mine, desired, moving=is_moving(last))
        found[stack] = LiveHealth(
            stack=stack, health=health, ready=ready, desired=want, containers=len(mine)
        )
    return found


def _ports(details: dict[str, Any]) -> list[PortView]:
    ports = (details.get("NetworkSettings") or {}).get("Ports") or {}
    found = []
    for container_port, bindings in sorted(ports.items()):
        for binding in bindings or []:
            found.append(
                PortView(
                    container=container_port,
                    host_ip=str(binding.get("HostIp") or ""),
                    host_port=str(binding.get("HostPort") or ""),
                )
            )
    return found


def _container_detail(
    engine: Engine, container: ObservedContainer, desired: Desired, *, now: datetime
) -> ContainerDetail:
    details = engine.inspect_container(container.id)
    state = details.get("State") or {}
    health = state.get("Health") or {}
    last = (health.get("Log") or [None])[-1] or {}
    started = _as_time(state.get("StartedAt"))
    running = bool(state.get("Running"))
    wanted = desired.hashes.get(container.service)
    restart = desired.restarts.get(container.service, "no")
    return ContainerDetail(
        name=container.name,
        id=container.id[:12],
        service=container.service,
        number=container.number,
        version=container.version,
        state=str(state.get("Status") or container.state),
        exit_code=state.get("ExitCode") if not running else None,
        health=str(health.get("Status") or "none"),
        health_output=(str(last.get("Output") or "").strip() or None) if last else None,
        health_exit_code=last.get("ExitCode") if last else None,
        failing_streak=int(health.get("FailingStreak") or 0),
        started_at=started,
        uptime_seconds=(now - started).total_seconds() if running and started else None,
        restart_count=int(details.get("RestartCount") or 0),
        image=str((details.get("Config") or {}).get("Image") or container.image),
        image_id=str(details.get("Image") or container.image_id),
        ports=_ports(details),
        config_hash=container.config_hash,
        desired_config_hash=wanted,
        is_current=wanted is not None and wanted == container.config_hash,
        is_ready=judge(dataclasses.replace(run_of_inspected(details), restart=restart)).is_done,
    )


def _as_time(text: str | None) -> datetime | None:
    """Docker's times (nanoseconds, "Z"; year 1 for never) as aware datetimes."""
    if not text or text.startswith("0001-"):
        return None
    head, _, rest = text.partition(".")
    return datetime.fromisoformat(f"{head}.{rest.rstrip('Z')[:6] or '0'}+00:00")


def observe_stack_detail(engine: Engine | None, store: Store, stack: str) -> StackObserved:
    """Every container of ``stack`` in detail, grouped by service, with live health."""
    now = datetime.now(UTC)
    desired = desired_of(store, stack, hashes=True)
    base = {"stack": stack, "desired_version": desired.version, "observed_at": now}
    if engine is None:
        return StackObserved(**base, health="Unknown", observed=False, error="Docker not asked")
    try:
        seen = observe.observe_stack(engine, stack)
        details = [_container_detail(engine, c, desired, now=now) for c in seen.containers]
    except errors.EngineError as exc:
        return StackObserved(**base, health="Unknown", observed=False, error=str(exc))
    recent = store.commands.list(stack=stack, limit=3).items
    health, _, _ = derive_live_health(list(seen.containers), desired, moving=is_moving(recent))
    names = sorted({*desired.replicas, *(c.service for c in details)})
    services = []
    for name in names:
        mine = [c for c in details if c.service == name]
        want = desired.replicas.get(name, 0)
        ready = sum(c.is_ready for c in mine)
        services.append(
            ServiceDetail(
                name=name,
                desired=want,
                ready=ready,
                health="Healthy" if ready >= want else ("Missing" if not mine else "Degraded"),
                desired_config_hash=desired.hashes.get(name),
                containers=mine,
            )
        )
    return StackObserved(**base, health=health, observed=True, services=services)


@router.get(
    "/stacks/{name}/observed",
    response_model=StackObserved,
    responses=problems.problem_responses(404, 422),
)
def get_observed(kedge: ServicesDep, name: StackName) -> StackObserved:
    """What runs in a stack now: per container state, health and its last check's output,
    uptime, restarts, image, published ports, and config hash against the desired one."""
    return observe_stack_detail(kedge.engine, kedge.store, name)


@router.get("/observed", response_model=list[LiveHealth], responses=problems.problem_responses(422))
def list_observed(kedge: ServicesDep) -> list[LiveHealth]:
    """Every stack's live health and ready containers (one Docker call)."""
    return list(observe_all(kedge.engine, kedge.store, all_stacks(kedge.store)).values())


def all_stacks(store: Store) -> list[StackStatus]:
    found: list[StackStatus] = []
    cursor = None
    while True:
        page = store.stacks.list(limit=500, cursor=cursor)
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found
