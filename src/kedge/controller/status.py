"""Status: a stack's sync, derived from a plan (issue 5); its health is ``planning.health``'s.

Sync says whether what runs is what is desired: ``Synced`` when the plan is empty,
``OutOfSync`` when it is not, ``Unknown`` when no plan could be made. Health says how what
runs is doing, by the one rule every wait also follows (``planning.health``).

Pure functions; callers: ``controller.assessor`` (after each pass and on each resync).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Sync", "derive_sync"]


class Sync(StrEnum):
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


def derive_sync(*, plan_actions: int | None) -> Sync:
    """Synced when the plan has no action, OutOfSync when it has, Unknown without a plan."""
    if plan_actions is None:
        return Sync.UNKNOWN
    return Sync.SYNCED if plan_actions == 0 else Sync.OUT_OF_SYNC
