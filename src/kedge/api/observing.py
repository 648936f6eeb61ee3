"""What runs in a stack, for the API: services and their containers, observed from Docker.

Observed state comes from ``reconcilers.observe`` (Kedge's labels only, never the store);
the desired version, reduced by ``planning.desired.desire`` (``desired_stack``), only says
which services should exist, with how many replicas and which restart policy, so a service
with no container shows as 0 ready. Ready is the one rule of ``planning.health`` (a one-shot
that exited 0 is ready). When Docker is not asked (no engine) or does not answer, the answer
says so instead of failing the whole stack page.
Callers: ``api.stacks`` (a stack's page, ``kedge status``'s ready counts), ``api.monitoring``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from kedge import errors
from kedge.api.deps import Engine
from kedge.api.models import ContainerView, ServiceView
from kedge.planning import health
from kedge.planning.desired import DesiredStack, desire
from kedge.planning.observed import ObservedContainer, ObservedStack
from kedge.reconcilers import observe
from kedge.specs import labels
from kedge.specs.versions import StackVersion
from kedge.store.protocol import Store
from kedge.store.records import StackStatus

__all__ = [
    "Seen",
    "containers_by_stack",
    "count_ready",
    "desired_stack",
    "judged_stack",
    "judged_version",
    "observe_services",
    "services_of",
    "wanted_version",
]


@dataclass(frozen=True, slots=True)
class Seen:
    services: list[ServiceView] = field(default_factory=list)
    observed: bool = False
    error: str | None = None


def judged_version(store: Store, status: StackStatus) -> StackVersion | None:
    """The version a stack's health is judged against: the applied one (the last that
    converged), else the desired one, as ``controller.assessor`` judges it; else its newest."""
    number = status.applied_version or status.desired_version
    return _version(store, status.stack, number)


def wanted_version(store: Store, status: StackStatus) -> StackVersion | None:
    """The version a stack should run: the desired one, else the applied one, else its newest."""
    return _version(store, status.stack, status.desired_version or status.applied_version)


def _version(store: Store, stack: str, number: int | None) -> StackVersion | None:
    return store.versions.get(stack, number) if number else store.versions.latest(stack)


def desired_stack(version: StackVersion | None, *, stack: str) -> DesiredStack | None:
    """What a stored version desires, as the planner and ``planning.health`` read it: nothing
    without a version; None when it no longer loads or plans (the controller says Unknown)."""
    if version is None:
        return DesiredStack(stack)
    try:  # about 0.5 ms a version: no cache, even for every stack of a page
        return desire(version.spec())
    except errors.KedgeError:
        return None


def judged_stack(store: Store, status: StackStatus) -> DesiredStack | None:
    """``desired_stack`` of ``judged_version``."""
    return desired_stack(judged_version(store, status), stack=status.stack)


def container_view(c: ObservedContainer, *, now: datetime) -> ContainerView:
    """One container as a stack's page lists it (the monitoring detail adds to it)."""
    up = c.is_running and c.started_at is not None
    return ContainerView(
        name=c.name,
        id=c.id[:12],
        service=c.service,
        number=c.number,
        state=c.state,
        health=c.health,
        version=c.version,
        image=c.image,
        started_at=c.started_at,
        uptime_seconds=(now - c.started_at).total_seconds() if up and c.started_at else None,
        restart_count=c.restart_count,
        config_hash=c.config_hash,
    )


def services_of(
    seen: ObservedStack, *, desired: DesiredStack | None, now: datetime
) -> list[ServiceView]:
    """Each desired or observed service: desired replicas, ready containers, containers."""
    wanted = desired or DesiredStack(seen.stack)
    names = sorted({*wanted.services, *(c.service for c in seen.containers)})
    views = []
    for name in names:
        containers = seen.containers_of(name)
        service = wanted.services.get(name)
        views.append(
            ServiceView(
                name=name,
                desired=service.replicas if service else 0,
                ready=health.ready_count(containers, wanted),
                containers=[container_view(c, now=now) for c in containers],
            )
        )
    return views


def observe_services(
    engine: Engine | None, stack: str, *, desired: DesiredStack | None, now: datetime
) -> Seen:
    """The services of a stack as Docker has them, or why they could not be observed."""
    if engine is None:
        return Seen(error="Docker is not asked by this server")
    try:
        seen = observe.observe_stack(engine, stack, inspect=True)
    except errors.EngineError as exc:
        return Seen(error=str(exc))
    return Seen(services=services_of(seen, desired=desired, now=now), observed=True)


def containers_by_stack(engine: Engine | None) -> dict[str, list[ObservedContainer]] | None:
    """Every stack's containers, from one list call; None when Docker is not asked or does
    not answer."""
    if engine is None:
        return None
    try:
        summaries = engine.list_containers({"label": labels.managed_filter()})
    except errors.EngineError:
        return None
    found: dict[str, list[ObservedContainer]] = {}
    for container in filter(None, map(observe.parse_container, summaries)):
        found.setdefault(container.stack, []).append(container)
    return found


def count_ready(
    engine: Engine | None, desired: Mapping[str, DesiredStack | None]
) -> dict[str, tuple[int, int]] | None:
    """(ready, all) containers of every stack, from one list call; None when Docker is not
    asked or does not answer. ``desired`` gives each stack's desired state, whose restart
    policies decide whether an exited container has done its job."""
    found = containers_by_stack(engine)
    if found is None:
        return None
    return {
        stack: (health.ready_count(mine, desired.get(stack) or DesiredStack(stack)), len(mine))
        for stack, mine in found.items()
    }
