"""Status: a stack's sync and health, derived from an observation and a plan (issue 5).

Sync says whether what runs is what is desired: ``Synced`` when the plan is empty,
``OutOfSync`` when it is not, ``Unknown`` when no plan could be made. Health says how what
runs is doing, per container and combined over the stack. As in gitops-engine, health
statuses have a total order from best to worst, so combining is taking the worst one:
``Healthy < Progressing < Missing < Degraded < Unknown``.

Pure functions; callers: ``controller.assessor`` (after each pass and on each resync).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from kedge.planning.observed import ObservedContainer, ObservedStack

__all__ = [
    "HEALTH_ORDER",
    "Health",
    "Sync",
    "derive_health",
    "derive_sync",
    "health_of_container",
    "is_worse",
    "worst",
]


class Sync(StrEnum):
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


class Health(StrEnum):
    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    MISSING = "Missing"
    DEGRADED = "Degraded"
    UNKNOWN = "Unknown"


#: best first; a status later in the tuple is worse
HEALTH_ORDER: tuple[Health, ...] = (
    Health.HEALTHY,
    Health.PROGRESSING,
    Health.MISSING,
    Health.DEGRADED,
    Health.UNKNOWN,
)


def is_worse(first: Health, second: Health) -> bool:
    return HEALTH_ORDER.index(first) > HEALTH_ORDER.index(second)


def worst(healths: Iterable[Health]) -> Health:
    """The worst of ``healths``; Healthy when there are none."""
    return max(healths, key=HEALTH_ORDER.index, default=Health.HEALTHY)


def health_of_container(container: ObservedContainer, *, one_shot: bool = False) -> Health:
    """One container's health from its state and its healthcheck."""
    state, health = container.state, container.health
    if state == "running":
        return {
            "unhealthy": Health.DEGRADED,
            "starting": Health.PROGRESSING,
        }.get(health, Health.HEALTHY)
    if state == "exited" and one_shot and container.exit_code == 0:
        return Health.HEALTHY  # a one-shot container that did its job
    if state in ("created", "removing"):
        return Health.PROGRESSING
    return Health.DEGRADED  # exited, dead, restarting, paused


def derive_health(
    observed: ObservedStack,
    *,
    replicas: Mapping[str, int],
    one_shot: frozenset[str] = frozenset(),
) -> Health:
    """The stack's health: each desired service's containers, combined by ``worst``.

    ``replicas`` maps each desired service to its container count; a service with fewer
    containers than that is Missing.
    """
    healths: list[Health] = []
    for service in sorted(replicas):
        containers = observed.containers_of(service)
        if len(containers) < replicas[service]:
            healths.append(Health.MISSING)
        healths.extend(health_of_container(c, one_shot=service in one_shot) for c in containers)
    return worst(healths)


def derive_sync(*, plan_actions: int | None) -> Sync:
    """Synced when the plan has no action, OutOfSync when it has, Unknown without a plan."""
    if plan_actions is None:
        return Sync.UNKNOWN
    return Sync.SYNCED if plan_actions == 0 else Sync.OUT_OF_SYNC
