"""The desired state as the planner reads it: the few facts of a ``StackSpec`` that decide a plan.

``planning.planner`` turns a ``StackSpec`` into a ``DesiredStack`` first (``desire``), then
plans against it, so the planning rules read in the planner's own words and depend on the
compose model in one place only. Names follow compose: containers ``<stack>-<service>-<n>``
(or ``container_name``), networks ``<stack>_<key>`` (or ``name:``), volumes
``<stack>_<key>`` (or ``name:``); an image built without ``image:`` is ``<stack>-<service>``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel

from kedge.errors import PlanError
from kedge.planning.waves import Condition, Dependency, render_depends_on_label
from kedge.specs import digests
from kedge.specs.compose_ports import PortMapping
from kedge.specs.compose_service import Service
from kedge.specs.stack import StackSpec

__all__ = [
    "ONE_SHOT_RESTARTS",
    "DesiredObject",
    "DesiredService",
    "DesiredStack",
    "depends_on_label",
    "desire",
    "is_one_shot",
    "object_config_hash",
]

#: restart policies under which a container that exited 0 has done its job (``planning.health``
#: judges by it; the planner leaves such a container as it is)
ONE_SHOT_RESTARTS = frozenset({"no", "on-failure"})


def is_one_shot(restart: str) -> bool:
    """Whether a container that exited 0 under this restart policy has done its job
    (compose's or Docker's name; ``on-failure:3`` and "" are understood)."""
    return (restart.split(":", 1)[0] or "no") in ONE_SHOT_RESTARTS


@dataclass(frozen=True, slots=True)
class DesiredService:
    """One service: how many containers, from which image, updated how, after what."""

    name: str
    config_hash: str
    image: str  # the reference its containers are created from
    build: bool = False  # the image is built from a context, not pulled
    build_hash: str = ""  # digests.build_hash: what the image is built from ("" without build)
    pull_policy: str = "missing"  # "always", "never", "missing" or "build" (compose's names)
    replicas: int = 1
    container_name: str | None = None
    host_ports: tuple[str, ...] = ()  # published host ports ("8080", "127.0.0.1:8080")
    restart: str = "no"  # the restart policy's name, without ":max-retries"
    start_first: bool = False  # x-kedge: {update: start-first}
    healthcheck: bool = False  # declares a healthcheck that is not disabled
    healthcheck_disabled: bool = False  # declares ``disable: true`` / ``test: [NONE]``
    network_mode: str | None = None  # "host", "none", "service:db", "container:x", a network
    needs_peers: bool = False  # its create names other containers (links, volumes_from, …)
    #: (service, what) its containers take from that service's first container, by id, at
    #: create: a namespace (``network_mode``/``ipc``/``pid: service:X``) or ``volumes_from``
    shares: tuple[tuple[str, str], ...] = ()
    dependencies: tuple[Dependency, ...] = ()

    def container_name_for(self, stack: str, number: int) -> str:
        return self.container_name or f"{stack}-{self.name}-{number}"

    @property
    def joins(self) -> str | None:
        """The service whose network namespace this one joins (``network_mode: service:X``)."""
        if self.network_mode and self.network_mode.startswith("service:"):
            return self.network_mode.removeprefix("service:")
        return None

    @property
    def is_one_shot(self) -> bool:
        """Whether a container that exited 0 has done its job and stays as it is."""
        return is_one_shot(self.restart)

    def start_first_obstacle(self) -> str:
        """Why two copies of this service cannot run at once, or '' when they can."""
        if self.container_name:
            return f"container_name {self.container_name}"
        if self.network_mode == "host":
            return "network_mode host"
        if self.host_ports:
            ports = ", ".join(self.host_ports)
            return f"host port{'s' if len(self.host_ports) > 1 else ''} {ports}"
        return ""


@dataclass(frozen=True, slots=True)
class DesiredObject:
    """One network or volume: its compose key, its Docker name and its config hash."""

    key: str
    name: str
    config_hash: str
    external: bool = False


@dataclass(frozen=True, slots=True)
class DesiredStack:
    """A stack version reduced to what the planner decides on."""

    stack: str
    services: Mapping[str, DesiredService] = field(default_factory=dict)
    networks: Mapping[str, DesiredObject] = field(default_factory=dict)
    volumes: Mapping[str, DesiredObject] = field(default_factory=dict)


def desire(spec: StackSpec) -> DesiredStack:
    """Reduce a stack version to what the planner decides on (active services only)."""
    services = {
        name: _desire_service(spec, name, service)
        for name, service in sorted(spec.active_services.items())
    }
    networks = {
        key: DesiredObject(
            key,
            spec.network_name(key),
            object_config_hash(network),
            external=network.external,
        )
        for key, network in sorted(spec.networks.items())
    }
    volumes = {
        key: DesiredObject(
            key,
            spec.volume_name(key),
            object_config_hash(volume),
            external=volume.external,
        )
        for key, volume in sorted(spec.volumes.items())
    }
    return DesiredStack(spec.name, services=services, networks=networks, volumes=volumes)


def object_config_hash(model: BaseModel) -> str:
    """The ``kedge.config-hash`` of a network or volume: sha256 of its canonical JSON."""
    # defaults left out, as in ``digests.config_hash``: a field added to the model later
    # does not change the hash of every network and volume (which would recreate them)
    dumped = model.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return "sha256:" + hashlib.sha256(digests.canonical_json(dumped).encode()).hexdigest()


def _desire_service(spec: StackSpec, name: str, service: Service) -> DesiredService:
    if service.container_name and service.replicas > 1:
        raise PlanError(
            f"service {name} sets container_name {service.container_name!r} and "
            f"{service.replicas} replicas; a fixed name allows one (remove one of them)"
        )
    healthcheck = service.healthcheck
    return DesiredService(
        name=name,
        config_hash=digests.config_hash(spec, name),
        image=service.image or f"{spec.name}-{name}",
        build=service.build is not None,
        build_hash=digests.build_hash(spec, name) or "",
        pull_policy=_pull_policy(name, service),
        replicas=service.replicas,
        container_name=service.container_name,
        host_ports=tuple(_host_port(p) for p in service.ports if p.published),
        restart=_restart_policy(service),
        start_first=service.x_kedge.update == "start-first",
        healthcheck=bool(healthcheck and healthcheck.test and not healthcheck.is_disabled),
        healthcheck_disabled=bool(healthcheck and healthcheck.is_disabled),
        network_mode=service.network_mode,
        needs_peers=_needs_peers(service),
        shares=_shares(service),
        dependencies=_dependencies(service),
    )


def depends_on_label(spec: StackSpec, service: str) -> str:
    """The ``kedge.depends-on`` label the container reconciler stamps on ``service``'s containers.

    A delete has no desired state to read dependencies from; this label lets it tear the
    stack down dependents first.
    """
    return render_depends_on_label(_dependencies(spec.services[service]))


def _dependencies(service: Service) -> tuple[Dependency, ...]:
    """depends_on, plus the service whose network namespace it joins, as compose orders it."""
    found = {
        dep: Dependency(dep, Condition(d.condition), required=d.required, restart=d.restart)
        for dep, d in service.depends_on.items()
    }
    mode = service.network_mode or ""
    if mode.startswith("service:"):
        found.setdefault(mode.removeprefix("service:"), Dependency(mode.removeprefix("service:")))
    return tuple(found[name] for name in sorted(found))


def _shares(service: Service) -> tuple[tuple[str, str], ...]:
    """What its containers take from another service's container when they are created."""
    found: dict[str, str] = {}
    for mode, what in (
        (service.network_mode, "network namespace"),
        (service.ipc, "IPC namespace"),
        (service.pid, "PID namespace"),
    ):
        if mode and mode.startswith("service:"):
            found.setdefault(mode.removeprefix("service:"), what)
    for source in service.volumes_from:
        if not source.startswith("container:"):
            found.setdefault(source.split(":")[0], "volumes")
    return tuple(sorted(found.items()))


def _needs_peers(service: Service) -> bool:
    """Whether creating its container needs other containers to exist already."""
    modes = (service.network_mode, service.ipc, service.pid, service.uts)
    shared = any(m and m.startswith(("service:", "container:")) for m in modes)
    return shared or bool(service.links) or bool(service.volumes_from)


def _host_port(port: PortMapping) -> str:
    return f"{port.host_ip}:{port.published}" if port.host_ip else f"{port.published}"


_TIMED_PULLS = ("refresh", "daily", "weekly", "every_")


def _pull_policy(name: str, service: Service) -> str:
    """Compose's ``pull_policy``, with ``if_not_present`` read as ``missing``; the timed
    policies need a record of past pulls that Kedge does not keep yet, so they fail the plan."""
    policy = service.pull_policy or "missing"
    if policy == "if_not_present":
        return "missing"
    if policy.startswith(_TIMED_PULLS):
        raise PlanError(
            f"service {name}: pull_policy {policy!r} is not carried out by Kedge yet;"
            " use always, never, missing or build"
        )
    if policy == "build" and service.build is None:
        raise PlanError(
            f"service {name}: pull_policy 'build' needs a build section (or another policy)"
        )
    return policy


_DEPLOY_RESTARTS = {"none": "no", "on-failure": "on-failure", "any": "always"}


def _restart_policy(service: Service) -> str:
    """The restart policy's name as Docker knows it; compose's ``restart`` wins over deploy's."""
    if service.restart:
        return service.restart.split(":", 1)[0]
    policy = service.deploy.restart_policy if service.deploy else None
    if policy is not None:
        return _DEPLOY_RESTARTS.get(policy.condition or "any", "always")
    return "no"
