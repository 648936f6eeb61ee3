"""The retry policy of a failed pass: whether another attempt comes, and after how long.

controller-runtime's model: terminal errors are counted and not retried; everything else
backs off. Whether a failure may clear by itself is its type (``KedgeError.temporary``): a
missing image or a registry that does not answer, a port in use, a daemon that does not
answer or misses a deadline, a container that did not get healthy. A spec refused by
validation or by the operator's policy, or a plan refused for data loss, is permanent and
waits for a new version. Here the controller decides how long it keeps trying:

- a command that carries the stack's desired state (APPLY, ROLLBACK, RECONCILE) keeps
  converging: retried with ``settings.converge`` (capped exponential backoff, no attempt
  limit) until it succeeds or a newer command supersedes its retry;
- an APPLY of a stack that says ``x-kedge.on_failure: rollback`` and has a version to go back
  to gets the short ``settings.retry``, then rolls back (Flux's remediation: retries, then
  rollback);
- DELETE and DEPLOY get ``settings.retry``.

The schedule lives in the store, not in memory: a retry is a PENDING command (``retry_of``,
``attempt``, ``not_before``), so a restarted controller takes it up where the old one left
it, and a new version's APPLY supersedes it.

Callers: the worker (the policy of each pass, and the rollback after the last attempt) and
the recovery of commands whose worker was lost (``controller.resync``).
"""

from __future__ import annotations

from kedge import errors
from kedge.controller import policy
from kedge.controller.policy import CONVERGING
from kedge.controller.settings import ControllerSettings
from kedge.specs.commands import Command, CommandType
from kedge.store.protocol import Store
from kedge.store.records import RetryPolicy

__all__ = ["CONVERGING", "policy_for", "recovery_policy", "rollback_target"]


def rollback_target(store: Store, failed: Command) -> int | None:
    """The version a failed APPLY rolls back to (``on_failure: rollback``), else None."""
    if failed.type is not CommandType.APPLY or failed.version is None:
        return None
    applied = store.stacks.get(failed.stack).applied_version
    if applied is None or applied == failed.version:
        return None  # no version to go back to: the spec need not be read
    meta = store.versions.get(failed.stack, failed.version).spec().meta
    return policy.rollback_to(failed, applied_version=applied, meta=meta)


def recovery_policy(settings: ControllerSettings, *, converging: bool) -> RetryPolicy:
    """A command whose worker was lost (a killed controller) did not fail by itself: it is
    retried after the short backoff, and a converging one with no attempt limit."""
    if not converging:
        return settings.retry
    return settings.retry.model_copy(update={"max_attempts": None})


def policy_for(command: Command, *, store: Store, settings: ControllerSettings) -> RetryPolicy:
    """The retry policy of ``command``'s temporary failures (a permanent one is never retried)."""
    if command.type not in CONVERGING:
        return settings.retry
    try:
        rolls_back = rollback_target(store, command) is not None
    except errors.KedgeError:  # the pass itself will meet and record the same problem
        return settings.retry
    return settings.retry if rolls_back else settings.converge
