"""What runs in a stack, for the API: services and their containers, observed from Docker.

Observed state comes from ``reconcilers.observe`` (Kedge's labels only, never the store);
the desired version only says which services should exist, with how many replicas and which
restart policy, so a service with no container shows as 0 ready. Ready is the one rule of
``planning.health`` (a one-shot that exited 0 is ready). When Docker is not asked (no
engine) or does not answer, the answer says so instead of failing the whole stack page.
Callers: ``api.stacks``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kedge import errors
from kedge.api.deps import Engine
from kedge.api.models import ContainerView, ServiceView
from kedge.planning.health import is_ready
from kedge.planning.observed import ObservedContainer, ObservedStack
from kedge.reconcilers import observe
from kedge.specs import labels
from kedge.specs.versions import StackVersion

__all__ = ["Seen", "count_ready", "desired_replicas", "desired_restarts", "observe_services"]


@dataclass(frozen=True, slots=True)
class Seen:
    services: list[ServiceView] = field(default_factory=list)
    observed: bool = False
    error: str | None = None


def desired_replicas(document: dict[str, Any]) -> dict[str, int]:
    """Each service of a canonical spec and how many containers it should have."""
    found: dict[str, int] = {}
    for name, service in sorted((document.get("services") or {}).items()):
        deploy = service.get("deploy") if isinstance(service, dict) else None
        replicas = deploy.get("replicas") if isinstance(deploy, dict) else None
        found[name] = replicas if isinstance(replicas, int) else 1
    return found


def desired_restarts(document: dict[str, Any]) -> dict[str, str]:
    """Each service of a canonical spec and its restart policy ("no" when it sets none)."""
    services = document.get("services") or {}
    return {
        name: str((service.get("restart") if isinstance(service, dict) else None) or "no")
        for name, service in sorted(services.items())
    }


def _container_view(c: ObservedContainer, *, now: datetime) -> ContainerView:
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
    seen: ObservedStack, *, desired: StackVersion | None, now: datetime
) -> list[ServiceView]:
    replicas = desired_replicas(desired.document) if desired else {}
    restarts = desired_restarts(desired.document) if desired else {}
    names = sorted({*replicas, *(c.service for c in seen.containers)})
    views = []
    for name in names:
        containers = seen.containers_of(name)
        views.append(
            ServiceView(
                name=name,
                desired=replicas.get(name, 0),
                ready=sum(is_ready(c, restart=restarts.get(name, "no")) for c in containers),
                containers=[_container_view(c, now=now) for c in containers],
            )
        )
    return views


def observe_services(
    engine: Engine | None, stack: str, *, desired: StackVersion | None, now: datetime
) -> Seen:
    """The services of a stack as Docker has them, or why they could not be observed."""
    if engine is None:
        return Seen(error="Docker is not asked by this server")
    try:
        seen = observe.observe_stack(engine, stack, inspect=True)
    except errors.EngineError as exc:
        return Seen(error=str(exc))
    return Seen(services=services_of(seen, desired=desired, now=now), observed=True)


def count_ready(
    engine: Engine | None, *, restarts: Mapping[str, Mapping[str, str]] | None = None
) -> dict[str, tuple[int, int]] | None:
    """(ready, all) containers of every stack, from one list call; None when Docker is not
    asked or does not answer. ``restarts`` gives each stack's services' restart policies
    (``desired_restarts``), which decide whether an exited container has done its job."""
    restarts = restarts or {}
    if engine is None:
        return None
    try:
        summaries = engine.list_containers({"label": labels.managed_filter()})
    except errors.EngineError:
        return None
    counts: dict[str, tuple[int, int]] = {}
    for container in filter(None, map(observe.parse_container, summaries)):
        ready, total = counts.get(container.stack, (0, 0))
        restart = restarts.get(container.stack, {}).get(container.service, "no")
        counts[container.stack] = (ready + is_ready(container, restart=restart), total + 1)
    return counts
