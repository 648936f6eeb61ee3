"""The local verbs through the real ``kedge`` app: up, plan, rollback, down, and exit codes."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from kedge.cli.main import app
from kedge.specs import labels
from kedge.specs.commands import CommandStatus, CommandType
from kedge.store import SqliteStore

pytestmark = pytest.mark.docker

SPEC = """
name: STACK
services:
  app:
    image: kedge-test/busybox:1
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    environment: {RELEASE: "R"}
    healthcheck: {test: [CMD, "true"], interval: 1s}
"""


def kedge(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_up_plan_rollback_down(tmp_path: Any, stack_name: str, test_image: str, docker_client):
    db = str(tmp_path / "kedge.db")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("STACK", stack_name).replace("R", "1"))

    planned = kedge("plan", "-f", str(spec))
    assert planned.exit_code == 1, planned.output
    assert f"create_container container:{stack_name}-app-1: missing" in planned.output

    applied = kedge("up", "-f", str(spec), "--wait", "--db", db)
    assert applied.exit_code == 0, applied.output
    assert "done" in applied.output
    app_1 = docker_client.containers.get(f"{stack_name}-app-1")
    assert app_1.attrs["State"]["Health"]["Status"] == "healthy"

    assert kedge("plan", "-f", str(spec)).exit_code == 0

    spec.write_text(SPEC.replace("STACK", stack_name).replace("R", "2"))
    assert kedge("up", "-f", str(spec), "--db", db).exit_code == 0
    assert docker_client.containers.get(f"{stack_name}-app-1").labels[labels.VERSION] == "2"

    back = kedge("rollback", stack_name, "--to", "1", "--db", db)
    assert back.exit_code == 0, back.output
    assert docker_client.containers.get(f"{stack_name}-app-1").labels[labels.VERSION] == "1"

    gone = kedge("down", stack_name, "--db", db)
    assert gone.exit_code == 0, gone.output
    flt = {"label": [f"{labels.STACK}={stack_name}"]}
    assert docker_client.containers.list(all=True, filters=flt) == []

    store = SqliteStore.open(db)
    try:
        history = store.commands.list(stack=stack_name).items
    finally:
        store.close()
    assert [(c.type, c.status) for c in reversed(history)] == [
        (CommandType.APPLY, CommandStatus.DONE),
        (CommandType.APPLY, CommandStatus.DONE),
        (CommandType.ROLLBACK, CommandStatus.DONE),
        (CommandType.DELETE, CommandStatus.DONE),
    ]


def test_a_bad_spec_exits_2_with_its_location(tmp_path: Any):
    spec = tmp_path / "bad.yaml"
    spec.write_text("services:\n  app:\n    image: x\n    restart: [no]\n")
    for verb in (["plan"], ["up", "--db", str(tmp_path / "k.db")]):
        result = kedge(*verb, "-f", str(spec))
        assert result.exit_code == 2, result.output
        assert "bad.yaml:4" in result.output


def test_a_failed_pass_exits_1(tmp_path: Any, stack_name: str, test_image: str):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        SPEC.replace("STACK", stack_name).replace('[CMD, "true"]', '[CMD, "false"], retries: 1')
    )
    result = kedge("up", "-f", str(spec), "--wait", "--db", str(tmp_path / "k.db"))
    assert result.exit_code == 1, result.output
    assert "unhealthy" in result.output
