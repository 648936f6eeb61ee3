"""The Docker events pump against a real daemon: a health gate subscribes to the process's
pump when one runs (no stream of its own), and judges the run from its events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kedge import errors
from kedge.planning.actions import WaitFor
from kedge.reconcilers import events
from kedge.reconcilers.engine import Engine
from kedge.reconcilers.health import HealthWatch
from kedge.specs import labels

pytestmark = pytest.mark.docker


@pytest.fixture
def engine() -> Iterator[Engine]:
    found = Engine.from_env()
    yield found
    found.close()


@pytest.mark.parametrize(("code", "outcome"), [(0, None), (3, "exited with code 3")])
def test_a_gate_waits_on_the_shared_pump(
    engine: Engine, test_image: str, stack_name: str, code: int, outcome: str | None
) -> None:
    cid = engine.create_container(
        f"{stack_name}-init-1",
        {
            "Image": test_image,
            "Cmd": ["sh", "-c", f"sleep 0.5; exit {code}"],
            "Labels": {labels.MANAGED: "true", labels.STACK: stack_name},
        },
    )
    other: list[dict[str, Any]] = []
    pump = events.DockerEvents(engine).start()
    try:
        pump.subscribe(other.append)  # another subscriber (the controller's source, say)
        with HealthWatch(engine, stack_name) as watch:
            assert watch._own is None  # the process's pump, not a stream per pass
            engine.start_container(cid)
            if outcome is None:
                watch.wait(cid, name="init", want=WaitFor.COMPLETED, timeout=30)
            else:
                with pytest.raises(errors.HealthError, match=outcome):
                    watch.wait(cid, name="init", want=WaitFor.COMPLETED, timeout=30)
    finally:
        pump.close()
    assert {"start", "die"} <= {e["Action"] for e in other}
