"""depends_on layers: the order in which services are touched, and the gates between them.

The planner (``planning.planner``) places its container actions by these layers: a service
comes after every service it depends on (``order_layers``), and is torn down before them
(reverse order, for delete). The layers only place actions at steps; the plan's edges link
a service to the services it depends on and to nothing else (``planning.dag``), so a layer is
no barrier: its services start as their own dependencies are ready. Before a service is
started, the plan waits on each of its dependencies with the gate compose defines for the
condition (``Dependency.wait_for``):

- ``service_started``: the dependency runs;
- ``service_healthy``: the dependency is healthy (unhealthy fails the pass);
- ``service_completed_successfully``: the dependency exited 0;
- ``required: false``: a failed gate is a warning, not a failure;
- ``restart: true``: when the plan recreates or restarts the dependency, it restarts the
  dependent too.

A cycle is a ``PlanError`` that names it (``a -> b -> a``). The ``kedge.depends-on`` label
carries a container's dependencies in compose's own format (``db:service_healthy:false``,
for ``com.docker.compose.depends_on``), so that a delete, which has no desired state, still
tears down in reverse dependency order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from kedge.errors import PlanError
from kedge.planning.actions import WaitFor

__all__ = [
    "DEPENDS_ON_LABEL",
    "Condition",
    "Dependency",
    "find_cycle",
    "order_layers",
    "parse_depends_on_label",
    "render_depends_on_label",
]

#: the container label that records its service's depends_on (compose's format)
DEPENDS_ON_LABEL = "kedge.depends-on"


class Condition(StrEnum):
    """compose's depends_on conditions."""

    STARTED = "service_started"
    HEALTHY = "service_healthy"
    COMPLETED = "service_completed_successfully"


_WAIT_FOR = {
    Condition.STARTED: WaitFor.STARTED,
    Condition.HEALTHY: WaitFor.HEALTHY,
    Condition.COMPLETED: WaitFor.COMPLETED,
}


@dataclass(frozen=True, slots=True)
class Dependency:
    """One entry of a service's depends_on."""

    service: str
    condition: Condition = Condition.STARTED
    required: bool = True
    restart: bool = False

    @property
    def wait_for(self) -> WaitFor:
        """The gate a dependent waits on before it is started."""
        return _WAIT_FOR[self.condition]


Dependencies = Mapping[str, Sequence[Dependency]]


def order_layers(dependencies: Dependencies) -> tuple[tuple[str, ...], ...]:
    """Topological layers of the services: layer 0 depends on nothing in the mapping.

    Each service sits one layer after its deepest dependency; names within a layer are
    sorted. Dependencies on services absent from the mapping are not ordered (the spec's
    validation rejects a required one; ``required: false`` may name a missing service).
    """
    cycle = find_cycle(dependencies)
    if cycle:
        raise PlanError(f"depends_on cycle: {' -> '.join(cycle)}")
    depth: dict[str, int] = {}
    for service in sorted(dependencies):
        _measure_depth(service, dependencies, depth)
    layers: dict[int, list[str]] = {}
    for service in sorted(depth):
        layers.setdefault(depth[service], []).append(service)
    return tuple(tuple(layers[d]) for d in sorted(layers))


def _measure_depth(service: str, dependencies: Dependencies, depth: dict[str, int]) -> int:
    if service not in depth:
        below = [
            _measure_depth(d.service, dependencies, depth)
            for d in dependencies[service]
            if d.service in dependencies
        ]
        depth[service] = 1 + max(below) if below else 0
    return depth[service]


def find_cycle(dependencies: Dependencies) -> tuple[str, ...]:
    """The first depends_on cycle in sorted order, as a path that ends where it starts; ()."""
    done: set[str] = set()
    for start in sorted(dependencies):
        path: list[str] = []
        cycle = _walk(start, dependencies, path, done)
        if cycle:
            return cycle
    return ()


def _walk(
    service: str, dependencies: Dependencies, path: list[str], done: set[str]
) -> tuple[str, ...]:
    if service in path:
        return (*path[path.index(service) :], service)
    if service in done or service not in dependencies:
        return ()
    path.append(service)
    for dep in sorted(dependencies[service], key=lambda d: d.service):
        cycle = _walk(dep.service, dependencies, path, done)
        if cycle:
            return cycle
    path.pop()
    done.add(service)
    return ()


def render_depends_on_label(dependencies: Iterable[Dependency]) -> str:
    """The ``kedge.depends-on`` label value: ``db:service_healthy:false,cache:…`` (sorted)."""
    entries = sorted(dependencies, key=lambda d: d.service)
    return ",".join(f"{d.service}:{d.condition.value}:{str(d.restart).lower()}" for d in entries)


def parse_depends_on_label(text: str) -> tuple[Dependency, ...]:
    """Read a ``kedge.depends-on`` label; entries that do not parse are left out."""
    found: list[Dependency] = []
    for entry in text.split(","):
        parts = entry.strip().split(":")
        if not parts[0]:
            continue
        condition = Condition.STARTED
        if len(parts) > 1 and parts[1] in Condition.__members__.values():
            condition = Condition(parts[1])
        restart = len(parts) > 2 and parts[2] == "true"
        found.append(Dependency(parts[0], condition, restart=restart))
    return tuple(found)
