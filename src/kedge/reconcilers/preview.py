"""The preview of a stack: observe it through Kedge's labels, then plan with the pure planner.

The first half of a pass (STYLE.md, *shape*), without acting: what a pass would do, what
``kedge plan`` prints, what ``POST /plan`` answers and what the assessor compares. It lives
below ``api``, ``controller`` and ``cli`` so that all three share it.

- ``plan_stack`` raises ``PlanRefused`` when a part of the plan needs a person (a pass
  records the refused plan and fails);
- ``preview`` returns the refused plan instead, with its refusals, for those that only look.

Callers: ``controller.passes`` (a pass), ``controller.assessor`` (sync and drift),
``api.posted`` (``POST /plan``), ``cli.local`` (``kedge plan``, ``kedge up``'s remembered
pass).
"""

from __future__ import annotations

from dataclasses import dataclass

from kedge.planning import planner
from kedge.planning.actions import Plan, PlanOptions, PlanRefused
from kedge.planning.observed import ObservedStack
from kedge.reconcilers import observe
from kedge.reconcilers.engine import Engine
from kedge.specs.stack import StackSpec

__all__ = ["APPLYING", "SAFE", "Planned", "observe_for", "plan_stack", "preview"]

#: what a pass that is not an apply may do: nothing that pulls or builds again
SAFE = PlanOptions()
#: what an apply or a rollback may do: pull or build again what ``pull_policy`` says to
APPLYING = PlanOptions(refresh_images=True)


@dataclass(frozen=True, slots=True)
class Planned:
    """A plan and what it was made from."""

    spec: StackSpec | None
    observed: ObservedStack
    plan: Plan


def observe_for(engine: Engine, stack: str, spec: StackSpec | None) -> ObservedStack:
    """Observe ``stack`` with the images and external objects its desired spec names."""
    return observe.observe_desired(engine, stack, spec)


def plan_stack(
    engine: Engine, stack: str, spec: StackSpec | None, *, options: PlanOptions = SAFE
) -> Planned:
    """Observe and plan; ``spec`` None plans the stack's deletion. Raises ``PlanRefused``."""
    observed = observe_for(engine, stack, spec)
    return Planned(spec, observed, planner.plan(spec, observed, options=options))


def preview(
    engine: Engine,
    stack: str,
    spec: StackSpec | None,
    *,
    options: PlanOptions = SAFE,
    observed: ObservedStack | None = None,
) -> Planned:
    """As ``plan_stack``, but a refused plan is returned (``plan.is_refused``), not raised.
    ``observed``, when given, is the stack already observed (e.g. its part of a snapshot of
    every stack), so Docker is not asked again."""
    if observed is None:
        observed = observe_for(engine, stack, spec)
    try:
        plan = planner.plan(spec, observed, options=options)
    except PlanRefused as exc:
        plan = exc.plan
    return Planned(spec, observed, plan)
