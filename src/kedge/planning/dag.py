"""The DAG of a plan: which actions each action must wait for.

``planning.steps`` places every action at a *step* (teardown, removal of objects, creation of
objects, then per depends_on layer its sub-steps) and gives it a ``Scope``; ``link`` turns
the steps into edges. An action comes after an action at an earlier step when that one's
scope reaches it:

- an action of the whole stack (teardown, networks, volumes, images: ``owner`` None) comes
  after every earlier action, and every later action comes after it;
- an action of a service (its containers' create, start, stop…, or a gate on it) comes after
  the earlier actions of the services in its ``reach``: its own service and every service it
  depends on, directly or not. A service's start therefore waits for the gates and starts of
  its own dependencies only, never for an unrelated service of the same depends_on layer;
- a create that names other containers (links, ``volumes_from``, a ``service:`` namespace)
  reaches every service (``reach`` None), as the waves made it wait for every earlier one.

Actions at the same step never wait for each other. The edges are reduced: an action lists
only what it does not already wait for through another (``[1,2] -> #3`` rather than
``[1,2,…] -> #3`` when 2 comes after 1). ``link`` then numbers the actions by level (1 + the
deepest level they come after), keeping the step order within a level; the result is a
topological order, as ``Plan`` promises. Pure; called by ``planning.steps`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kedge.planning.actions import Action

__all__ = ["STACK", "Scope", "link"]


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose action it is (``owner``), and whose earlier actions it waits for (``reach``)."""

    owner: str | None  # a service; None: the whole stack
    reach: frozenset[str] | None  # services; None: every one


#: the scope of an action on the whole stack: a barrier between what comes before and after
STACK = Scope(owner=None, reach=None)

Placed = tuple[tuple[int, ...], Scope, Action]


def link(placed: Sequence[Placed]) -> tuple[Action, ...]:
    """The actions with their ``id``, ``after`` and ``level``, in the plan's order.

    ``placed`` holds each action with its step and scope, in the order they were added; the
    order of addition is kept among actions of one step.
    """
    ordered = sorted(placed, key=lambda p: p[0])
    after: list[list[int]] = []  # by position in ``ordered``
    ancestors: list[int] = []  # a bit per earlier position
    levels: list[int] = []
    first = 0  # the first position of the current step
    for position, (step, scope, _) in enumerate(ordered):
        if step != ordered[first][0]:
            first = position
        kept, seen = [], 0
        for earlier in range(first - 1, -1, -1):  # latest first, so the reduction is exact
            if (seen >> earlier) & 1 or not _reaches(ordered[earlier][1], scope):
                continue
            kept.append(earlier)
            seen |= ancestors[earlier] | (1 << earlier)
        after.append(kept)
        ancestors.append(seen)
        levels.append(1 + max((levels[k] for k in kept), default=0))
    order = sorted(range(len(ordered)), key=lambda p: (levels[p], p))
    ids = {position: n for n, position in enumerate(order, start=1)}
    return tuple(
        ordered[p][2].model_copy(
            update={
                "id": ids[p],
                "after": tuple(sorted(ids[k] for k in after[p])),
                "level": levels[p],
            }
        )
        for p in order
    )


def _reaches(earlier: Scope, later: Scope) -> bool:
    """Whether an action of scope ``later`` waits for an earlier one of scope ``earlier``."""
    return earlier.owner is None or later.reach is None or earlier.owner in later.reach
