"""Steps: how the planner collects actions into a DAG, and the teardown it shares.

``planning.planner`` and ``planning.containers`` add each action at a *step*, a sortable
tuple that says where in the pass it belongs (teardown, network and volume removal, creation
of objects, then per depends_on layer its sub-steps). ``Steps.actions()`` links them
(``planning.dag``): an action comes after the actions at earlier steps that its scope
reaches. Teardown and the stack's objects are the whole stack's (before everything that
follows); a container action or a gate is its service's, and waits only for its own service
and the services that service depends on (``Steps.follow``). Actions of one step have no
order between them: the executor runs them in parallel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kedge.planning import dag
from kedge.planning.actions import Action, ActionKind, Refusal
from kedge.planning.observed import ObservedContainer
from kedge.planning.waves import DEPENDS_ON_LABEL, find_cycle, order_layers, parse_depends_on_label

__all__ = [
    "CREATE_CONTAINERS",
    "CREATE_OBJECTS",
    "REMOVE_OBJECTS",
    "TEARDOWN_REMOVE",
    "Step",
    "Steps",
    "fields_of",
    "in_layer",
    "plan_teardown",
]

Step = tuple[int, ...]

REMOVE_OBJECTS: Step = (2,)  # networks and volumes that go, after their containers
CREATE_OBJECTS: Step = (3,)  # networks, volumes and images, before any container
# new containers whose name is free, all at once: a layer then only starts them
CREATE_CONTAINERS: Step = (3, 1)
TEARDOWN_REMOVE: Step = (1,)

# sub-steps within a depends_on layer
GATE, STOP, REMOVE, CREATE, START, SETTLE, RETIRE_STOP, RETIRE_REMOVE = range(8)


def teardown_stop(reverse_layer: int) -> Step:
    """Stops of containers that go: dependents (reverse layer 0) first."""
    return (0, reverse_layer)


def in_layer(layer: int, sub_step: int) -> Step:
    return (4, layer, sub_step)


class Steps:
    """Actions at their steps, and refusals, as the planner adds them."""

    def __init__(self) -> None:
        self._added: list[dag.Placed] = []
        self.refusals: list[Refusal] = []
        self._dependencies: Mapping[str, Iterable[str]] = {}
        self._peers: frozenset[str] = frozenset()
        self._reach: dict[str, frozenset[str]] = {}

    def follow(self, dependencies: Mapping[str, Iterable[str]], *, peers: Iterable[str]) -> None:
        """Tell the services' dependencies (names), before their actions are added; ``peers``:
        the services whose create names other containers (``DesiredService.needs_peers``)."""
        self._dependencies = dependencies
        self._peers = frozenset(peers)
        self._reach.clear()

    def add(self, step: Step, *, kind: ActionKind, target: str, cause: str, **fields: Any) -> None:
        action = Action(kind=kind, target=target, cause=cause, **fields)
        self._added.append((step, self._scope(step, action), action))

    def refuse(self, target: str, cause: str, *, clears: bool = False) -> None:
        self.refusals.append(Refusal(target=target, cause=cause, clears=clears))

    def actions(self) -> tuple[Action, ...]:
        return dag.link(self._added)

    def _scope(self, step: Step, action: Action) -> dag.Scope:
        if step < CREATE_CONTAINERS or action.service is None:
            return dag.STACK  # teardown, networks, volumes, images
        service = action.service
        # a create in its layer that names containers of services it may not depend on
        if _create_in_layer(action, step) and service in self._peers:
            return dag.Scope(owner=service, reach=None)
        return dag.Scope(owner=service, reach=self._reach_of(service, ()))

    def _reach_of(self, service: str, path: tuple[str, ...]) -> frozenset[str]:
        """The service and every service it depends on, directly or not."""
        if service not in self._reach:
            found = {service}
            for dep in self._dependencies.get(service, ()):
                if dep not in path:  # a cycle is the planner's error, not a recursion
                    found |= self._reach_of(dep, (*path, service))
            self._reach[service] = frozenset(found)
        return self._reach[service]


def plan_teardown(
    steps: Steps,
    leaving: Iterable[tuple[ObservedContainer, str]],
    *,
    anonymous_volumes: bool = False,
) -> None:
    """Stop and remove containers, dependents first, each with its cause; with
    ``anonymous_volumes``, their anonymous volumes too.

    Their services' dependencies come from the ``kedge.depends-on`` label, since a service
    that goes (or a deleted stack) has no desired state left to read them from. A cycle in
    the labels puts every service in one layer rather than blocking the teardown.
    """
    leaving = sorted(leaving, key=lambda pair: (pair[0].service, pair[0].number, pair[0].id))
    reverse = _reverse_layers(c for c, _ in leaving)
    for container, cause in leaving:
        target = f"container:{container.name}"
        if container.state in ("running", "restarting", "paused"):
            steps.add(
                teardown_stop(reverse[container.service]),
                kind=ActionKind.STOP_CONTAINER,
                target=target,
                cause=cause,
                **fields_of(container),
            )
    for container, cause in leaving:
        steps.add(
            TEARDOWN_REMOVE,
            kind=ActionKind.REMOVE_CONTAINER,
            target=f"container:{container.name}",
            cause=cause,
            anonymous_volumes=(
                tuple(name for _, name in container.anonymous) if anonymous_volumes else ()
            ),
            **fields_of(container),
        )


def _create_in_layer(action: Action, step: Step) -> bool:
    """Whether the action is a create in a depends_on layer (not with the early creates)."""
    return action.kind is ActionKind.CREATE_CONTAINER and step != CREATE_CONTAINERS


def fields_of(container: ObservedContainer) -> dict[str, Any]:
    return {
        "service": container.service,
        "number": container.number,
        "name": container.name,
        "object_id": container.id,
    }


def _reverse_layers(containers: Iterable[ObservedContainer]) -> dict[str, int]:
    labels: dict[str, str] = {}
    for container in containers:
        labels.setdefault(container.service, container.labels.get(DEPENDS_ON_LABEL, ""))
    graph = {service: parse_depends_on_label(text) for service, text in labels.items()}
    if find_cycle(graph):
        return dict.fromkeys(graph, 0)
    layers = order_layers(graph)
    return {service: len(layers) - 1 - n for n, layer in enumerate(layers) for service in layer}
