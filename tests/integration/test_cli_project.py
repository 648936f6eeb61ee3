"""``kedge up``/``plan``/``down`` in a compose project folder, with no flags, as a compose user
runs them: compose.yaml and compose.override.yaml are found and merged, the stack is named
after the folder (as ``docker compose config`` names the project), and the fast path answers
only for the very files it fingerprinted (a discovered override, several -f in order)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.compose_reference import required_compose_binary
from tests.integration.test_quick_up import last_command

pytestmark = pytest.mark.docker

KEDGE = str(Path(sys.executable).parent / "kedge")

BASE = """
services:
  app:
    image: kedge-test/busybox:1
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    environment: {RELEASE: base}
  debug:
    image: kedge-test/busybox:1
    command: [sleep, "3600"]
    profiles: [debug]
"""
OVERRIDE = """
services:
  app:
    environment: {RELEASE: "${RELEASE:-override}"}
"""
SIDE = """
services:
  side:
    image: kedge-test/busybox:1
    command: [sleep, "3600"]
    stop_signal: SIGKILL
"""


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "KEDGE_"))}


def kedge(*args: str, cwd: Path, code: int = 0) -> str:
    done = subprocess.run(
        [KEDGE, *args],
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == code, done.stdout + done.stderr
    return done.stdout


def release(docker_client: Any, container: str) -> str:
    env = docker_client.containers.get(container).attrs["Config"]["Env"]
    return next(e.partition("=")[2] for e in env if e.startswith("RELEASE="))


def test_up_plan_down_in_a_project_folder(
    tmp_path: Path, stack_name: str, test_image: str, docker_client: Any
) -> None:
    folder = tmp_path / stack_name.upper()  # compose lowercases a folder's name
    (folder / "sub").mkdir(parents=True)
    (folder / "compose.yaml").write_text(BASE)
    (folder / "compose.override.yaml").write_text(OVERRIDE)
    (folder / "side.yaml").write_text(SIDE)
    db = str(tmp_path / "kedge.db")
    compose = subprocess.run(
        [required_compose_binary(), "config", "--format", "json"],
        cwd=folder / "sub",
        env=environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(compose.stdout)["name"] == stack_name

    out = kedge("up", "--db", db, cwd=folder / "sub")  # found in the parent folder
    assert f"stack {stack_name}: version 1 (new)" in out
    assert release(docker_client, f"{stack_name}-app-1") == "override"
    assert not docker_client.containers.list(all=True, filters={"name": f"{stack_name}-debug"})
    assert kedge("plan", "--db", db, cwd=folder).startswith(f"stack {stack_name}: version 1\n")

    kedge("up", "--db", db, cwd=folder)  # the same project: the fast path answers
    assert (last_command(Path(db))["fast"], last_command(Path(db))["actions"]) == (True, 0)

    kedge("up", "-f", "compose.yaml", "--db", db, cwd=folder)  # alone: no override read
    assert release(docker_client, f"{stack_name}-app-1") == "base"
    kedge("up", "-f", "compose.yaml", "--db", db, cwd=folder)
    assert last_command(Path(db))["fast"]  # a lone -f is remembered for the fast path
    # the same file, now overriding another one: a project the fast path does not answer
    kedge("up", "-f", "side.yaml", "-f", "compose.yaml", "--db", db, cwd=folder)
    assert not last_command(Path(db))["fast"]
    assert docker_client.containers.get(f"{stack_name}-side-1").status == "running"

    planned = kedge(
        "plan", "-p", f"{stack_name}-b", "--profile", "debug", "--db", db, cwd=folder, code=1
    )
    assert f"stack {stack_name}-b: a new version" in planned
    assert f"container:{stack_name}-b-debug-1" in planned

    (folder / "vars.env").write_text("RELEASE=from-file\n")
    kedge("up", "--env-file", "vars.env", "--db", db, cwd=folder)
    assert release(docker_client, f"{stack_name}-app-1") == "from-file"

    kedge("down", "--db", db, cwd=folder / "sub")
    flt = {"label": [f"kedge.stack={stack_name}"]}
    assert docker_client.containers.list(all=True, filters=flt) == []
