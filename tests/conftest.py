"""Shared fixtures: the Docker gate and a small local image built once per test session.

Docker tests are marked ``docker``. Without a daemon they skip with a reason; with
``KEDGE_REQUIRE_DOCKER=1`` (set by ``.ci/run``) a missing daemon is an error, never a skip.
No registry is reachable, so the test image is a busybox root filesystem from Debian's
``busybox-static`` made into an image with ``docker import``: the recipe
``images.recipes.BUSYBOX``, shared with the examples and built once under its digest.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from images import builder, recipes

TEST_IMAGE = "kedge-test/busybox:1"  # an alias tag of images.recipes.BUSYBOX
assert TEST_IMAGE in recipes.BUSYBOX.aliases
REQUIRE_DOCKER = os.environ.get("KEDGE_REQUIRE_DOCKER") == "1"


def _docker_problem() -> str | None:
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        client.close()
    except Exception as exc:  # any failure means "no usable daemon"; the reason is shown
        return f"no Docker daemon answers: {exc}"
    return None


_PROBLEM: list[str | None] = []


def docker_problem() -> str | None:
    if not _PROBLEM:
        _PROBLEM.append(_docker_problem())
    return _PROBLEM[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any(item.get_closest_marker("docker") for item in items):
        return
    problem = docker_problem()
    if problem is None:
        return
    for item in items:
        if item.get_closest_marker("docker"):
            if REQUIRE_DOCKER:
                item.add_marker(pytest.mark.usefixtures("_docker_required"))
            else:
                item.add_marker(pytest.mark.skip(reason=problem))


@pytest.fixture
def _docker_required() -> None:
    pytest.fail(f"KEDGE_REQUIRE_DOCKER=1 but {docker_problem()}")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A docker SDK client for tests to look at what Kedge did (src uses the adapter)."""
    problem = docker_problem()
    if problem:
        if REQUIRE_DOCKER:
            pytest.fail(f"KEDGE_REQUIRE_DOCKER=1 but {problem}")
        pytest.skip(problem)
    import docker

    client = docker.from_env(timeout=120)
    yield client
    client.close()


def build_test_image(client: Any) -> str:
    """Make the busybox test image unless its recipe's digest is present; returns its tag.

    The image is ``images.recipes.BUSYBOX``, the one ``make images`` builds for the examples:
    built once, kept under its digest, and tagged ``kedge-test/busybox:1`` too.
    """
    try:
        builder.ensure(client, recipes.BUSYBOX)
    except builder.RecipeError as exc:
        pytest.fail(f"{exc} (.ci/run installs it)")
    return TEST_IMAGE


@pytest.fixture(scope="session")
def test_image(docker_client: Any) -> str:
    """The tag of a small local busybox image, made once per test session."""
    return build_test_image(docker_client)


@pytest.fixture
def stack_name(docker_client: Any) -> Iterator[str]:
    """A unique stack name; every object labelled with it is removed after the test."""
    name = f"kt{uuid.uuid4().hex[:10]}"
    yield name
    remove_stack_objects(docker_client, name)


def remove_stack_objects(client: Any, stack: str, *, attempts: int = 10) -> None:
    """Remove every container, network and volume labelled with the stack (test cleanup).

    Docker 20.10 may still count an endpoint on a network for a moment after its container
    is gone ("has active endpoints"), so a network is force-disconnected and tried again.
    """
    import docker

    flt = {"label": [f"kedge.stack={stack}"]}
    anonymous: set[str] = set()  # a recreate carries them over, and then rm -v keeps them
    for attempt in range(attempts):
        for c in client.containers.list(all=True, filters=flt):
            mounts = c.attrs.get("Mounts") or []
            anonymous |= {m["Name"] for m in mounts if len(m.get("Name") or "") == 64}
            with contextlib.suppress(docker.errors.NotFound):
                c.remove(force=True, v=True)
        left = []
        for n in client.networks.list(filters=flt):
            try:
                n.reload()
                for endpoint in n.attrs.get("Containers") or {}:
                    with contextlib.suppress(docker.errors.APIError):
                        n.disconnect(endpoint, force=True)
                n.remove()
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                left.append(n.name)
        if not left:
            break
        if attempt == attempts - 1:
            raise RuntimeError(f"could not remove networks {left} of stack {stack}")
        time.sleep(0.5)
    for v in client.volumes.list(filters=flt):
        with contextlib.suppress(docker.errors.NotFound):
            v.remove(force=True)
    for name in anonymous:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            client.volumes.get(name).remove(force=True)
