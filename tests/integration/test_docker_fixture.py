"""The shared Docker fixtures work: the local test image runs and stack cleanup is by label."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.docker


def test_test_image_runs_busybox(docker_client: Any, test_image: str) -> None:
    out = docker_client.containers.run(test_image, ["sh", "-c", "echo hello"], remove=True)
    assert out == b"hello\n"


def test_stack_cleanup_removes_labelled_objects(docker_client: Any, test_image: str) -> None:
    from tests.conftest import remove_stack_objects

    labels = {"kedge.managed": "true", "kedge.stack": "ktcleanup"}
    c = docker_client.containers.create(test_image, ["sleep", "60"], labels=labels)
    docker_client.networks.create("ktcleanup_default", labels=labels)
    remove_stack_objects(docker_client, "ktcleanup")
    assert docker_client.containers.list(all=True, filters={"id": c.id}) == []
    assert docker_client.networks.list(filters={"label": "kedge.stack=ktcleanup"}) == []
