"""One rule for "done" (``planning.health``), through every wait, against the real daemon.

Each case is a small stack; every verb that waits must reach the same verdict on it:
``kedge up --wait`` and ``kedge rollback --wait`` (local, in this process), and
``kedge apply --wait`` and ``kedge rollback --wait`` against a live server whose real
controller carries out the APPLY and the ROLLBACK (its health gates included), after which
the status the controller records and the API's live health say the same. A failure names
the exit code and the last lines the container printed.

Compared with ``docker compose up -d --wait`` (the compose binary) on the same file.
Kedge differs on purpose where a one-shot service (``restart: "no"`` or ``on-failure``) that
exited 0 has no dependent waiting for it: compose's ``--wait`` fails it ("container … exited
(0)"), Kedge counts it done (README, *Compared with Docker Compose*).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from kedge.cli.main import app as kedge_app
from tests.cli.conftest import Kedge, LiveServer, serve_with_controller
from tests.compose_reference import required_compose_binary
from tests.integration import parity

pytestmark = pytest.mark.docker

IMAGE = "kedge-test/busybox:1"
APP = f"""
  app:
    image: {IMAGE}
    command: [sleep, "3600"]
    stop_signal: SIGKILL
"""


def _job(restart: str, script: str, *, extra: str = "") -> str:
    return f"""
  job:
    image: {IMAGE}
    command: [sh, -c, "{script}"]
    restart: {restart}
    stop_signal: SIGKILL{extra}
"""


def _web(check: str = "") -> str:
    healthcheck = f"\n    healthcheck: {{test: [CMD, '{check}'], interval: 1s, retries: 1}}"
    return f"""
  web:
    image: {IMAGE}
    command: [sleep, "3600"]
    stop_signal: SIGKILL{healthcheck if check else ""}
"""


_FAILING = "echo step one; echo 'ERROR: relation missing' >&2; exit 3"
_WAITED = "\n    depends_on: {job: {condition: service_completed_successfully}}"
#: a healthy web and an app that waits for it: the last wave starts a second after the job,
#: so that ``--wait`` looks at a job that has exited (a job still running when it looks is
#: done as a container running without a healthcheck, as compose has it too)
_LATER = _web("true") + APP + "\n    depends_on: {web: {condition: service_healthy}}"

#: case: (services, Kedge's --wait succeeds, compose's up -d --wait succeeds, words of its
#: output: the verdict for a success, the exit code and last lines for a failure)
CASES: dict[str, tuple[str, bool, bool, tuple[str, ...]]] = {
    "one-shot-waited-for": (
        _job('"no"', "echo migrated") + APP + _WAITED,
        True,
        True,
        ("job-1 completed (exited with code 0)",),
    ),
    "one-shot-waited-for-failed": (
        _job('"no"', _FAILING) + APP + _WAITED,
        False,
        False,
        ("job-1 exited with code 3", "| step one", "| ERROR: relation missing"),
    ),
    "one-shot-standalone": (
        _job('"no"', "echo migrated") + _LATER,
        True,
        False,
        ("job-1 completed (exited with code 0)",),
    ),
    "one-shot-on-failure": (
        _job("on-failure", "echo migrated") + _LATER,
        True,
        False,
        ("job-1 completed (exited with code 0)",),
    ),
    "one-shot-standalone-failed": (
        _job('"no"', _FAILING) + _LATER,
        False,
        False,
        ("job-1 exited with code 3", "| step one", "| ERROR: relation missing"),
    ),
    "healthcheck": (_web("true"), True, True, ("web-1 is healthy",)),
    "no-healthcheck": (_web(), True, True, ("web-1 is running (it has no healthcheck)",)),
    "unhealthy": (_web("false"), False, False, ("web-1 is unhealthy",)),
}

#: what the stack becomes between a case's version and the rollback to it: nothing of the
#: case is left, so the rollback starts all of it again and waits on all of it
OTHER = f"services:{APP.replace('app:', 'other:')}"


def write_versions(folder: Path, case: str, stack: str) -> tuple[Path, Path]:
    """The case's spec (version 1) and the other one (version 2), as files."""
    spec, other = folder / "compose.yaml", folder / "other.yaml"
    spec.write_text(f"name: {stack}\nservices:{CASES[case][0]}")
    other.write_text(f"name: {stack}\n{OTHER}")
    return spec, other


def _expect(case: str, code: int, output: str) -> None:
    _, done, _, words = CASES[case]
    assert code == (0 if done else 1), output
    for word in words:
        assert word in output, output


def _compose_up_wait(spec: Path, docker_client: Any) -> tuple[bool, str]:
    binary = required_compose_binary()
    project = f"kd{uuid.uuid4().hex[:10]}"
    try:
        up = subprocess.run(
            [binary, "-f", str(spec), "-p", project, "up", "-d", "--wait", "--wait-timeout", "60"],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        parity.compose_down(docker_client, binary, spec, project)
    return up.returncode == 0, up.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_up_and_rollback_wait_locally_against_compose(
    case: str, tmp_path: Path, stack_name: str, test_image: str, docker_client: Any
) -> None:
    spec, other = write_versions(tmp_path, case, stack_name)
    theirs, their_error = _compose_up_wait(spec, docker_client)
    assert theirs is CASES[case][2], their_error

    runner, db = CliRunner(), str(tmp_path / "kedge.db")
    env = {"KEDGE_SERVER": None, "NO_COLOR": "1"}

    def kedge(*args: str) -> tuple[int, str]:
        result = runner.invoke(kedge_app, [*args, "--db", db], env=env)
        return result.exit_code, result.output

    _expect(case, *kedge("up", "-f", str(spec), "--wait"))
    assert kedge("up", "-f", str(other), "--wait")[0] == 0
    _expect(case, *kedge("rollback", stack_name, "--to", "1", "--wait"))


@pytest.fixture
def served(tmp_path: Path, docker_client: Any, stack_name: str) -> Iterator[LiveServer]:
    """A live server with a real controller; stopped before ``stack_name``'s cleanup."""
    with serve_with_controller(tmp_path / "served.db") as live:
        yield live


@pytest.mark.parametrize("case", sorted(CASES))
def test_apply_and_rollback_wait_through_the_controller(
    case: str, served: LiveServer, tmp_path: Path, stack_name: str, test_image: str
) -> None:
    spec, other = write_versions(tmp_path, case, stack_name)
    kedge = Kedge(served.url)

    applied = kedge("apply", "-f", str(spec), "--wait", "--timeout", "120")
    _expect(case, applied.exit_code, applied.output)
    if CASES[case][1]:
        _same_health_everywhere(served.url, stack_name)
    assert kedge("apply", "-f", str(other), "--wait").exit_code == 0
    back = kedge("rollback", stack_name, "--to", "1", "--wait", "--timeout", "120")
    _expect(case, back.exit_code, back.output)


def _same_health_everywhere(url: str, stack: str) -> None:
    """The status the controller recorded, the ready count of ``kedge status`` (the same
    request) and the API's live health all say the stack is healthy, its completed one-shot
    counted ready."""
    deadline = time.monotonic() + 10  # the controller records its look just after the pass
    while True:
        rows = httpx.get(f"{url}/api/v1/stacks", params={"observe": True}, timeout=30).json()
        mine = next(r for r in rows["items"] if r["name"] == stack)
        if mine["health"] == "Healthy" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert mine["health"] == "Healthy", mine
    assert mine["ready"] == mine["containers"], mine
    live = httpx.get(f"{url}/api/v1/stacks/{stack}/observed", timeout=30).json()
    assert live["health"] == "Healthy", live
    assert all(c["is_ready"] for s in live["services"] for c in s["containers"]), live


def test_the_migrate_job_example_comes_up_with_wait(
    tmp_path: Path, stack_name: str, test_image: str, docker_client: Any
) -> None:
    """``examples/migrate-job.yaml`` on the local test image (``examples/offline.env``), as
    the README runs it: its migration completes, and ``kedge up --wait`` says so."""
    examples = Path(__file__).parents[2] / "examples"
    spec = examples / "migrate-job.yaml"  # it names its stack; -p gives the test's own name
    env: dict[str, str | None] = {"KEDGE_SERVER": None, "NO_COLOR": "1", "API_PORT": "0"}
    for line in (examples / "offline.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value.strip('"')
    result = CliRunner().invoke(
        kedge_app,
        ["up", "-p", stack_name, "-f", str(spec), "--wait", "--db", str(tmp_path / "k.db")],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert f"{stack_name}-migrate-1 completed (exited with code 0)" in result.output
    states = {
        c.labels["kedge.service"]: c.status
        for c in docker_client.containers.list(
            all=True, filters={"label": f"kedge.stack={stack_name}"}
        )
    }
    assert states == {"db": "running", "migrate": "exited", "api": "running"}
