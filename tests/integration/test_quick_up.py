"""``kedge up``'s no-op fast path against the real daemon: it answers only when a full pass
would plan nothing, and every drift, edit or other command sends ``up`` down the full path."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kedge.reconcilers import observe, peek
from kedge.reconcilers.engine import Engine
from kedge.specs import loader

pytestmark = pytest.mark.docker

KEDGE = str(Path(sys.executable).parent / "kedge")

SPEC = """
version: "3.8"
name: STACK
services:
  db:
    image: kedge-test/busybox:1
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    volumes: [data:/data]
    networks: [back]
  app:
    image: kedge-test/busybox:1
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    environment: {RELEASE: "${RELEASE:-1}"}
    networks: [front, back]
    depends_on: [db]
  once:
    image: kedge-test/busybox:1
    command: ["true"]
    restart: "no"
volumes: {data: {}}
networks: {front: {}, back: {}}
"""


def up(spec: Path, db: Path, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [KEDGE, "up", "-f", str(spec), "--db", str(db)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def last_command(db: Path) -> dict[str, Any]:
    with sqlite3.connect(db) as raw:
        raw.row_factory = sqlite3.Row
        command = dict(raw.execute("SELECT * FROM commands ORDER BY id DESC LIMIT 1").fetchone())
        logs = raw.execute(
            "SELECT message, fields FROM command_logs WHERE command_id = ?", [command["id"]]
        ).fetchall()
    command["fast"] = any("unchanged_since" in json.loads(line["fields"]) for line in logs)
    return command


def ids(docker_client: Any, stack: str) -> dict[str, str]:
    found = docker_client.containers.list(all=True, filters={"label": f"kedge.stack={stack}"})
    return {c.name: c.id for c in found}


def test_peek_and_observe_fingerprint_a_stack_alike(tmp_path: Path, stack_name: str, test_image):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("STACK", stack_name))
    up(spec, tmp_path / "kedge.db")
    desired = loader.load_file(spec)
    engine = Engine.from_env()
    try:
        seen = observe.observe_desired(engine, stack_name, desired)
    finally:
        engine.close()
    looker = peek.Peek.from_env()
    assert looker is not None
    try:
        assert looker.stack(stack_name, observe.probe_of(desired)) == seen.fingerprint
        assert looker.calls == 4  # containers, networks, volumes, images: not one per service
    finally:
        looker.close()
    assert seen.fingerprint.startswith("sha256:")


def test_up_is_fast_only_when_nothing_differs(
    tmp_path: Path, stack_name: str, test_image: str, docker_client: Any
):
    db = tmp_path / "kedge.db"
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("STACK", stack_name))
    first = up(spec, db)
    assert not last_command(db)["fast"]
    before = ids(docker_client, stack_name)
    assert len(before) == 3

    again = up(spec, db)  # nothing changed: the fast path answers
    noop = last_command(db)
    assert noop["fast"]
    assert (noop["status"], noop["actions"], noop["version"]) == ("DONE", 0, 1)
    assert "planned: nothing to do" in again.stdout
    # the load warning (the obsolete version key) is printed again, as compose does
    warned = [line for line in first.stdout.splitlines() if line.startswith("warning:")]
    assert warned
    assert warned == [line for line in again.stdout.splitlines() if line.startswith("warning:")]
    assert ids(docker_client, stack_name) == before  # the one-shot was not run again

    docker_client.containers.get(f"{stack_name}-app-1").stop(timeout=0)  # drift: stopped
    up(spec, db)
    assert not last_command(db)["fast"]
    assert docker_client.containers.get(f"{stack_name}-app-1").status == "running"

    docker_client.containers.get(f"{stack_name}-db-1").remove(force=True)  # drift: removed
    up(spec, db)
    restored = last_command(db)
    assert not restored["fast"]
    assert restored["actions"] > 0
    assert docker_client.containers.get(f"{stack_name}-db-1").status == "running"
    up(spec, db)
    assert last_command(db)["fast"]

    up(spec, db, RELEASE="2")  # a variable the spec reads changed: a new version
    changed = last_command(db)
    assert (changed["fast"], changed["version"]) == (False, 2)
    app = docker_client.containers.get(f"{stack_name}-app-1")
    assert "RELEASE=2" in app.attrs["Config"]["Env"]
    up(spec, db, RELEASE="2", UNRELATED="x")  # a variable it does not read: still fast
    assert last_command(db)["fast"]
    up(spec, db)  # back to RELEASE=1: version 1 again, through the full path
    assert (last_command(db)["fast"], last_command(db)["version"]) == (False, 1)

    down = subprocess.run(
        [KEDGE, "down", stack_name, "--db", str(db)], capture_output=True, text=True, check=False
    )
    assert down.returncode == 0, down.stdout + down.stderr
    up(spec, db)  # after a down, up creates everything again
    assert not last_command(db)["fast"]
    assert len(ids(docker_client, stack_name)) == 3


def test_a_spec_reading_other_files_always_takes_the_full_path(
    tmp_path: Path, stack_name: str, test_image: str
):
    db = tmp_path / "kedge.db"
    (tmp_path / "app.env").write_text("RELEASE=1\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"name: {stack_name}\nservices:\n  app:\n    image: kedge-test/busybox:1\n"
        "    command: [sleep, '3600']\n    stop_signal: SIGKILL\n    env_file: app.env\n"
    )
    up(spec, db)
    up(spec, db)
    noop = last_command(db)
    assert (noop["fast"], noop["actions"]) == (False, 0)
