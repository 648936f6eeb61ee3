"""One health for the same containers, whoever is asked (issue 15, Done when 3).

Four stacks, each of one container in one state, run by the real pass against real Docker
and a real store: a one-shot that is done (exited 0, ``restart: "no"``), one starting (its
healthcheck in its start period), one unhealthy, one restarting (``restart: always``, exits
1). Then the controller's recorded health (``controller.assessor``), the API's live health
(``/api/v1/stacks/{name}/observed`` and ``/api/v1/observed``), the dashboard's pages (the
stack page's head and the list's row) and ``kedge status`` must all say the same health,
and the API and ``kedge status`` the same ready count. All of them judge by
``planning.health``; this test keeps it so.

A restarting container runs for a few milliseconds between its backoffs, and one look can
catch it running (Healthy, as any container without a healthcheck that runs): each round
asks every owner once, and the test waits for a round in which every answer is the expected
one (a lasting disagreement fails it).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from kedge.cli.main import app
from kedge.controller import assessor, passes
from kedge.observability.metrics import Metrics
from kedge.reconcilers.engine import Engine
from kedge.specs import digests, loader
from kedge.specs.commands import CommandType
from kedge.store.sqlite import SqliteStore
from tests.conftest import remove_stack_objects
from tests.dashboard.live import Live, serve

pytestmark = pytest.mark.docker

#: each state: (the service, the health every owner must report, ready containers); the
#: restarting one first, so that it is past its first restarts when the others are applied
STATES: dict[str, tuple[str, str, int]] = {
    "restarting": (
        """
    command: ["sh", "-c", "exit 1"]
    restart: always
""",
        "Degraded",
        0,
    ),
    "done": (
        """
    command: ["true"]
    restart: "no"
""",
        "Healthy",
        1,
    ),
    "starting": (
        """
    command: ["sleep", "3600"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 1
      start_period: 300s
""",
        "Progressing",
        0,
    ),
    "unhealthy": (
        """
    command: ["sleep", "3600"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      timeout: 1s
      retries: 1
""",
        "Degraded",
        0,
    ),
}


@pytest.fixture
def stacks(stack_name: str, docker_client: Any) -> Iterator[dict[str, str]]:
    """A stack name per state, every object of them removed afterwards."""
    names = {state: f"{stack_name}-{state}" for state in STATES}
    yield names
    for name in names.values():
        remove_stack_objects(docker_client, name)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Live, Engine]]:
    engine = Engine.from_env()
    store = SqliteStore.open(tmp_path / "kedge.db")
    server = serve(store, engine=engine)
    yield server, engine
    server.stop()
    engine.close()
    store.close()


def _apply(live: Live, engine: Engine, *, stack: str, service: str, image: str) -> None:
    spec = loader.parse(f"name: {stack}\nservices:\n  job:\n    image: {image}{service}")
    found = live.store.versions.record(
        stack, loader.canonical(spec), digest=digests.digest(spec), source=f"{stack}.yaml"
    )
    number = found.version.number
    passes.run_now(live.store, engine, stack=stack, type=CommandType.APPLY, version=number)
    live.store.stacks.set_status(stack, applied_version=number, desired_version=number)


def _recorded(live: Live, engine: Engine, metrics: Metrics, stack: str) -> str:
    """What the controller records after a look at the stack (as after a pass or a resync)."""
    status = live.store.stacks.get(stack)
    assessor.record_assessment(
        live.store, metrics, status, assessor.assess_stack(live.store, engine, status)
    )
    return live.store.stacks.get(stack).health


def _dashboard(client: httpx.Client, stack: str) -> tuple[str, str]:
    """The health badge of the stack page's head and of the stack's row in the list."""
    page = client.get(f"/stacks/{stack}").text
    head = re.search(r'class="head".*?data-health="(\w+)"', page, re.S)
    rows = client.get("/").text
    row = re.search(rf'id="stack-{stack}".*?data-health="(\w+)"', rows, re.S)
    assert head, "no health badge on the stack page"
    assert row, "no health badge in the list of stacks"
    return head.group(1), row.group(1)


def _status(live: Live) -> dict[str, dict[str, Any]]:
    """``kedge status -o json``, by stack."""
    result = CliRunner().invoke(
        app, ["status", "-o", "json"], env={"KEDGE_SERVER": live.url, "NO_COLOR": "1"}
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    rows = found.get("items", []) if isinstance(found, dict) else found
    return {row["name"]: row for row in rows}


def _round(live: Live, engine: Engine, metrics: Metrics, names: dict[str, str]) -> dict[str, Any]:
    """Every owner's answer for every stack, from one look each."""
    answers: dict[str, Any] = {}
    recorded = {state: _recorded(live, engine, metrics, name) for state, name in names.items()}
    with httpx.Client(base_url=live.url, timeout=30) as client:
        listed = {s["stack"]: s for s in client.get("/api/v1/observed").json()}
        status = _status(live)
        for state, name in names.items():
            observed = client.get(f"/api/v1/stacks/{name}/observed").json()
            head, row = _dashboard(client, name)
            answers[state] = {
                "controller": recorded[state],
                "api": observed["health"],
                "api list": listed[name]["health"],
                "dashboard page": head,
                "dashboard list": row,
                "kedge status": status[name]["health"],
                "ready (api)": sum(s["ready"] for s in observed["services"]),
                "ready (api list)": listed[name]["ready"],
                "ready (kedge status)": status[name]["ready"],
            }
    return answers


def _expected(state: str) -> dict[str, Any]:
    _, health, ready = STATES[state]
    owners = ("controller", "api", "api list", "dashboard page", "dashboard list", "kedge status")
    readies = ("ready (api)", "ready (api list)", "ready (kedge status)")
    return dict.fromkeys(owners, health) | dict.fromkeys(readies, ready)


def test_every_owner_reports_the_same_health(
    live: tuple[Live, Engine], stacks: dict[str, str], test_image: str, docker_client: Any
) -> None:
    server, engine = live
    for state, name in stacks.items():
        _apply(server, engine, stack=name, service=STATES[state][0], image=test_image)
    restarting = docker_client.containers.get(f"{stacks['restarting']}-job-1")
    deadline = time.monotonic() + 60
    # Docker's backoff doubles from 100 ms: after 5 restarts it waits 3.2 s between runs
    # of a few milliseconds, so a look mostly finds it restarting
    while restarting.attrs["RestartCount"] < 5:
        assert time.monotonic() < deadline, "the restarting container never restarted"
        time.sleep(0.2)
        restarting.reload()
    metrics = Metrics(CollectorRegistry())
    expected = {state: _expected(state) for state in stacks}
    answers: dict[str, Any] = {}
    deadline = time.monotonic() + 60
    while answers != expected:
        assert time.monotonic() < deadline, f"not what each owner should say: {answers}"
        time.sleep(0.5)
        answers = _round(server, engine, metrics, stacks)
