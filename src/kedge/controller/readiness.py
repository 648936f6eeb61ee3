"""Readiness: the health gate at the end of a pass that moves a stack to a version.

The executor gates only what ``depends_on`` asks for, as compose does; a service that nothing
depends on is started and left. A controller that rolls back on failure needs more: an
``APPLY`` is done only when every container of the new version runs, and is healthy where it
has a healthcheck (compose's ``up --wait``), within the service's ``x-kedge.health_timeout``.
A one-shot service (``restart: "no"``/``on-failure``) may have exited 0 instead.

Waiting is driven by Docker's events (``reconcilers.health.HealthWatch``), never by polling.
Callers: ``controller.passes.run_command`` (``wait=True``; the worker asks for it on APPLY and
ROLLBACK).
"""

from __future__ import annotations

from collections.abc import Callable

from kedge import errors
from kedge.planning.desired import desire
from kedge.reconcilers.engine import Engine
from kedge.reconcilers.health import HealthWatch
from kedge.reconcilers.observe import observe_stack
from kedge.specs.stack import StackSpec

__all__ = ["wait_ready"]


def _quiet(level: str, message: str) -> None:
    """The default log: say nothing."""


def wait_ready(
    engine: Engine, spec: StackSpec, *, log: Callable[[str, str], None] = _quiet
) -> None:
    """Return when every desired container is ready; raise ``HealthError`` naming the first
    that is not."""
    desired = desire(spec)
    with HealthWatch(engine, spec.name) as watch:  # subscribed before the first look
        observed = observe_stack(engine, spec.name)
        for name in sorted(desired.services):
            service = desired.services[name]
            timeout = spec.services[name].x_kedge.health_timeout.total_seconds()
            for container in observed.containers_of(name):
                if service.is_one_shot and container.state == "exited":
                    if container.exit_code != 0:
                        raise errors.HealthError(
                            f"{container.name} exited with code {container.exit_code}"
                        )
                    continue
                if container.state != "running":
                    raise errors.HealthError(f"{container.name} is {container.state}, not running")
                if service.healthcheck:
                    watch.wait_healthy(container.id, name=container.name, timeout=timeout)
                    log("info", f"ready: container:{container.name} is healthy")
