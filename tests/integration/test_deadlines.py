"""A Docker daemon that stops answering: every call has a deadline, and a pass that hits one
fails with a cause that says so, and is retried (issue 13, *A pass never hangs*, Done when 6).

The daemon is the real one behind ``StallingProxy``, a unix socket that forwards to it or,
on demand, swallows requests (accepts and reads them, never answers): what a client saw of
dockerd when moby 20.10's libnetwork deadlocked during a ``kedge down``. Deadlines are set
short through ``KEDGE_DEADLINE_*`` for the kind of call that is swallowed, so that each
failure comes in seconds, and left at their defaults for the calls the daemon answers (a
loaded machine may take seconds to start a container); ``subprocess``'s own timeout is the
guard that a run ends at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kedge import errors
from kedge.specs import labels
from kedge.specs.commands import Command, CommandStatus, CommandType
from kedge.store import SqliteStore
from tests.integration.controller_process import (
    ControllerProcess,
    running_healthy,
    spec_text,
    wait_for,
    write_atomically,
)
from tests.integration.stalling_proxy import StallingProxy

pytestmark = pytest.mark.docker

#: a run that takes longer than this hangs
HANG = 60

SPEC = """
name: STACK
services:
  app:
    image: IMAGE
    command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 1; done"]
    stop_grace_period: 1s
    healthcheck: {test: [CMD, "true"], interval: 1s}
    networks: [back]
networks:
  back: {}
"""


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[StallingProxy]:
    # a short folder: a unix socket's path is limited to 108 bytes
    found = StallingProxy(Path(f"/tmp/kedge-stall-{os.getpid()}-{time.monotonic_ns()}.sock"))
    yield found
    found.close()


def kedge(*args: str, proxy: StallingProxy, **extra: str) -> subprocess.CompletedProcess[str]:
    """A whole ``kedge`` process against the proxy; ``extra`` environment, e.g. deadlines."""
    env = {**os.environ, "DOCKER_HOST": proxy.url, "KEDGE_FULL_PASS": "1", **extra}
    env.pop("DOCKER_CONTEXT", None)
    return subprocess.run(
        [sys.executable, "-m", "kedge", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG,
        check=False,
    )


def commands_of(db: Path, stack: str) -> list[Command]:
    store = SqliteStore.open(db)
    try:
        return list(reversed(store.commands.list(stack=stack, limit=100).items))
    finally:
        store.close()


def test_kedge_up_fails_within_its_deadline_naming_the_call(
    tmp_path: Path, proxy: StallingProxy, stack_name: str, test_image: str
) -> None:
    spec, db = tmp_path / "spec.yaml", tmp_path / "kedge.db"
    spec.write_text(SPEC.replace("STACK", stack_name).replace("IMAGE", test_image))
    proxy.stall()

    # the API version is negotiated first: that call hits its deadline before any pass
    quick = {"KEDGE_DEADLINE_READ": "2"}
    refused = kedge("up", "-f", str(spec), "--db", str(db), proxy=proxy, **quick)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert (
        "connect to Docker (the API version): the Docker daemon stopped answering"
        " (no answer within 2 s)" in refused.stdout
    )

    # with the version pinned the pass starts, and its first list call hits the deadline
    failed = kedge(
        "up", "-f", str(spec), "--db", str(db), proxy=proxy, DOCKER_API_VERSION="1.41", **quick
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    cause = "list containers: the Docker daemon stopped answering (no answer within 2 s)"
    assert cause in failed.stdout
    [command] = commands_of(db, stack_name)
    assert (command.type, command.status) == (CommandType.APPLY, CommandStatus.FAILED)
    assert cause in (command.error or "")
    # EngineUnavailable is temporary: the controller's retry policy takes it up again
    assert errors.EngineUnavailable("x").temporary

    # the daemon answers again: the same command line converges
    proxy.forward()
    done = kedge("up", "-f", str(spec), "--db", str(db), "--wait", proxy=proxy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [c.status for c in commands_of(db, stack_name)] == [
        CommandStatus.FAILED,
        CommandStatus.DONE,
    ]


def test_kedge_down_fails_within_its_deadlines_and_says_what_it_waits_for(
    tmp_path: Path, proxy: StallingProxy, stack_name: str, test_image: str, docker_client: Any
) -> None:
    spec, db = tmp_path / "spec.yaml", tmp_path / "kedge.db"
    spec.write_text(SPEC.replace("STACK", stack_name).replace("IMAGE", test_image))
    assert kedge("up", "-f", str(spec), "--db", str(db), "--wait", proxy=proxy).returncode == 0
    name = f"{stack_name}-app-1"
    network = f"{stack_name}_back"

    # a stop waits the container's stop timeout (stop_grace_period: 1s) plus the margin (2 s)
    proxy.stall(r"^POST /v[\d.]+/containers/\w+/stop")
    stopped = kedge("down", stack_name, "--db", str(db), proxy=proxy, KEDGE_DEADLINE_STOP="2")
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert (
        f"stop container {docker_client.containers.get(name).id} (stop timeout 1 s):"
        " the Docker daemon stopped answering (no answer within 3 s)" in stopped.stdout
    )
    assert docker_client.containers.get(name).status == "running"  # it never got the stop

    # the network subsystem stops answering, as in the incident: the containers go, the
    # network removal hits its deadline, and meanwhile the user is told what is waited for
    proxy.forward()
    proxy.stall(r"^DELETE /v[\d.]+/networks/")
    hung = kedge("down", stack_name, "--db", str(db), proxy=proxy, KEDGE_DEADLINE_WRITE="8")
    assert hung.returncode == 1, hung.stdout + hung.stderr
    assert f"waiting for {network} to be removed (" in hung.stdout
    assert "the Docker daemon stopped answering (no answer within 8 s)" in hung.stdout
    assert f"error: failed: network:{network} (stack deleted): remove network " in hung.stdout
    flt = {"label": [f"{labels.STACK}={stack_name}"]}
    assert docker_client.containers.list(all=True, filters=flt) == []
    assert proxy.swallowed >= 1

    # the daemon answers again: down finishes what is left
    proxy.forward()
    done = kedge("down", stack_name, "--db", str(db), proxy=proxy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert docker_client.networks.list(filters=flt) == []
    assert [c.status for c in commands_of(db, stack_name)] == [
        CommandStatus.DONE,
        CommandStatus.FAILED,
        CommandStatus.FAILED,
        CommandStatus.DONE,
    ]


@pytest.fixture
def proxied(proxy: StallingProxy, monkeypatch: pytest.MonkeyPatch) -> StallingProxy:
    """The proxy as this process's (and its children's) Docker daemon."""
    monkeypatch.setenv("DOCKER_HOST", proxy.url)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("KEDGE_DEADLINE_READ", "4")  # the first call of a pass is a list
    return proxy


@pytest.mark.slow
def test_a_controller_pass_fails_at_its_deadline_and_is_retried_once_the_daemon_answers(
    tmp_path: Path, proxied: StallingProxy, stack_name: str, test_image: str, docker_client: Any
) -> None:
    proxy = proxied
    specs, db = tmp_path / "specs", tmp_path / "kedge.db"
    specs.mkdir()
    ctl = ControllerProcess(specs, db, resync=600).start()  # connects while the daemon answers
    try:
        proxy.stall()
        write_atomically(specs / f"{stack_name}.yaml", spec_text(stack_name, image=test_image))
        failed = wait_for(
            lambda: [c for c in commands_of(db, stack_name) if c.status is CommandStatus.FAILED],
            timeout=HANG,
            what="the first APPLY FAILED",
        )[0]
        assert failed.type is CommandType.APPLY
        assert "the Docker daemon stopped answering (no answer within 4 s)" in (failed.error or "")

        proxy.forward()
        wait_for(
            lambda: running_healthy(docker_client, stack_name),
            timeout=120,
            what="the stack converged after the daemon answered again",
        )
        done = wait_for(
            lambda: [c for c in commands_of(db, stack_name) if c.status is CommandStatus.DONE],
            timeout=30,
            what="a DONE command",
        )[0]
        assert done.type is CommandType.APPLY
        assert done.version == failed.version
        assert done.attempt > 1  # a retry of the failed one, not a new version
    finally:
        ctl.terminate()
