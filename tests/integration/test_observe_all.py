"""The batched observation against the real daemon: ``observe_all`` gives each stack the
snapshot ``observe_desired`` gives it alone, in a number of Docker calls that does not grow
with the number of stacks (the resync's cost, issue 15)."""

from __future__ import annotations

import contextlib
import pathlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kedge.reconcilers import observe
from kedge.reconcilers.engine import Engine, Filters
from kedge.specs import loader
from kedge.specs.stack import StackSpec
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
