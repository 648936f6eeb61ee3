"""A pure stand-in for the executor: carries a plan out on an ``ObservedStack``, checking it.

Used by the planner tests to build converged observed states (plan from nothing, carry it
out) and to check that a second pass plans zero actions. It is strict where Docker is: a
name taken, a network or volume in use, a running container removed, an image missing, or
an action on a container that is not there fails the test. Ids are deterministic.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from kedge.planning.actions import Action, ActionKind, Plan
from kedge.planning.desired import depends_on_label
from kedge.planning.observed import (
    ObservedContainer,
    ObservedNetwork,
    ObservedStack,
    ObservedVolume,
)
from kedge.planning.waves import DEPENDS_ON_LABEL
from kedge.specs.stack import StackSpec

K = ActionKind


def image_id(tag: str) -> str:
    """A deterministic image id for tests: 'sha256:' and 64 hex digits from a short tag."""
    digits = "".join(f"{ord(c):02x}" for c in tag)[:64]
    return "sha256:" + digits.ljust(64, "0")


@dataclass
class _Docker:
    stack: str
    spec: StackSpec | None
    containers: dict[str, ObservedContainer]
    networks: dict[str, ObservedNetwork]
    volumes: dict[str, ObservedVolume]
    images: dict[str, str]
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def new_id(self) -> str:
        return f"{next(self.ids):012x}".ljust(64, "0")

    def container(self, action: Action) -> ObservedContainer:
        if action.object_id is not None:
            found = self.containers.get(action.object_id)
        else:
            found = next((c for c in self.containers.values() if c.name == action.name), None)
        assert found is not None, f"no container for {action.render()}"
        return found

    def put(self, container: ObservedContainer, **update: object) -> None:
        self.containers[container.id] = container.model_copy(update=update)


def carry_out(plan: Plan, observed: ObservedStack, spec: StackSpec | None) -> ObservedStack:
    """The observed state after ``plan`` ran successfully on ``observed``."""
    docker = _Docker(
        observed.stack,
        spec,
        {c.id: c for c in observed.containers},
        {n.name: n for n in observed.networks},
        {v.name: v for v in observed.volumes},
        dict(observed.images),
        itertools.count(1 + max((int(c.id[:12], 16) for c in observed.containers), default=0)),
    )
    builds = itertools.count(1)
    built = dict(observed.built)
    for action in plan.actions:
        if action.kind in (K.BUILD_IMAGE, K.PULL_IMAGE):
            docker.images[action.name] = image_id(f"{action.kind.value}{next(builds)}")
            if action.kind is K.BUILD_IMAGE and action.config_hash:
                built[action.name] = action.config_hash
        else:
            _carry_out_one(docker, action)
    return ObservedStack(
        stack=observed.stack,
        containers=tuple(docker.containers.values()),
        networks=tuple(docker.networks.values()),
        volumes=tuple(docker.volumes.values()),
        images=docker.images,
        built=built,
        external_networks=observed.external_networks,
        external_volumes=observed.external_volumes,
    )


def _carry_out_one(docker: _Docker, action: Action) -> None:
    match action.kind:
        case K.CREATE_NETWORK:
            assert action.name not in docker.networks, action.render()
            docker.networks[action.name] = ObservedNetwork(
                id=f"net-{action.name}", name=action.name, config_hash=action.config_hash or ""
            )
        case K.REMOVE_NETWORK:
            users = [c.name for c in docker.containers.values() if action.name in c.networks]
            assert not users, f"{action.render()}: in use by {users}"
            del docker.networks[action.name]
        case K.CREATE_VOLUME:
            assert action.name not in docker.volumes, action.render()
            docker.volumes[action.name] = ObservedVolume(
                name=action.name, config_hash=action.config_hash or ""
            )
        case K.REMOVE_VOLUME:
            users = [c.name for c in docker.containers.values() if action.name in c.volumes]
            assert not users, f"{action.render()}: in use by {users}"
            del docker.volumes[action.name]
        case K.CREATE_CONTAINER:
            _create(docker, action)
        case K.START_CONTAINER:
            docker.put(docker.container(action), state="running", exit_code=None)
        case K.RESUME_CONTAINER:
            container = docker.container(action)
            assert container.state == "paused", action.render()
            docker.put(container, state="running")
        case K.STOP_CONTAINER:
            docker.put(docker.container(action), state="exited", exit_code=137)
        case K.REMOVE_CONTAINER:
            container = docker.container(action)
            assert not container.is_running, f"{action.render()}: still running"
            del docker.containers[container.id]
        case K.RENAME_CONTAINER:
            assert all(c.name != action.new_name for c in docker.containers.values())
            docker.put(docker.container(action), name=action.new_name)
        case K.WAIT:
            _check_wait(docker, action)
        case _:
            raise AssertionError(f"unexpected action {action.render()}")


def _create(docker: _Docker, action: Action) -> None:
    spec = docker.spec
    assert spec is not None
    assert action.service is not None
    assert action.number is not None
    assert all(c.name != action.name for c in docker.containers.values()), action.render()
    service = spec.services[action.service]
    image = service.image or f"{spec.name}-{action.service}"
    assert image in docker.images, f"{action.render()}: image {image} not present"
    networks = tuple(sorted(spec.network_name(k) for k in service.networks))
    volumes = tuple(
        sorted(
            spec.volume_name(m.source) for m in service.volumes if m.type == "volume" and m.source
        )
    )
    for name in networks:
        assert name in docker.networks or spec.networks[_key_of(spec, name)].external, name
    container_id = docker.new_id()
    docker.containers[container_id] = ObservedContainer(
        id=container_id,
        name=action.name,
        stack=docker.stack,
        service=action.service,
        number=action.number,
        config_hash=action.config_hash or "",
        state="created",
        image=image,
        image_id=docker.images[image],
        labels={DEPENDS_ON_LABEL: depends_on_label(spec, action.service)},
        networks=networks,
        volumes=volumes,
    )


def _key_of(spec: StackSpec, name: str) -> str:
    return next(k for k in spec.networks if spec.network_name(k) == name)


def _check_wait(docker: _Docker, action: Action) -> None:
    if action.target.startswith("container:"):
        assert docker.container(action).is_running, action.render()
        return
    waited = [c for c in docker.containers.values() if c.service == action.service]
    assert waited or not action.required, f"{action.render()}: nothing to wait for"
