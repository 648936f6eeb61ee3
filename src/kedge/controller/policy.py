"""The follow-up policy: what comes after a pass, decided purely; the worker applies it.

kopf's shape: detect without side effects, then apply once. ``follow_ups(finished,
assessment, spec_meta, backoff_state, applied_version=...)`` reads what a pass left and
returns the list of things to do, in order:

- ``SetStatus``: a converging command (APPLY, ROLLBACK, RECONCILE) that is DONE made its
  version the applied one and clears the stack's error; a DONE DELETE leaves the stack
  Missing, with no applied version (``deleted``: its metrics series go too); a FAILED pass
  records its error;
- ``Retry``: a failed pass whose retry the store enqueued (``controller.retries`` chose the
  policy) wakes a worker when the retry may run;
- ``RollBack(to)``: a failed APPLY with no retry left, of a version that says
  ``x-kedge.on_failure: rollback``, goes back to the version that applied last;
- ``Reconcile(version, delay)``: drift seen right after a DONE pass happened during it (a
  container removed meanwhile: its event was coalesced into the running pass, which had
  observed before); the stack's ``x-kedge.drift: heal`` repairs it, after the stack's repair
  backoff.

The worker looks at the stack (``assessor``) against the status the pass leaves
(``status_after``), unless ``is_assessed`` says there is nothing left to look at.

Callers: ``controller.worker`` (applies the list); ``controller.retries`` (``CONVERGING``,
``rollback_to``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from kedge.specs.commands import Command, CommandStatus, CommandType
from kedge.specs.options import StackMeta
from kedge.store.protocol import KEEP, Keep
from kedge.store.records import Finished, StackStatus

if TYPE_CHECKING:  # the assessor observes Docker; the policy only reads what it found
    from kedge.controller.assessor import Assessment

__all__ = [
    "CONVERGING",
    "BackoffState",
    "FollowUp",
    "Reconcile",
    "Retry",
    "RollBack",
    "SetStatus",
    "follow_ups",
    "is_assessed",
    "rollback_to",
    "status_after",
]


#: commands after which the stack runs the command's version; their failures keep converging
CONVERGING = frozenset({CommandType.APPLY, CommandType.ROLLBACK, CommandType.RECONCILE})


@dataclass(frozen=True, slots=True)
class SetStatus:
    """Change the stack's status fields that are not ``KEEP``."""

    applied_version: int | Keep | None = KEEP
    last_error: str | Keep | None = KEEP
    sync: str | Keep = KEEP
    health: str | Keep = KEEP
    deleted: bool = False  # the stack is gone: forget its metrics series


@dataclass(frozen=True, slots=True)
class Retry:
    """Wake a worker when the retry the store enqueued may run."""

    command: int
    after: float  # seconds from now


@dataclass(frozen=True, slots=True)
class RollBack:
    """Enqueue a ROLLBACK of the failed APPLY's stack to version ``to``."""

    to: int


@dataclass(frozen=True, slots=True)
class Reconcile:
    """Enqueue a RECONCILE of version ``version`` that may run ``delay`` seconds from now."""

    version: int
    delay: float


FollowUp = SetStatus | Retry | RollBack | Reconcile


@dataclass(frozen=True, slots=True)
class BackoffState:
    """The time as the pass ends, and how long a new repair of its stack would wait."""

    now: datetime
    repair_delay: float = 0.0


def status_changes(finished: Finished) -> SetStatus | None:
    """What the pass changes in its stack's status, if anything."""
    done = finished.command
    if done.status is CommandStatus.DONE:
        if done.type is CommandType.DELETE:
            return SetStatus(
                applied_version=None, last_error=None, sync="Synced", health="Missing", deleted=True
            )
        if done.type in CONVERGING:
            return SetStatus(applied_version=done.version, last_error=None)
    elif done.status is CommandStatus.FAILED:
        return SetStatus(last_error=done.error)
    return None


def status_after(status: StackStatus, finished: Finished) -> StackStatus:
    """``status`` as the pass's ``SetStatus`` leaves it (what the worker assesses against)."""
    changes = status_changes(finished)
    if changes is None or isinstance(changes.applied_version, Keep):
        return status
    return status.model_copy(update={"applied_version": changes.applied_version})


def is_assessed(finished: Finished) -> bool:
    """Whether the stack is looked at after the pass: not once it was deleted."""
    done = finished.command
    return not (done.status is CommandStatus.DONE and done.type is CommandType.DELETE)


def rollback_to(failed: Command, *, applied_version: int | None, meta: StackMeta) -> int | None:
    """The version a failed APPLY rolls back to (``on_failure: rollback``), else None."""
    if failed.type is not CommandType.APPLY or failed.version is None:
        return None
    if applied_version is None or applied_version == failed.version:
        return None
    return applied_version if meta.on_failure == "rollback" else None


def follow_ups(
    finished: Finished,
    assessment: Assessment | None,
    spec_meta: StackMeta | None,
    backoff_state: BackoffState,
    *,
    applied_version: int | None,
) -> list[FollowUp]:
    """What to do after the pass, in order (see the module docstring). ``assessment`` is the
    look at the stack after it (None when not looked at), ``spec_meta`` the ``x-kedge`` of
    the failed command's version (None when not read), ``applied_version`` the stack's
    applied version before the pass."""
    found: list[FollowUp] = []
    changes = status_changes(finished)
    if changes is not None:
        found.append(changes)
    done, retry = finished.command, finished.retry
    if done.status is CommandStatus.FAILED:
        if retry is not None and retry.not_before is not None:
            wait = (retry.not_before - backoff_state.now).total_seconds()
            found.append(Retry(command=retry.id, after=max(wait, 0.0)))
        to = None
        if retry is None and spec_meta is not None:
            to = rollback_to(done, applied_version=applied_version, meta=spec_meta)
        if to is not None:
            found.append(RollBack(to=to))
    elif done.status is CommandStatus.DONE and assessment is not None:
        heal = _heal(assessment, applied_version=_applied(changes, applied_version))
        if heal is not None:
            found.append(replace(heal, delay=backoff_state.repair_delay))
    return found


def _applied(changes: SetStatus | None, before: int | None) -> int | None:
    """The applied version once ``changes`` are made."""
    if changes is None or isinstance(changes.applied_version, Keep):
        return before
    return changes.applied_version


def _heal(assessment: Assessment, *, applied_version: int | None) -> Reconcile | None:
    """A RECONCILE when the look found drift that the stack heals."""
    if not assessment.has_drift or assessment.spec is None or applied_version is None:
        return None
    if assessment.spec.meta.drift != "heal":
        return None
    return Reconcile(version=applied_version, delay=0.0)
