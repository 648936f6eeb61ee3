"""Parity with Docker Compose on bringing a stack up and down: the same ``depends_on`` gates,
the same containers running, exited or only created, the same failures, and the same
objects left after ``down``.

Each spec is brought up from nothing by ``docker compose up -d`` and then by Kedge (one after
the other); the record is whether the tool succeeded and, for every container, its state and
exit code. Then both take the stack down (keeping volumes) and what is left is compared.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from kedge.errors import KedgeError
from kedge.specs.commands import CommandStatus
from tests.compose_reference import required_compose_binary
from tests.integration import parity
from tests.integration.converge import Kedge

pytestmark = pytest.mark.docker

APP = """
  app:
    image: kedge-test/busybox:1
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    depends_on: DEPENDS
"""

SPECS = {
    # a migration that succeeds, then the app
    "completed": ("migrate: {condition: service_completed_successfully}", ["true"], None),
    # a migration that fails: the app is created but never started
    "completed-failed": (
        "migrate: {condition: service_completed_successfully}",
        ["sh", "-c", "exit 3"],
        None,
    ),
    # a dependency that turns unhealthy: the app is not started
    "unhealthy": (
        "migrate: {condition: service_healthy}",
        ["sleep", "3600"],
        "{test: [CMD, 'false'], interval: 1s, retries: 1}",
    ),
    # a dependency that is not required may fail: the app starts anyway
    "not-required": (
        "migrate: {condition: service_completed_successfully, required: false}",
        ["sh", "-c", "exit 3"],
        None,
    ),
    # healthy, then started
    "healthy": (
        "migrate: {condition: service_healthy}",
        ["sleep", "3600"],
        "{test: [CMD, 'true'], interval: 1s}",
    ),
}


def render(case: str) -> str:
    depends, command, check = SPECS[case]
    lines = [
        "name: STACK",
        "services:",
        "  migrate:",
        "    image: kedge-test/busybox:1",
        f"    command: {command!r}".replace("'", '"'),
        "    stop_signal: SIGKILL",
        '    restart: "no"',
        "    volumes: [data:/data]",
    ]
    if check:
        lines.append(f"    healthcheck: {check}")
    text = "\n".join(lines) + APP.replace("DEPENDS", "{" + depends + "}")
    return text + "volumes:\n  data: {}\n"


@pytest.mark.parametrize("case", sorted(SPECS))
def test_kedge_brings_up_and_down_what_compose_does(
    case: str, tmp_path: Path, stack_name: str, docker_client: Any
):
    binary = required_compose_binary()
    project = f"kc{uuid.uuid4().hex[:10]}"
    spec = tmp_path / "compose.yaml"
    spec.write_text(render(case).replace("STACK", project))
    try:
        up = subprocess.run(
            [binary, "-f", str(spec), "up", "-d"], capture_output=True, text=True, check=False
        )
        theirs = (up.returncode == 0, _states(docker_client, parity.COMPOSE_LABEL, project))
        subprocess.run(
            [binary, "-f", str(spec), "down", "--timeout", "0"], capture_output=True, check=False
        )
        their_rest = sorted(parity.snapshot(docker_client, parity.COMPOSE_LABEL, project))
    finally:
        parity.remove(docker_client, parity.COMPOSE_LABEL, project)

    kedge = Kedge(tmp_path, stack_name)
    try:
        try:
            done = kedge.up(render(case)).status is CommandStatus.DONE
        except KedgeError:  # a failed pass raises its cause, as ``kedge up`` exits 1
            done = False
        ours = (done, _states(docker_client, parity.KEDGE_LABEL, stack_name))
        deleted = kedge.down()
        assert deleted.status is CommandStatus.DONE, deleted.error
        our_rest = sorted(parity.snapshot(docker_client, parity.KEDGE_LABEL, stack_name))
    finally:
        kedge.close()
        parity.remove(docker_client, parity.KEDGE_LABEL, stack_name)

    assert ours == theirs, up.stderr
    assert our_rest == their_rest == ["volume P_data"]


def _states(client: Any, label: str, value: str) -> dict[str, tuple[str, int]]:
    """Each container's state and exit code, by its name with the project as ``P``."""
    found = {}
    for container in client.containers.list(all=True, filters={"label": [f"{label}={value}"]}):
        state = container.attrs["State"]
        found[container.name.replace(value, "P")] = (state["Status"], state["ExitCode"])
    return found
