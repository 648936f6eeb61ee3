"""Log follows against a real Docker daemon: the probe's row S17. 45 follows of a running,
quiet container each held one of the 40 worker threads, so ``/healthz`` and every sync route
stopped answering — and stayed so after the clients left, until the container stopped.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from kedge.api.app import create_app
from kedge.controller import passes
from kedge.reconcilers.engine import Engine
from kedge.specs import digests, loader
from kedge.specs.commands import CommandType
from kedge.store.sqlite import SqliteStore
from tests.security.conftest import Served

pytestmark = pytest.mark.docker

STREAMS = 45
SPEC = """
name: {stack}
services:
  app:
    image: {image}
    command: ["sh", "-c", "echo started; exec sleep 3600"]
"""


@pytest.fixture
def running(
    tmp_path: Path, stack_name: str, test_image: str
) -> Iterator[tuple[Engine, str, SqliteStore]]:
    """A stack of one quiet, running container, applied by the real pass."""
    store = SqliteStore.open(tmp_path / "kedge.db")
    engine = Engine.from_env()
    path = tmp_path / f"{stack_name}.yaml"
    path.write_text(SPEC.format(stack=stack_name, image=test_image))
    spec = loader.load_file(path)
    recorded = store.versions.record(
        stack_name, loader.canonical(spec), digest=digests.digest(spec), source=path.name
    )
    number = recorded.version.number
    passes.run_now(store, engine, stack=stack_name, type=CommandType.APPLY, version=number)
    store.stacks.set_status(stack_name, applied_version=number, desired_version=number)
    yield engine, stack_name, store
    engine.close()
    store.close()


def _readers() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "logs")


def test_s17_log_follows_leave_every_route_answering(
    running: tuple[Engine, str, SqliteStore], live_server: Callable[..., Served]
) -> None:
    engine, stack, store = running
    served = live_server(create_app(store, engine))
    follow = f"{served.url}/api/v1/stacks/{stack}/logs"
    with contextlib.ExitStack() as held:
        client = held.enter_context(httpx.Client(timeout=10))
        streams = []
        for _ in range(STREAMS):
            response = held.enter_context(
                client.stream("GET", follow, params={"follow": True, "tail": 1})
            )
            assert response.status_code == 200
            streams.append(response)
        # each has its container's last line (an iterator dropped would close its stream)
        lines = [response.iter_lines() for response in streams]
        for found in lines:
            first = next(found)
            assert first.startswith(f"{stack}-app-1 | ")
            assert first.endswith("started")
        with httpx.Client(timeout=5) as other:
            assert other.get(f"{served.url}/healthz").status_code == 200
            assert other.get(f"{served.url}/api/v1/stacks").status_code == 200
            assert other.get(f"{served.url}/readyz").status_code == 200
        deadline = time.monotonic() + 20
        while _readers() < STREAMS:  # each answer starts its reader as its body begins
            assert time.monotonic() < deadline, f"{_readers()} readers for {STREAMS} streams"
            time.sleep(0.2)
    deadline = time.monotonic() + 20
    while _readers():  # the clients left: their Docker streams are closed, readers end
        assert time.monotonic() < deadline, f"{_readers()} log readers outlived their clients"
        time.sleep(0.2)
    with httpx.Client(timeout=5) as other:
        assert other.get(f"{served.url}/healthz").status_code == 200
