"""Monitoring: what runs in each stack right now, observed from Docker, with live health.

``GET /api/v1/stacks/{name}/observed`` answers, per service and container: state, health
with the output of the last health check, uptime, restart count, image, published ports,
and the container's ``kedge.config-hash`` against the one the desired version gives. The
stack's *live* health is that observation judged by the one rule of ``planning.health``
(``stack_health``), against the version the controller judges (``observing.judged_stack``),
so it says what the controller would record now; an APPLY, ROLLBACK or DEPLOY under way is
``moving``. ``GET /api/v1/observed`` gives every stack's live health from one container
list call.

Containers are found through Kedge's labels (``reconcilers.observe``) and inspected once
each (``Engine.inspect_container``); a container is judged by what its inspect says, the
same facts the answer shows. The desired config hashes are the desired version's
(``planning.desired.desire``). When Docker is not asked or does not answer the answer says
so (``observed: false``) instead of failing.
Callers: ``api.app``; the dashboard (``api.dashboard``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from kedge import errors
from kedge.api import observing, problems, roles
from kedge.api.deps import Engine, ServicesDep
from kedge.api.models import ContainerView
from kedge.api.stacks import StackName
from kedge.planning import health
from kedge.planning.desired import DesiredStack
from kedge.planning.health import Health
from kedge.planning.observed import (
    ContainerHealth,
    ContainerState,
    ObservedContainer,
    ObservedStack,
)
from kedge.reconcilers import listing, observe
from kedge.specs.commands import ACTIVE_STATUSES, Command, CommandType
from kedge.store.protocol import Store
from kedge.store.records import StackStatus

__all__ = [
    "LiveHealth",
    "StackObserved",
    "all_stacks",
    "is_moving",
    "live_health",
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


class ContainerDetail(ContainerView):
    """One container as Docker has it now: the stack page's view of it, and what its
    inspect adds."""

    exit_code: int | None = None
    health_output: str | None = None  # the output of the last health check
    health_exit_code: int | None = None
    failing_streak: int = 0
    image_id: str = ""
    ports: list[PortView] = Field(default_factory=list)
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


def live_health(
    stack: str,
    containers: Sequence[ObservedContainer],
    desired: DesiredStack | None,
    *,
    moving: bool,
) -> LiveHealth:
    """One stack's live health and ready containers (Unknown when its version does not load)."""
    found = ObservedStack(stack=stack, containers=tuple(containers))
    judged = desired or DesiredStack(stack)
    return LiveHealth(
        stack=stack,
        health=(
            health.stack_health(judged, found, moving=moving) if desired else Health.UNKNOWN
        ).value,
        ready=health.ready_count(containers, judged),
        desired=sum(s.replicas for s in judged.services.values()),
        containers=len(containers),
    )


def is_moving(commands: list[Command]) -> bool:
    """Whether an APPLY, ROLLBACK or DEPLOY of the stack is pending or running."""
    return any(c.type in _MOVING and c.status in ACTIVE_STATUSES for c in commands)


def observe_all(
    engine: Engine | None, store: Store, stacks: list[StackStatus]
) -> dict[str, LiveHealth]:
    """Live health of ``stacks`` from one container list call; empty when Docker is not
    asked or does not answer."""
    by_stack = observing.containers_by_stack(engine)
    if by_stack is None:
        return {}
    latest = store.commands.latest([s.stack for s in stacks])
    found = {}
    for status in stacks:
        stack = status.stack
        last = [latest[stack]] if stack in latest else []
        desired = observing.judged_stack(store, status)
        mine = by_stack.get(stack, [])
        found[stack] = live_health(stack, mine, desired, moving=is_moving(last))
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


def _inspected(container: ObservedContainer, details: dict[str, Any]) -> ObservedContainer:
    """The container as its inspect has it now: the facts the answer shows are the ones it
    is judged by."""
    state = details.get("State") or {}
    status = str(state.get("Status") or container.state)
    return container.model_copy(
        update={
            "state": cast(ContainerState, status),
            "health": cast(
                ContainerHealth, str((state.get("Health") or {}).get("Status") or "none")
            ),
            "exit_code": None if state.get("Running") else state.get("ExitCode"),
            "started_at": listing.as_time(state.get("StartedAt")),
            "restart_count": int(details.get("RestartCount") or 0),
            "image": str((details.get("Config") or {}).get("Image") or container.image),
            "image_id": str(details.get("Image") or container.image_id),
        }
    )


def _container_detail(
    container: ObservedContainer,
    details: dict[str, Any],
    *,
    judged: DesiredStack,
    wanted: DesiredStack | None,
    now: datetime,
) -> ContainerDetail:
    """``container`` (as ``_inspected`` left it) in detail: the page's view, the last health
    check, the ports and how it stands against the desired configuration."""
    checks = (details.get("State") or {}).get("Health") or {}
    last = (checks.get("Log") or [None])[-1] or {}
    service = wanted.services.get(container.service) if wanted else None
    hash_ = service.config_hash if service else None
    return ContainerDetail(
        **observing.container_view(container, now=now).model_dump(),
        exit_code=container.exit_code,
        health_output=(str(last.get("Output") or "").strip() or None) if last else None,
        health_exit_code=last.get("ExitCode") if last else None,
        failing_streak=int(checks.get("FailingStreak") or 0),
        image_id=container.image_id,
        ports=_ports(details),
        desired_config_hash=hash_,
        is_current=hash_ is not None and hash_ == container.config_hash,
        is_ready=health.is_ready(container, judged.services.get(container.service)),
    )


def observe_stack_detail(engine: Engine | None, store: Store, stack: str) -> StackObserved:
    """Every container of ``stack`` in detail, grouped by service, with live health."""
    now = datetime.now(UTC)
    status = store.stacks.get(stack)
    version = observing.wanted_version(store, status)
    base = StackObserved(
        stack=stack,
        health=Health.UNKNOWN.value,
        desired_version=version.number if version else None,
        observed=False,
        observed_at=now,
    )
    if engine is None:
        return base.model_copy(update={"error": "Docker not asked"})
    try:
        seen = observe.observe_stack(engine, stack)
        found = [(c, engine.inspect_container(c.id)) for c in seen.containers]
    except errors.EngineError as exc:
        return base.model_copy(update={"error": str(exc)})
    judged = observing.judged_version(store, status)
    desired = observing.desired_stack(judged, stack=stack)
    same = judged is not None and version is not None and judged.number == version.number
    wanted = desired if same else observing.desired_stack(version, stack=stack)
    moving = is_moving(store.commands.list(stack=stack, limit=3).items)
    containers = [_inspected(c, details) for c, details in found]
    live = live_health(stack, containers, desired, moving=moving)
    services = _service_details(
        [(c, d) for c, (_, d) in zip(containers, found, strict=True)],
        judged=desired or DesiredStack(stack),
        wanted=wanted,
        moving=moving,
        now=now,
    )
    return base.model_copy(update={"health": live.health, "observed": True, "services": services})


def _service_details(
    found: Sequence[tuple[ObservedContainer, dict[str, Any]]],
    *,
    judged: DesiredStack,
    wanted: DesiredStack | None,
    moving: bool,
    now: datetime,
) -> list[ServiceDetail]:
    """Each desired or observed service, its containers judged against ``judged``."""
    containers = [c for c, _ in found]
    details = [_container_detail(c, d, judged=judged, wanted=wanted, now=now) for c, d in found]
    return [
        _service_detail(name, containers, details, judged=judged, wanted=wanted, moving=moving)
        for name in sorted({*judged.services, *(c.service for c in containers)})
    ]


def _service_detail(
    name: str,
    containers: Sequence[ObservedContainer],
    details: Sequence[ContainerDetail],
    *,
    judged: DesiredStack,
    wanted: DesiredStack | None,
    moving: bool,
) -> ServiceDetail:
    service = judged.services.get(name)
    mine = [c for c in containers if c.service == name]
    hashed = wanted.services.get(name) if wanted else None
    return ServiceDetail(
        name=name,
        desired=service.replicas if service else 0,
        ready=health.ready_count(mine, judged),
        health=health.service_health(service, mine, moving=moving).value,
        desired_config_hash=hashed.config_hash if hashed else None,
        containers=[d for d in details if d.service == name],
    )


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
def list_observed(kedge: ServicesDep, request: Request) -> list[LiveHealth]:
    """Every stack's live health and ready containers (one Docker call)."""
    found = [s for s in all_stacks(kedge.store) if roles.shown(request, s.stack)]
    return list(observe_all(kedge.engine, kedge.store, found).values())


def all_stacks(store: Store) -> list[StackStatus]:
    found: list[StackStatus] = []
    cursor = None
    while True:
        page = store.stacks.list(limit=500, cursor=cursor)
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found
