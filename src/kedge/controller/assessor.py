"""The assessor: looks at one stack — observe, plan — and records its sync and health.

After every pass and on every resync the controller asks "what does this stack run now, and
is it what it should run?" with Kedge's cheap label queries and the pure planner, without
acting. The answer is stored as the stack's status and shown as ``kedge_stack_info``. The
version compared against is the applied one (the last that converged): after an
auto-rollback the stack keeps running its last good version without fighting it, and sync
stays OutOfSync while the desired version differs from the applied one.

Callers: the worker (after a pass), ``controller.resync`` (drift).
"""

from __future__ import annotations

from dataclasses import dataclass

from kedge import errors
from kedge.controller.status import Sync, derive_sync
from kedge.observability.metrics import Metrics
from kedge.planning import desired, health
from kedge.planning.actions import Plan
from kedge.planning.health import Health
from kedge.planning.observed import ObservedStack
from kedge.reconcilers import preview
from kedge.reconcilers.engine import Engine
from kedge.specs.stack import StackSpec
from kedge.store.protocol import Store
from kedge.store.records import StackStatus

__all__ = ["Assessment", "assess_stack", "compared_version", "record_assessment"]


@dataclass(frozen=True, slots=True)
class Assessment:
    """What one look at a stack found."""

    stack: str
    version: int | None  # the version compared against (applied, else desired)
    sync: Sync
    health: Health
    plan: Plan | None = None  # None when no plan could be made
    spec: StackSpec | None = None
    error: str | None = None

    @property
    def has_drift(self) -> bool:
        return self.plan is not None and not self.plan.is_empty


def compared_version(status: StackStatus) -> int | None:
    """The version a stack is assessed against: the applied one, else the desired one."""
    return status.applied_version or status.desired_version


def assess_stack(
    store: Store, engine: Engine, status: StackStatus, *, observed: ObservedStack | None = None
) -> Assessment:
    """Observe and plan the stack against its applied version; never acts. ``observed``, when
    given, is the stack's part of a snapshot of many (``observe.observe_all``, the resync)."""
    number = compared_version(status)
    if number is None:
        return Assessment(status.stack, None, Sync.UNKNOWN, Health.UNKNOWN)
    try:
        spec = store.versions.get(status.stack, number).spec()
        # a refused part is drift that only a person can resolve: it counts as drift
        planned = preview.preview(engine, spec.name, spec, observed=observed)
    except errors.KedgeError as exc:
        return Assessment(status.stack, number, Sync.UNKNOWN, Health.UNKNOWN, error=str(exc))
    plan = planned.plan
    found = health.stack_health(desired.desire(spec), planned.observed)
    sync = derive_sync(plan_actions=len(plan) + len(plan.refusals))
    if sync is Sync.SYNCED and status.desired_version != number:
        sync = Sync.OUT_OF_SYNC  # runs its applied version, but another one is desired
    return Assessment(status.stack, number, sync, found, plan=plan, spec=spec)


def record_assessment(
    store: Store, metrics: Metrics, status: StackStatus, seen: Assessment
) -> None:
    """Store the stack's sync and health and show them as its info series."""
    store.stacks.set_status(status.stack, sync=seen.sync.value, health=seen.health.value)
    metrics.set_stack_info(
        status.stack, version=status.applied_version, sync=seen.sync.value, health=seen.health.value
    )
