"""Container rules of the planner: replicas, recreation, starts, gates, in depends_on layers.

Called by ``planning.planner`` only. ``split_replicas`` decides which observed containers
a service keeps (lowest numbers, one per number) and which go (surplus, duplicates);
``plan_layers`` then walks the depends_on layers and, per service, recreates, starts and
creates containers, with the health gates its dependencies ask for. A recreation is
stop-first (stop, remove, create, start); start-first (``x-kedge: {update: start-first}``)
renames the old container to ``<id12>_<name>`` as compose does, creates and starts the new
one, waits for it, then stops and removes the old one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kedge.errors import PlanError
from kedge.planning.actions import ActionKind, WaitFor
from kedge.planning.desired import DesiredService, DesiredStack
from kedge.planning.observed import ObservedContainer, ObservedStack
from kedge.planning.steps import (
    CREATE,
    CREATE_CONTAINERS,
    GATE,
    REMOVE,
    RETIRE_REMOVE,
    RETIRE_STOP,
    SETTLE,
    START,
    STOP,
    Steps,
    fields_of,
    in_layer,
)
from kedge.planning.waves import Condition, order_layers

__all__ = ["image_id_of", "plan_layers", "split_replicas"]

K = ActionKind
Kept = dict[str, list[ObservedContainer]]
Leaving = dict[str, tuple[ObservedContainer, str]]

_RUNNING = ("running", "restarting", "paused")
_GATED = (Condition.HEALTHY, Condition.COMPLETED)  # service_started is ordering alone


def split_replicas(desired: DesiredStack, observed: ObservedStack) -> tuple[Kept, Leaving]:
    """The containers each service keeps, and those that go (surplus, duplicates) with why."""
    kept: Kept = {}
    leaving: Leaving = {}
    for name in sorted(desired.services):
        service = desired.services[name]
        replicas = service.replicas
        unique: list[ObservedContainer] = []
        present = [c for c in observed.containers_of(name) if c.state != "removing"]
        for container in sorted(present, key=lambda c: _preference(c, service, desired.stack)):
            if any(c.number == container.number for c in unique):
                leaving[container.id] = (container, f"duplicate of replica {container.number}")
            else:
                unique.append(container)
        unique.sort(key=lambda c: (c.number, c.id))
        for container in unique[replicas:]:
            s = "" if replicas == 1 else "s"
            leaving[container.id] = (container, f"scaled down to {replicas} replica{s}")
        kept[name] = unique[:replicas]
    return kept, leaving


def _preference(
    container: ObservedContainer, service: DesiredService, stack: str
) -> tuple[int, bool, bool, bool, str]:
    """Order of the containers of one service: by number; of two with one number, the one to
    keep first (its proper name, its current config, running) — e.g. after a start-first
    update was interrupted between creating the new container and removing the old one."""
    return (
        container.number,
        container.name != service.container_name_for(stack, container.number),
        container.config_hash != service.config_hash,
        not container.is_running,
        container.id,
    )


@dataclass
class _Layer:
    """What one pass over the layers has decided so far."""

    steps: Steps
    desired: DesiredStack
    images: Mapping[str, str]
    recreated: Leaving  # containers torn down already, to be created again
    index: int = 0
    recreated_services: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)  # held by containers that stay


def plan_layers(
    steps: Steps,
    desired: DesiredStack,
    observed: ObservedStack,
    *,
    kept: Kept,
    recreated: Leaving,
) -> None:
    """Plan every desired service's containers, layer by layer of depends_on."""
    _must_resolve_dependencies(desired)
    layers = order_layers({n: s.dependencies for n, s in desired.services.items()})
    state = _Layer(steps, desired, observed.images, recreated)
    state.names = {c.name for cs in kept.values() for c in cs if c.id not in recreated}
    for index, layer in enumerate(layers):
        state.index = index
        gates: dict[tuple[str, WaitFor], list[tuple[str, bool]]] = {}
        for name in layer:
            service = desired.services[name]
            if _plan_service(state, service, kept[name]):
                for dep in service.dependencies:
                    if dep.condition in _GATED and _has_replicas(desired, dep.service):
                        gates.setdefault((dep.service, dep.wait_for), []).append(
                            (name, dep.required)
                        )
        _add_gates(state, gates)


def _must_resolve_dependencies(desired: DesiredStack) -> None:
    for name in sorted(desired.services):
        for dep in desired.services[name].dependencies:
            if dep.required and dep.service not in desired.services:
                raise PlanError(f"service {name} depends on {dep.service}, which is not defined")


def _has_replicas(desired: DesiredStack, name: str) -> bool:
    service = desired.services.get(name)
    return service is not None and service.replicas > 0


def _add_gates(state: _Layer, gates: dict[tuple[str, WaitFor], list[tuple[str, bool]]]) -> None:
    for dep, wait_for in sorted(gates):
        waiting = gates[(dep, wait_for)]
        required = any(r for _, r in waiting)
        names = ", ".join(sorted({n for n, _ in waiting}))
        cause = f"{names} depend{'s' if len(waiting) == 1 else ''} on it"
        if not required:
            cause += " (required: false)"
        state.steps.add(
            in_layer(state.index, GATE),
            kind=K.WAIT,
            target=f"service:{dep}",
            cause=cause,
            service=dep,
            condition=wait_for,
            required=required,
        )


def _plan_service(state: _Layer, service: DesiredService, kept: list[ObservedContainer]) -> bool:
    """Plan one service's containers; returns whether any of them is started."""
    starts = False
    for container in kept:
        if container.id in state.recreated:
            cause = state.recreated[container.id][1]
            _create(
                state,
                service,
                container.number,
                cause=cause,
                early=True,
                inherit=container.anonymous,
            )
            state.recreated_services.add(service.name)
            starts = True
        elif cause := _recreate_cause(container, service, state):
            _recreate(state, service, container, cause=cause)
            state.recreated_services.add(service.name)
            starts = True
        elif container.state == "paused":  # paused by hand: it serves nothing
            _rename_back(state, service, container)
            _on(state, K.RESUME_CONTAINER, container, START, cause="paused")
            starts = True
        elif cause := _start_cause(container, service):
            _rename_back(state, service, container)
            _start(state, container, cause=cause)
            starts = True
        elif cause := _restart_cause(container, service, state.recreated_services):
            _rename_back(state, service, container)
            _stop(state, container, STOP, cause=cause)
            _start(state, container, cause=cause)
            starts = True
        else:
            _rename_back(state, service, container)
    taken = {c.number for c in kept}
    free = (n for n in range(1, service.replicas + len(taken) + 1) if n not in taken)
    for number, _ in zip(free, range(service.replicas - len(kept)), strict=False):
        cause = "missing" if service.replicas == 1 else f"missing replica {number}"
        _create(state, service, number, cause=cause, early=True)
        starts = True
    return starts


def _recreate_cause(container: ObservedContainer, service: DesiredService, state: _Layer) -> str:
    if container.state == "dead":
        return "dead"
    if container.config_hash != service.config_hash:
        return "config changed"
    for donor, what in service.shares:  # compose recreates them too: its hash holds the id
        if donor in state.recreated_services:
            verb = "joins" if what.endswith("namespace") else "takes"
            return f"{verb} the {what} of {donor}, recreated"
    image_id = image_id_of(service.image, state.images)
    if image_id is None:
        return f"image {service.image} not present"
    if container.image_id and image_id != container.image_id:
        return f"image {service.image} now resolves to {_short(image_id)}"
    return ""


def _start_cause(container: ObservedContainer, service: DesiredService) -> str:
    if container.state == "created":
        return "created, not started"
    if container.state != "exited":
        return ""
    if container.exit_code == 0 and service.is_one_shot:
        return ""  # a one-shot that has done its job
    code = "" if container.exit_code is None else f" with code {container.exit_code}"
    return f"exited{code}"


def _restart_cause(
    container: ObservedContainer, service: DesiredService, recreated_services: set[str]
) -> str:
    if container.state not in _RUNNING:
        return ""
    for dep in service.dependencies:
        if dep.restart and dep.service in recreated_services:
            return f"dependency {dep.service} recreated (restart: true)"
    return ""


def _recreate(
    state: _Layer, service: DesiredService, container: ObservedContainer, *, cause: str
) -> None:
    obstacle = service.start_first_obstacle() if service.start_first else ""
    if obstacle:
        cause += f", stop-first (start-first blocked: {obstacle})"
    elif service.start_first and container.state in ("running", "restarting"):
        _recreate_start_first(state, service, container, cause=f"{cause}, start-first")
        return
    if container.state in _RUNNING:
        _stop(state, container, STOP, cause=cause)
    _remove(state, container, REMOVE, cause=cause)
    _create(state, service, container.number, cause=cause, inherit=container.anonymous)


def _rename_back(state: _Layer, service: DesiredService, container: ObservedContainer) -> None:
    """Give a container its proper name back (one left renamed by an interrupted update),
    unless another container that stays holds that name."""
    name = service.container_name_for(state.desired.stack, container.number)
    if container.name != name and name not in state.names:
        state.names = (state.names - {container.name}) | {name}
        state.steps.add(
            in_layer(state.index, STOP),
            kind=K.RENAME_CONTAINER,
            target=f"container:{container.name}",
            cause=f"renamed back to {name}",
            new_name=name,
            **fields_of(container),
        )


def _recreate_start_first(
    state: _Layer, service: DesiredService, container: ObservedContainer, *, cause: str
) -> None:
    temporary = f"{container.id[:12]}_"
    old = container
    if not container.name.startswith(temporary):  # else an interrupted update renamed it
        old = container.model_copy(update={"name": temporary + container.name})
        state.steps.add(
            in_layer(state.index, STOP),
            kind=K.RENAME_CONTAINER,
            target=f"container:{container.name}",
            cause=cause,
            new_name=old.name,
            **fields_of(container),
        )
    name = _create(state, service, container.number, cause=cause, inherit=container.anonymous)
    wait_for = WaitFor.STARTED
    if service.healthcheck or (not service.healthcheck_disabled and container.health != "none"):
        wait_for = WaitFor.HEALTHY  # declared, or the image's own (the old container has one)
    state.steps.add(
        in_layer(state.index, SETTLE),
        kind=K.WAIT,
        target=f"container:{name}",
        cause=f"{cause}: ready before the old one stops",
        service=service.name,
        number=container.number,
        name=name,
        condition=wait_for,
    )
    _stop(state, old, RETIRE_STOP, cause=cause)
    _remove(state, old, RETIRE_REMOVE, cause=cause)


def _create(
    state: _Layer,
    service: DesiredService,
    number: int,
    *,
    cause: str,
    early: bool = False,
    inherit: tuple[tuple[str, str], ...] = (),
) -> str:
    """Create and start a container. ``early``: its name is free before the pass begins, so
    it is created with every other such container right after networks, volumes and images
    (creating needs no dependency to run), and its layer only starts it. ``inherit``: the
    anonymous volumes of the container it replaces."""
    name = service.container_name_for(state.desired.stack, number)
    fields = {"service": service.name, "number": number, "name": name}
    step = CREATE_CONTAINERS if early and not service.needs_peers else in_layer(state.index, CREATE)
    state.steps.add(
        step,
        kind=K.CREATE_CONTAINER,
        target=f"container:{name}",
        cause=cause,
        config_hash=service.config_hash,
        inherit=inherit,
        **fields,
    )
    state.steps.add(
        in_layer(state.index, START),
        kind=K.START_CONTAINER,
        target=f"container:{name}",
        cause=cause,
        **fields,
    )
    return name


def _start(state: _Layer, container: ObservedContainer, *, cause: str) -> None:
    _on(state, K.START_CONTAINER, container, START, cause=cause)


def _stop(state: _Layer, container: ObservedContainer, sub_step: int, *, cause: str) -> None:
    _on(state, K.STOP_CONTAINER, container, sub_step, cause=cause)


def _remove(state: _Layer, container: ObservedContainer, sub_step: int, *, cause: str) -> None:
    _on(state, K.REMOVE_CONTAINER, container, sub_step, cause=cause)


def _on(state: _Layer, kind: K, container: ObservedContainer, sub_step: int, *, cause: str) -> None:
    """One action on an existing container, at ``sub_step`` of the layer."""
    state.steps.add(
        in_layer(state.index, sub_step),
        kind=kind,
        target=f"container:{container.name}",
        cause=cause,
        **fields_of(container),
    )


def image_id_of(reference: str, images: Mapping[str, str]) -> str | None:
    """The id a reference resolves to now; a reference that is an image id is itself."""
    if reference.startswith("sha256:"):
        return reference
    return images.get(reference)


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]
