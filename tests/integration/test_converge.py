"""Convergence against the real daemon: apply, no-op, change, rollback, delete, drift, health.

Each test runs the whole pass (store → observe → plan → execute → finish) on a unique stack
and checks what Docker really has afterwards, through the docker SDK.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from kedge import errors
from kedge.specs import labels
from kedge.specs.commands import CommandStatus
from tests.integration.converge import Kedge

pytestmark = pytest.mark.docker

IMAGE = "kedge-test/busybox:1"
SLEEPER = f"""
    image: {IMAGE}
    command: [sleep, "3600"]
    stop_signal: SIGKILL"""
CHECK = "{test: [CMD, test, -f, /tmp/ready], interval: 1s, timeout: 2s, retries: 3}"

DAG = f"""
name: STACK
services:
  db:
    image: {IMAGE}
    command: [sh, -c, "touch /tmp/ready; exec sleep 3600"]
    stop_signal: SIGKILL
    healthcheck: {CHECK}
    volumes: ["data:/data"]
    networks: [back]
  cache:{SLEEPER}
    networks: [back]
  init:
    image: {IMAGE}
    command: [sh, -c, "echo seeded > /data/seed"]
    volumes: ["data:/data"]
    networks: [back]
    depends_on: {{db: {{condition: service_healthy}}}}
  api:
    image: {IMAGE}
    command: [sh, -c, "test -f /data/seed && touch /tmp/ready; exec sleep 3600"]
    stop_signal: SIGKILL
    healthcheck: {CHECK}
    volumes: ["data:/data"]
    networks: [back, front]
    depends_on:
      db: {{condition: service_healthy}}
      cache: {{condition: service_started}}
      init: {{condition: service_completed_successfully}}
  web:{SLEEPER}
    environment: {{COLOUR: blue}}
    networks: [front]
    depends_on: {{api: {{condition: service_healthy}}}}
volumes:
  data: {{}}
networks:
  front: {{}}
  back: {{}}
"""


@pytest.fixture
def kedge(tmp_path: Any, stack_name: str, test_image: str) -> Iterator[Kedge]:
    k = Kedge(tmp_path, stack_name)
    yield k
    k.close()


def containers(client: Any, stack: str) -> dict[str, Any]:
    found = client.containers.list(all=True, filters={"label": [f"{labels.STACK}={stack}"]})
    return {c.name: c for c in found}


def ids(client: Any, stack: str) -> dict[str, str]:
    return {name: c.id for name, c in containers(client, stack).items()}


def test_cold_apply_converges_healthy_and_a_second_pass_does_nothing(kedge: Kedge, docker_client):
    stack = kedge.stack
    first = kedge.up(DAG)
    assert first.status is CommandStatus.DONE, first.error
    found = containers(docker_client, stack)
    assert sorted(found) == [f"{stack}-{s}-1" for s in ("api", "cache", "db", "init", "web")]
    for name in ("api", "db"):
        assert found[f"{stack}-{name}-1"].attrs["State"]["Health"]["Status"] == "healthy"
    assert found[f"{stack}-web-1"].status == "running"
    assert found[f"{stack}-init-1"].attrs["State"]["ExitCode"] == 0
    nets = docker_client.networks.list(filters={"label": [f"{labels.STACK}={stack}"]})
    assert sorted(n.name for n in nets) == [f"{stack}_back", f"{stack}_front"]
    vols = docker_client.volumes.list(filters={"label": [f"{labels.STACK}={stack}"]})
    assert [v.name for v in vols] == [f"{stack}_data"]
    web = found[f"{stack}-web-1"].labels
    assert web[labels.MANAGED] == "true"
    assert web[labels.VERSION] == "1"
    assert web[labels.COMMAND] == str(first.id)
    assert web[labels.SERVICE] == "web"
    assert web[labels.NUMBER] == "1"
    # dependents started only after their gates: api after init completed, web after api
    started = {n: c.attrs["State"]["StartedAt"] for n, c in found.items()}
    assert started[f"{stack}-init-1"] < started[f"{stack}-api-1"] < started[f"{stack}-web-1"]

    before = ids(docker_client, stack)
    second = kedge.up(DAG)
    assert second.status is CommandStatus.DONE
    assert second.plan == ""
    assert ids(docker_client, stack) == before


def test_changing_one_service_recreates_only_it(kedge: Kedge, docker_client):
    kedge.up(DAG)
    before = ids(docker_client, kedge.stack)
    changed = kedge.up(DAG.replace("COLOUR: blue", "COLOUR: green"))
    assert changed.status is CommandStatus.DONE, changed.error
    after = ids(docker_client, kedge.stack)
    web = f"{kedge.stack}-web-1"
    assert after[web] != before[web]
    assert {n: i for n, i in after.items() if n != web} == {
        n: i for n, i in before.items() if n != web
    }
    assert docker_client.containers.get(web).attrs["Config"]["Env"][0] == "COLOUR=green"
    touched = [line for line in (changed.plan or "").splitlines() if "container:" in line]
    assert touched
    assert all(f"container:{web}:" in line for line in touched)


def test_rollback_restores_the_earlier_config_hashes(kedge: Kedge, docker_client):
    kedge.up(DAG)
    v1 = {
        n: c.labels[labels.CONFIG_HASH] for n, c in containers(docker_client, kedge.stack).items()
    }
    kedge.up(DAG.replace("COLOUR: blue", "COLOUR: green"))
    v2 = {
        n: c.labels[labels.CONFIG_HASH] for n, c in containers(docker_client, kedge.stack).items()
    }
    assert v2 != v1
    back = kedge.rollback(1)
    assert back.status is CommandStatus.DONE, back.error
    found = containers(docker_client, kedge.stack)
    assert {n: c.labels[labels.CONFIG_HASH] for n, c in found.items()} == v1
    assert found[f"{kedge.stack}-web-1"].labels[labels.VERSION] == "1"


def test_delete_removes_every_labelled_object_but_volumes_unless_asked(kedge: Kedge, docker_client):
    kedge.up(DAG)
    flt = {"label": [f"{labels.STACK}={kedge.stack}"]}
    gone = kedge.down()
    assert gone.status is CommandStatus.DONE, gone.error
    assert docker_client.containers.list(all=True, filters=flt) == []
    assert docker_client.networks.list(filters=flt) == []
    assert [v.name for v in docker_client.volumes.list(filters=flt)] == [f"{kedge.stack}_data"]
    kedge.down(volumes=True)
    assert docker_client.volumes.list(filters=flt) == []


def test_a_container_removed_by_hand_is_restored_alone(kedge: Kedge, docker_client):
    kedge.up(DAG)
    before = ids(docker_client, kedge.stack)
    cache = f"{kedge.stack}-cache-1"
    docker_client.containers.get(cache).remove(force=True)
    again = kedge.up(DAG)
    assert again.status is CommandStatus.DONE, again.error
    after = ids(docker_client, kedge.stack)
    assert after[cache] != before[cache]
    assert {n: i for n, i in after.items() if n != cache} == {
        n: i for n, i in before.items() if n != cache
    }
    assert docker_client.containers.get(cache).status == "running"


def test_strangers_survive_apply_change_and_delete(kedge: Kedge, docker_client, test_image):
    unlabelled = docker_client.containers.create(
        test_image, ["sleep", "60"], name=f"{kedge.stack}-x"
    )
    other = docker_client.containers.create(
        test_image,
        ["sleep", "60"],
        name=f"{kedge.stack}o-web-1",
        labels={labels.MANAGED: "true", labels.STACK: f"{kedge.stack}o", labels.SERVICE: "web"},
    )
    try:
        kedge.up(DAG)
        kedge.up(DAG.replace("COLOUR: blue", "COLOUR: green"))
        kedge.down(volumes=True)
        for stranger in (unlabelled, other):
            stranger.reload()
            assert stranger.status == "created"
    finally:
        unlabelled.remove(force=True)
        other.remove(force=True)


def test_an_unhealthy_dependency_fails_the_pass_and_its_dependents_never_start(
    kedge: Kedge, docker_client
):
    broken = DAG.replace(
        'command: [sh, -c, "touch /tmp/ready; exec sleep 3600"]', "command: [sleep, '3600']"
    ).replace("retries: 3", "retries: 1")
    with pytest.raises(errors.HealthError, match=rf"service:db .*{kedge.stack}-db-1 is unhealthy"):
        kedge.up(broken)
    failed = kedge.store.commands.list(stack=kedge.stack, limit=1).items[0]
    assert failed.status is CommandStatus.FAILED
    assert "unhealthy" in (failed.error or "")
    found = containers(docker_client, kedge.stack)
    assert found[f"{kedge.stack}-cache-1"].status == "running"
    for dependent in ("init", "api", "web"):  # created with the others, never started
        assert found[f"{kedge.stack}-{dependent}-1"].status == "created"


WEB = f"""
name: STACK
services:
  web:
    image: {IMAGE}
    # slow to start, so that a stop-first update would leave a gap the poller sees
    command:
      - sh
      - -c
      - mkdir -p /www && echo VERSION > /www/index.html && sleep 1 && exec httpd -f -p 8080 -h /www
    stop_signal: SIGKILL
    healthcheck:
      test: [CMD, wget, -q, -O, /dev/null, "http://127.0.0.1:8080/"]
      interval: 1s
      retries: 3
    x-kedge: {{update: start-first}}
  poller:
    image: {IMAGE}
    stop_signal: SIGKILL
    depends_on: {{web: {{condition: service_healthy}}}}
    command:
      - sh
      - -c
      # busybox-static cannot resolve names in wget (no NSS): resolve with nslookup, as a
      # client would through Docker's DNS, then ask the address it got. Like clients of
      # round-robin DNS, a request that fails is tried once more on a fresh lookup (a request
      # can race the old copy leaving the network); a second failure is a FAIL.
      - >-
        ask() {{
        ip=$$(nslookup web 127.0.0.11 2>/dev/null | awk '/^Address: /{{print $$2}}' | head -1);
        [ -n "$$ip" ] && timeout 1 wget -q -O - "http://$$ip:8080/" 2>/dev/null; }};
        while true; do ask || ask || echo FAIL; sleep 0.1; done
"""


def test_start_first_keeps_the_service_answering_throughout_an_update(kedge: Kedge, docker_client):
    first = kedge.up(WEB.replace("VERSION", "one"))
    assert first.status is CommandStatus.DONE, first.error
    poller = docker_client.containers.get(f"{kedge.stack}-poller-1")
    old = docker_client.containers.get(f"{kedge.stack}-web-1").id
    updated = kedge.up(WEB.replace("VERSION", "two"))
    assert updated.status is CommandStatus.DONE, updated.error
    assert "start-first" in (updated.plan or "")
    new = docker_client.containers.get(f"{kedge.stack}-web-1")
    assert new.id != old
    answers = _answers_until(poller, "two")
    assert "one" in answers
    assert "FAIL" not in answers[answers.index("one") :]


def _answers_until(poller: Any, last: str, *, within: float = 10.0) -> list[str]:
    """The poller's answers once its latest is ``last`` (it polls ten times a second)."""
    deadline = time.monotonic() + within
    answers = poller.logs().decode().split()
    while answers[-1:] != [last] and time.monotonic() < deadline:
        time.sleep(0.2)
        answers = poller.logs().decode().split()
    assert answers[-1:] == [last], answers[-20:]
    return answers
