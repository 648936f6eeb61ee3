"""The planner: a pure function from (desired, observed, options) to a ``Plan``.

Called by the worker and by ``kedge plan``/``up``/``down``/``rollback`` between ``observe``
and the executor; it makes no Docker call and reads no clock. Rules (issue 4, *Plan*):

- networks and volumes that are missing are created; external ones are only checked;
- a network whose config hash changed is recreated together with the containers attached
  to it; a network no longer desired is removed (its containers first);
- a volume whose config hash changed is refused unless the command allows data loss, and
  then recreated with the containers that mount it; volumes no longer desired are kept;
- an image reference that is not present is built (``build``) or pulled;
- each service is scaled to ``deploy.replicas``: missing numbers are created lowest first,
  surplus containers removed highest first, duplicates of a number removed;
- a container is recreated when its config hash differs, when its image tag now resolves to
  another image, or when it is dead; stop-first by default, start-first where the service
  asks and two copies can run at once (else the cause says why and it is stop-first);
- a stopped container is started, unless it is a one-shot that exited 0; a paused one is
  resumed (``docker compose up`` fails on it);
- a dependent with ``restart: true`` is restarted when its dependency is recreated;
- containers of services no longer desired are removed, dependents first.

Steps, in order: teardown (stop by reverse dependency layers, then remove), removal of
networks and volumes, creation of networks, volumes and images, creation of every new
container whose name is free (creating needs no dependency to run; those that name other
containers — links, volumes_from, ``service:`` namespaces — wait for their layer), then per
depends_on layer: health gates, stop/rename, remove, create, start, start-first wait,
start-first stop and remove. The plan is a DAG over these steps (``planning.steps``,
``planning.dag``): the stack's own actions (teardown, objects) hold back everything after
them, a service's actions only those of the services that depend on it, so a slow gate holds
back its dependents and nothing else. Loops go through sorted keys.
"""

from __future__ import annotations

from collections.abc import Iterable

from kedge.errors import PlanError
from kedge.planning.actions import ActionKind, Plan, PlanOptions, PlanRefused
from kedge.planning.containers import image_id_of, plan_layers, split_replicas
from kedge.planning.desired import DesiredObject, DesiredStack, desire
from kedge.planning.observed import ObservedContainer, ObservedStack
from kedge.planning.steps import CREATE_OBJECTS, REMOVE_OBJECTS, Steps, plan_teardown
from kedge.specs.stack import StackSpec

__all__ = ["plan", "plan_delete", "plan_desired"]

K = ActionKind
_SAFE = PlanOptions()


def plan(
    desired: StackSpec | None,
    observed: ObservedStack,
    *,
    options: PlanOptions = _SAFE,
) -> Plan:
    """The plan that converges ``observed`` to ``desired``; ``None`` deletes the stack.

    Raises ``PlanRefused`` (a ``PlanError``) carrying the plan when part of it is refused,
    and ``PlanError`` when the desired state cannot be planned at all.
    """
    if desired is None:
        return plan_delete(observed, options=options)
    if desired.name != observed.stack:
        raise PlanError(f"desired stack {desired.name} planned against observed {observed.stack}")
    return plan_desired(desire(desired), observed, options=options)


def plan_desired(desired: DesiredStack, observed: ObservedStack, *, options: PlanOptions) -> Plan:
    """The plan that converges ``observed`` to ``desired``; raises ``PlanRefused``."""
    steps = Steps()
    steps.follow(
        {n: [d.service for d in s.dependencies] for n, s in desired.services.items()},
        peers=[n for n, s in desired.services.items() if s.needs_peers],
    )
    kept, teardown = split_replicas(desired, observed)
    for container in _orphans(desired, observed):
        teardown[container.id] = (container, f"service {container.service} no longer desired")
    networks_going = _plan_networks(steps, desired, observed)
    volumes_going = _plan_volumes(steps, desired, observed, options=options)
    for containers in kept.values():
        for container in containers:
            cause = _leaving_cause(container.networks, networks_going) or _leaving_cause(
                container.volumes, volumes_going
            )
            if cause and container.id not in teardown:
                teardown[container.id] = (container, cause)
    plan_teardown(steps, teardown.values())
    _plan_images(steps, desired, observed, options)
    plan_layers(steps, desired, observed, kept=kept, recreated=teardown)
    return _finish(steps, desired.stack)


def plan_delete(observed: ObservedStack, *, options: PlanOptions) -> Plan:
    """The plan that removes a stack: containers dependents first, networks, volumes if asked."""
    steps = Steps()
    leaving = ((c, "stack deleted") for c in observed.containers)
    plan_teardown(steps, leaving, anonymous_volumes=options.remove_volumes)
    for network in sorted(observed.networks, key=lambda n: n.name):
        steps.add(
            REMOVE_OBJECTS,
            kind=K.REMOVE_NETWORK,
            target=f"network:{network.name}",
            cause="stack deleted",
            name=network.name,
            object_id=network.id,
        )
    if options.remove_volumes:
        for volume in sorted(observed.volumes, key=lambda v: v.name):
            steps.add(
                REMOVE_OBJECTS,
                kind=K.REMOVE_VOLUME,
                target=f"volume:{volume.name}",
                cause="stack deleted with its volumes",
                name=volume.name,
            )
    return _finish(steps, observed.stack)


def _finish(steps: Steps, stack: str) -> Plan:
    plan = Plan(stack=stack, actions=steps.actions(), refusals=tuple(steps.refusals))
    if plan.refusals:
        raise PlanRefused(plan)
    return plan


def _orphans(desired: DesiredStack, observed: ObservedStack) -> list[ObservedContainer]:
    return [c for c in observed.containers if c.service not in desired.services]


def _leaving_cause(names: Iterable[str], going: dict[str, str]) -> str:
    """Why a kept container must go with a network (or volume) of ``names`` that goes, or ''."""
    return next((going[name] for name in sorted(names) if name in going), "")


def _plan_networks(steps: Steps, desired: DesiredStack, observed: ObservedStack) -> dict[str, str]:
    """Create, recreate and remove networks; returns the names that go, with the cause."""
    going: dict[str, str] = {}
    wanted = {n.name for n in desired.networks.values()}
    for key in sorted(desired.networks):
        network = desired.networks[key]
        if network.external:
            _check_external(steps, "network", network, observed.external_networks)
            continue
        found = observed.network_named(network.name)
        if found is not None and found.config_hash == network.config_hash:
            continue
        cause = "missing"
        if found is not None:
            cause = "config changed"
            going[network.name] = f"network {network.name} recreated"
            _remove_network(steps, found.name, found.id, cause="config changed, recreated")
        _create_object(steps, K.CREATE_NETWORK, network, cause=cause)
    for found in sorted(observed.networks, key=lambda n: n.name):
        if found.name not in wanted:
            going[found.name] = f"network {found.name} no longer desired"
            _remove_network(steps, found.name, found.id, cause="no longer desired")
    return going


def _plan_volumes(
    steps: Steps, desired: DesiredStack, observed: ObservedStack, *, options: PlanOptions
) -> dict[str, str]:
    """Create volumes, and recreate changed ones if allowed; returns the names that go."""
    going: dict[str, str] = {}
    for key in sorted(desired.volumes):
        volume = desired.volumes[key]
        if volume.external:
            _check_external(steps, "volume", volume, observed.external_volumes)
            continue
        found = observed.volume_named(volume.name)
        if found is not None and found.config_hash == volume.config_hash:
            continue
        target = f"volume:{volume.name}"
        if found is None:
            _create_object(steps, K.CREATE_VOLUME, volume, cause="missing")
        elif not options.allow_data_loss:
            steps.refuse(
                target,
                "config changed; recreating it loses its data (needs allow_data_loss)",
            )
        else:
            going[volume.name] = f"volume {volume.name} recreated"
            cause = "config changed; data loss allowed"
            steps.add(
                REMOVE_OBJECTS,
                kind=K.REMOVE_VOLUME,
                target=target,
                cause=cause,
                name=volume.name,
                key=key,
            )
            _create_object(steps, K.CREATE_VOLUME, volume, cause=cause)
    return going


def _check_external(
    steps: Steps, kind: str, desired: DesiredObject, existing: frozenset[str] | None
) -> None:
    if existing is not None and desired.name not in existing:
        steps.refuse(
            f"{kind}:{desired.name}",
            f"external {kind} does not exist (create it with `docker {kind} create "
            f"{desired.name}`)",
            clears=True,
        )


def _remove_network(steps: Steps, name: str, network_id: str, *, cause: str) -> None:
    steps.add(
        REMOVE_OBJECTS,
        kind=K.REMOVE_NETWORK,
        target=f"network:{name}",
        cause=cause,
        name=name,
        object_id=network_id,
    )


def _create_object(steps: Steps, kind: ActionKind, desired: DesiredObject, *, cause: str) -> None:
    noun = "network" if kind is K.CREATE_NETWORK else "volume"
    steps.add(
        CREATE_OBJECTS,
        kind=kind,
        target=f"{noun}:{desired.name}",
        cause=cause,
        name=desired.name,
        key=desired.key,
        config_hash=desired.config_hash,
    )


def _plan_images(
    steps: Steps, desired: DesiredStack, observed: ObservedStack, options: PlanOptions
) -> None:
    """Build or pull each image reference once, as its services' ``pull_policy`` says.

    ``missing`` (the default): when the image is not present; a service with ``build`` is
    also rebuilt when its image was built from something else: the image's
    ``kedge.build-hash`` label is not the service's ``build_hash`` (a changed context or
    ``build`` section, or an image Kedge did not build), whether or not a container shows
    it. ``never``: a missing image is refused, not pulled. ``always`` / ``build``: pulled /
    built again on every apply and rollback (``options.refresh_images``), as compose's
    ``up`` does; a container is recreated when the image its tag names has changed, by the
    pass that sees it (the next one).
    """
    planned: set[str] = set()
    for name in sorted(desired.services):
        service = desired.services[name]
        if service.image in planned or service.replicas == 0:
            continue
        cause = ""
        present = image_id_of(service.image, observed.images) is not None
        if not present and service.pull_policy == "never" and not service.build:
            steps.refuse(
                f"image:{service.image}",
                f"not present, and service {name} has pull_policy never: load or build it",
                clears=True,
            )
            continue
        if not present:
            cause = "not present"
        elif service.build and (was := observed.built.get(service.image)) != service.build_hash:
            cause = "build context or section changed" if was else "not built by Kedge from it"
        elif options.refresh_images and service.pull_policy in ("always", "build"):
            cause = f"pull_policy {service.pull_policy}"
        if not cause:
            continue
        planned.add(service.image)
        kind = K.BUILD_IMAGE if service.build else K.PULL_IMAGE
        steps.add(
            CREATE_OBJECTS,
            kind=kind,
            target=f"image:{service.image}",
            cause=cause,
            service=name,
            name=service.image,
            config_hash=service.build_hash or None,
        )
