"""The verbs that need Docker, against a live server that runs a real controller in-process
(as ``kedge serve`` does) on a real store and the real daemon: apply --wait on a healthy and
a failing stack, diff exit codes, rollback, delete, history, status, describe, and logs
following a running pass and a stack's containers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kedge.cli.main import app as kedge_app
from tests.cli.conftest import Kedge, LiveServer, free_port, serve_with_controller

pytestmark = pytest.mark.docker


@pytest.fixture
def served(tmp_path: Path, docker_client: Any, stack_name: str) -> Iterator[LiveServer]:
    """``kedge serve`` in the test: API + controller over a real store and the daemon.

    It asks for ``stack_name`` so that the controller stops before the stack's objects are
    removed: a controller still running would repair them while the cleanup runs.
    """
    with serve_with_controller(tmp_path / "served.db") as live:
        yield live


@pytest.fixture
def kedge(served: LiveServer) -> Kedge:
    return Kedge(served.url)


def spec(path: Path, stack: str, image: str, *, healthy: bool = True, say: str = "hello") -> Path:
    test = "true" if healthy else "false"
    path.write_text(
        f"""\
name: {stack}
services:
  db:
    image: {image}
    command: ["sh", "-c", "echo {say}; sleep 3600"]
    init: true
    healthcheck:
      test: ["CMD", "{test}"]
      interval: 1s
      timeout: 10s
      retries: 2
  web:
    image: {image}
    command: ["sleep", "3600"]
    init: true
    depends_on:
      db: {{condition: service_healthy}}
"""
    )
    return path


def containers(docker_client: Any, stack: str) -> list[Any]:
    return list(docker_client.containers.list(all=True, filters={"label": f"kedge.stack={stack}"}))


def test_apply_wait_healthy_then_status_history_describe(
    kedge: Kedge, tmp_path: Path, stack_name: str, test_image: str, docker_client: Any
) -> None:
    result = kedge("apply", "-f", str(spec(tmp_path / "s.yaml", stack_name, test_image)), "--wait")
    assert result.exit_code == 0, result.output
    assert "APPLY DONE" in result.output
    running = containers(docker_client, stack_name)
    assert sorted(c.labels["kedge.service"] for c in running) == ["db", "web"]
    assert all(c.status == "running" for c in running)

    status = json.loads(kedge("status", "-o", "json").output)["items"]
    mine = next(s for s in status if s["name"] == stack_name)
    assert mine["applied_version"] == 1
    assert (mine["ready"], mine["containers"]) == (2, 2)
    table = kedge("status").output
    assert stack_name in table
    assert "2/2" in table

    history = kedge("history", stack_name)
    assert history.exit_code == 0
    assert history.output.splitlines()[1].split()[0] == "1"
    assert history.output.splitlines()[1].rstrip().endswith("DONE")

    described = kedge("describe", "stack", stack_name).output
    assert f"{stack_name}-db-1  running  health=healthy" in described
    assert "web: 1/1 ready" in described


def test_apply_wait_failing_stack_exits_1(
    kedge: Kedge, tmp_path: Path, stack_name: str, test_image: str
) -> None:
    path = spec(tmp_path / "s.yaml", stack_name, test_image, healthy=False)
    result = kedge("apply", "-f", str(path), "--wait", "--timeout", "120")
    assert result.exit_code == 1, result.output
    assert "APPLY FAILED" in result.output


def test_diff_exit_codes(kedge: Kedge, tmp_path: Path, stack_name: str, test_image: str) -> None:
    path = spec(tmp_path / "s.yaml", stack_name, test_image)
    before = kedge("diff", "-f", str(path))
    assert before.exit_code == 1, before.output
    assert "create_container" in before.output or "create" in before.output
    assert kedge("apply", "-f", str(path), "--wait").exit_code == 0
    same = kedge("diff", "-f", str(path))
    assert same.exit_code == 0, same.output
    assert "no difference" in same.output
    changed = kedge("diff", "-f", str(spec(path, stack_name, test_image, say="changed")))
    assert changed.exit_code == 1
    assert "db" in changed.output
    (tmp_path / "bad.yaml").write_text("services:\n  web:\n    imagee: x\n")
    assert kedge("diff", "-f", str(tmp_path / "bad.yaml")).exit_code == 2


def test_rollback_and_delete(
    kedge: Kedge, tmp_path: Path, stack_name: str, test_image: str, docker_client: Any
) -> None:
    path = tmp_path / "s.yaml"
    assert kedge("apply", "-f", str(spec(path, stack_name, test_image)), "--wait").exit_code == 0
    first = {
        c.labels["kedge.service"]: c.labels["kedge.config-hash"]
        for c in containers(docker_client, stack_name)
    }
    two = spec(path, stack_name, test_image, say="second")
    assert kedge("apply", "-f", str(two), "--wait").exit_code == 0
    db_v2 = next(
        c for c in containers(docker_client, stack_name) if c.labels["kedge.service"] == "db"
    )
    assert db_v2.labels["kedge.config-hash"] != first["db"]

    result = kedge("rollback", stack_name, "--wait")  # to the previous version
    assert result.exit_code == 0, result.output
    assert "ROLLBACK to version 1" in result.output
    after = {
        c.labels["kedge.service"]: c.labels["kedge.config-hash"]
        for c in containers(docker_client, stack_name)
    }
    assert after == first

    deleted = kedge("delete", stack_name, "--wait")
    assert deleted.exit_code == 0, deleted.output
    assert containers(docker_client, stack_name) == []


def test_logs_follow_a_running_pass_and_containers(
    kedge: Kedge, tmp_path: Path, stack_name: str, test_image: str
) -> None:
    path = spec(tmp_path / "s.yaml", stack_name, test_image, say="hello-from-db")
    applied = kedge("apply", "-f", str(path))
    assert applied.exit_code == 0
    command_id = applied.output.split("command #")[1].split()[0]
    followed = kedge("logs", "--command", command_id, "-f")
    assert followed.exit_code == 0, followed.output
    assert "planned" in followed.output
    assert f"command #{command_id} DONE" in followed.output
    lines = kedge("logs", stack_name, "db", "--tail", "5")
    assert lines.exit_code == 0, lines.output
    assert f"{stack_name}-db-1 | " in lines.output
    assert "hello-from-db" in lines.output


def test_rollback_without_a_server_is_the_local_form(
    tmp_path: Path, stack_name: str, test_image: str, docker_client: Any
) -> None:
    local = Kedge("")
    db = str(tmp_path / "local.db")
    env = {"KEDGE_SERVER": None}
    path = tmp_path / "s.yaml"
    assert (
        local.runner.invoke(
            kedge_app,
            ["up", "-f", str(spec(path, stack_name, test_image)), "--db", db, "--wait"],
            env=env,
        ).exit_code
        == 0
    )
    first = {c.labels["kedge.config-hash"] for c in containers(docker_client, stack_name)}
    spec(path, stack_name, test_image, say="second")
    assert (
        local.runner.invoke(kedge_app, ["up", "-f", str(path), "--db", db], env=env).exit_code == 0
    )
    no_to = local.runner.invoke(kedge_app, ["rollback", stack_name, "--db", db], env=env)
    assert no_to.exit_code == 2
    assert "--to" in no_to.output
    back = local.runner.invoke(
        kedge_app, ["rollback", stack_name, "--to", "1", "--db", db], env=env
    )
    assert back.exit_code == 0, back.output
    assert {c.labels["kedge.config-hash"] for c in containers(docker_client, stack_name)} == first


def test_kedge_serve_runs_api_controller_and_metrics(tmp_path: Path, docker_client: Any) -> None:
    port = free_port()
    env = {**os.environ, "KEDGE_SERVER": ""}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kedge",
            "serve",
            "--db",
            str(tmp_path / "k.db"),
            "--specs",
            str(tmp_path / "specs"),
            "--addr",
            f"127.0.0.1:{port}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                ready = httpx.get(f"{url}/readyz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "kedge serve did not answer"
                time.sleep(0.2)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["docker"]["ok"] is True
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
        assert "kedge_" in metrics
        assert httpx.get(f"{url}/api/v1/stacks", timeout=5).json()["items"] == []
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
