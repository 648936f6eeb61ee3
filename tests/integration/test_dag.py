"""The DAG executor against the real daemon: a slow health gate holds back its dependents only.

With waves (before issue 15) every service of a depends_on layer waited for every gate of
that layer; now ``after-fast`` starts as soon as ``fast`` runs, while ``after-slow`` waits
for ``slow`` to be healthy a few seconds later.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kedge.reconcilers.health import parse_nanos
from kedge.specs.commands import CommandStatus
from tests.integration.converge import Kedge

pytestmark = pytest.mark.docker

IMAGE = "kedge-test/busybox:1"
SLEEPER = f"""
    image: {IMAGE}
    command: [sleep, "3600"]
    stop_signal: SIGKILL"""

SLOW_GATE = f"""
name: STACK
services:
  slow:
    image: {IMAGE}
    command: [sh, -c, "sleep 4; touch /tmp/ready; exec sleep 3600"]
    stop_signal: SIGKILL
    healthcheck: {{test: [CMD, test, -f, /tmp/ready], interval: 1s, timeout: 2s, retries: 30}}
  after-slow:{SLEEPER}
    depends_on: {{slow: {{condition: service_healthy}}}}
  fast:{SLEEPER}
  after-fast:{SLEEPER}
    depends_on: {{fast: {{condition: service_started}}}}
"""


@pytest.fixture
def kedge(tmp_path: Any, stack_name: str, test_image: str) -> Iterator[Kedge]:
    k = Kedge(tmp_path, stack_name)
    yield k
    k.close()


def test_a_slow_gate_does_not_hold_back_an_unrelated_service(kedge: Kedge, docker_client):
    done = kedge.up(SLOW_GATE)
    assert done.status is CommandStatus.DONE, done.error
    started = {
        name: parse_nanos(
            docker_client.containers.get(f"{kedge.stack}-{name}-1").attrs["State"]["StartedAt"]
        )
        / 1e9
        for name in ("slow", "after-slow", "fast", "after-fast")
    }
    assert started["slow"] + 3 < started["after-slow"]  # it waited for slow to be healthy
    assert started["after-fast"] < started["after-slow"] - 2  # and nothing else did
