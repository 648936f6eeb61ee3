"""The batched observation against the real daemon: ``observe_all`` gives each stack the
snapshot ``observe_desired`` gives it alone, in a number of Docker calls that does not grow
with the number of stacks (the resync's cost, issue 15)."""

from __future__ import annotations

import contextlib
import pathlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from kedge.controller.backoff import StackBackoff
from kedge.controller.resync import Resync
from kedge.controller.settings import ControllerSettings
from kedge.observability.metrics import Metrics
from kedge.reconcilers import observe
from kedge.reconcilers.engine import Engine, Filters
from kedge.specs import labels, loader
from kedge.specs.commands import CommandStatus, CommandType
from kedge.specs.stack import StackSpec
from kedge.store import SqliteStore
from tests.conftest import remove_stack_objects
from tests.integration.converge import Kedge

pytestmark = pytest.mark.docker

#: two services on a network with a named volume, and an external network and volume
FULL = """
name: STACK
services:
  db:
    image: IMAGE
    command: [sleep, '3600']
    stop_signal: SIGKILL
    volumes: ['data:/data', 'outside:/outside']
    networks: [back, shared]
  web:
    image: IMAGE
    command: [sleep, '3600']
    stop_signal: SIGKILL
    networks: [back]
volumes:
  data: {}
  outside: {external: true, name: EXTVOL}
networks:
  back: {}
  shared: {external: true, name: EXTNET}
"""

#: one service without a network
SMALL = """
name: STACK
services:
  one:
    image: IMAGE
    command: [sleep, '3600']
    stop_signal: SIGKILL
    network_mode: none
"""


class Counting:
    """The real engine, its calls counted: how many list calls an observation makes."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.calls = engine, 0

    def list_containers(self, filters: Filters) -> list[dict[str, Any]]:
        self.calls += 1
        return self.engine.list_containers(filters)

    def list_networks(self, filters: Filters) -> list[dict[str, Any]]:
        self.calls += 1
        return self.engine.list_networks(filters)

    def list_volumes(self, filters: Filters) -> list[dict[str, Any]]:
        self.calls += 1
        return self.engine.list_volumes(filters)

    def list_images(self) -> list[dict[str, Any]]:
        self.calls += 1
        return self.engine.list_images()

    def inspect_container(self, ref: str) -> dict[str, Any]:
        self.calls += 1
        return self.engine.inspect_container(ref)


@pytest.fixture
def externals(docker_client: Any) -> Iterator[tuple[str, str]]:
    """An external network and volume that a stack names (not Kedge's: no labels)."""
    tag = uuid.uuid4().hex[:8]
    network = docker_client.networks.create(f"ktext{tag}")
    volume = docker_client.volumes.create(f"ktext{tag}")
    yield network.name, volume.name
    with contextlib.suppress(Exception):
        network.remove()
    with contextlib.suppress(Exception):
        volume.remove()


@pytest.fixture
def stacks(docker_client: Any) -> Iterator[list[str]]:
    names = [f"kt{uuid.uuid4().hex[:10]}" for _ in range(3)]
    yield names
    for name in names:
        remove_stack_objects(docker_client, name)


def _up(folder: pathlib.Path, stack: str, text: str) -> StackSpec:
    kedge = Kedge(folder, stack)
    try:
        kedge.up(text)
        return loader.load_file(kedge.write(text))
    finally:
        kedge.close()


def test_each_stack_gets_the_snapshot_it_gets_alone_in_constant_calls(
    tmp_path: pathlib.Path,
    test_image: str,
    stacks: list[str],
    externals: tuple[str, str],
) -> None:
    full_name, small_name, absent_name = stacks
    network, volume = externals
    full = FULL.replace("IMAGE", test_image).replace("EXTNET", network)
    full = full.replace("EXTVOL", volume)
    small = SMALL.replace("IMAGE", test_image)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    specs: dict[str, StackSpec | None] = {
        full_name: _up(tmp_path / "a", full_name, full),
        small_name: _up(tmp_path / "b", small_name, small),
        absent_name: None,  # nothing of it exists, and no spec names what to look for
    }
    engine = Engine.from_env()
    try:
        many = Counting(engine)
        batched = observe.observe_all(many, specs)
        one = Counting(engine)
        observe.observe_all(one, {full_name: specs[full_name]})
        for stack, spec in specs.items():
            assert batched[stack] == observe.observe_desired(engine, stack, spec), stack
    finally:
        engine.close()
    assert {c.service for c in batched[full_name].containers} == {"db", "web"}
    assert batched[full_name].external_networks == frozenset({network})
    assert batched[full_name].external_volumes == frozenset({volume})
    assert [c.service for c in batched[small_name].containers] == ["one"]
    assert batched[absent_name].containers == ()
    assert many.calls == one.calls == 6  # containers, networks, volumes, images, externals


class PassDuringSnapshot(Counting):
    """A pass of a stack runs right after the snapshot's container list was made."""

    def __init__(self, engine: Engine, during: list[Callable[[], object]]) -> None:
        super().__init__(engine)
        self.during = during

    def list_containers(self, filters: Filters) -> list[dict[str, Any]]:
        found = super().list_containers(filters)
        if list(filters["label"]) == labels.managed_filter() and self.during:
            self.during.pop()()
        return found


def _resync(store: SqliteStore, engine: Counting) -> Resync:
    return Resync(
        store=store,
        engine=engine,  # type: ignore[arg-type]
        metrics=Metrics(CollectorRegistry()),
        settings=ControllerSettings(),
        backoff=StackBackoff(),
        wake=lambda _delay: None,
    )


def _three_stacks_one_container_removed(
    folder: pathlib.Path, image: str, stacks: list[str], docker_client: Any
) -> SqliteStore:
    for stack in stacks:
        _up(folder, stack, SMALL.replace("IMAGE", image))
    docker_client.containers.get(f"{stacks[-1]}-one-1").remove(force=True)
    store = SqliteStore.open(folder / "kedge.db")
    for stack in stacks:  # as the controller's worker records a pass that converged
        store.stacks.set_status(stack, applied_version=1, desired_version=1)
    return store


def test_a_resync_finds_the_drift_of_one_stack_among_several_in_constant_calls(
    tmp_path: pathlib.Path, test_image: str, stacks: list[str], docker_client: Any
) -> None:
    store = _three_stacks_one_container_removed(tmp_path, test_image, stacks, docker_client)
    synced, other, drifted = stacks
    engine = Engine.from_env()
    counted = Counting(engine)
    try:
        assert _resync(store, counted).resync_all() == 1
        pending = store.commands.list(status=CommandStatus.PENDING).items
        assert [(c.stack, c.type) for c in pending] == [(drifted, CommandType.RECONCILE)]
        assert store.stacks.get(synced).sync == store.stacks.get(other).sync == "Synced"
        assert store.stacks.get(drifted).sync == "OutOfSync"
        assert counted.calls == 4  # containers, networks, volumes, images: for three stacks
    finally:
        store.close()
        engine.close()


def test_a_stack_whose_pass_ended_after_the_snapshot_is_observed_again(
    tmp_path: pathlib.Path, test_image: str, stacks: list[str], docker_client: Any
) -> None:
    """The snapshot still lacks the container the pass made: taken as it is, it would be
    drift, and the resync would enqueue a RECONCILE with nothing to do."""
    store = _three_stacks_one_container_removed(tmp_path, test_image, stacks, docker_client)
    drifted = stacks[-1]

    def repair() -> None:
        kedge = Kedge(tmp_path, drifted)
        try:
            kedge.run(CommandType.RECONCILE, version=1)
        finally:
            kedge.close()

    engine = Engine.from_env()
    counted = PassDuringSnapshot(engine, [repair])
    try:
        assert _resync(store, counted).resync_all() == 0
        assert not store.commands.list(status=CommandStatus.PENDING).items
        assert store.stacks.get(drifted).sync == "Synced"
        assert counted.calls == 4 + 4  # the snapshot, then the repaired stack alone
    finally:
        store.close()
        engine.close()
