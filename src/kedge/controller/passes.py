"""One reconcile pass of one command: observe → plan → execute → finish (STYLE.md, *shape*).

``run_command`` takes a command the caller has claimed (RUNNING, with its fencing token),
reads its desired version from the store, observes the stack through Kedge's labels, plans
with the pure planner, records the plan, carries it out and finishes the command DONE,
FAILED or CANCELLED, logging each action and its outcome to the command's log. A failure is
recorded and raised again for the caller to report. What a running pass waits for goes to
``echo`` alone (the CLI prints it; the log keeps each action's start and end). The first
half, observe and plan, is ``reconcilers.preview``'s, shared with ``kedge plan`` and the API.

Callers: the controller's worker, and the local verbs (``kedge up``/``down``/``rollback``)
through ``runtime.Local``.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Mapping
from typing import Any

from kedge import errors
from kedge.planning import health as health_rule
from kedge.planning.actions import PlanOptions, PlanRefused
from kedge.planning.desired import desire
from kedge.planning.health import Health
from kedge.planning.observed import ObservedStack
from kedge.reconcilers import executor, preview
from kedge.reconcilers.desired import Desired
from kedge.reconcilers.engine import Engine
from kedge.specs import policy as host_policy
from kedge.specs.commands import Command, CommandReason, CommandStatus, CommandType
from kedge.specs.policy import Policy
from kedge.specs.stack import StackSpec
from kedge.store import RetryPolicy, Store

__all__ = [
    "desired_of",
    "local_author",
    "run_command",
    "run_now",
    "run_queued",
    "stack_health",
]

#: how often a running pass asks the store whether it was cancelled (it is a write)
CANCEL_CHECK_EVERY = 1.0

Echo = Callable[[str, str], None]
_REFRESHING = frozenset({CommandType.APPLY, CommandType.ROLLBACK})


def desired_of(command: Command, store: Store) -> StackSpec | None:
    """The desired spec of a command: its version's document, or None for a delete."""
    if command.type is CommandType.DELETE:
        return None
    if command.version is None:
        raise errors.PlanError(f"command #{command.id} ({command.type}) names no version")
    return store.versions.get(command.stack, command.version).spec()


def run_command(
    command: Command,
    *,
    store: Store,
    engine: Engine,
    echo: Echo | None = None,
    parallel: int = executor.PARALLEL,
    retry: RetryPolicy | None = None,
    policy: Policy | None = None,
) -> executor.Outcome:
    """Carry out one claimed command and finish it; raises its failure after recording it.

    ``retry`` (the controller's policy) enqueues another attempt of a temporary failure.
    With the operator's host-safety ``policy``, a version it refuses fails before Docker is
    asked (a rollback to a version recorded under a laxer policy, a version written to the
    store by another way in).
    """
    pass_ = _Pass(command, store=store, echo=echo)
    try:
        spec = desired_of(command, store)
        if policy is not None and spec is not None:
            _must_be_allowed(spec, policy, version=command.version)
        options = PlanOptions.from_command(
            command.options, refresh_images=command.type in _REFRESHING
        )
        try:
            planned = preview.plan_stack(engine, command.stack, spec, options=options)
        except PlanRefused as exc:
            store.commands.record_plan(command.id, token=command.token, plan=exc.plan.render())
            raise
        plan = planned.plan
        store.commands.record_plan(command.id, token=command.token, plan=plan.render())
        pass_.log("info", f"planned: {plan.summary()}")
        if spec is not None and plan.is_empty and _is_gated_retry(command):
            _must_run_healthy(spec, planned.observed)
        desired = Desired(command.stack, spec, version=command.version, command=command.id)
        outcome = executor.execute(
            engine,
            plan,
            desired=desired,
            log=pass_.log,
            is_cancelled=pass_.is_cancelled,
            parallel=parallel,
            settle=bool(command.options.get("wait", False)),
            progress=pass_.say,
        )
    except errors.CancelledError as exc:
        pass_.finish(CommandStatus.CANCELLED, error=str(exc))
        raise
    except errors.KedgeError as exc:
        pass_.finish(CommandStatus.FAILED, error=str(exc), retry=retry if exc.temporary else None)
        raise
    pass_.finish(CommandStatus.DONE, outcome=outcome.summary(), actions=outcome.actions)
    return outcome


def _must_be_allowed(spec: StackSpec, policy: Policy, *, version: int | None) -> None:
    where = f"{spec.name} version {version}"
    refused = host_policy.errors(
        spec, policy, locate=lambda path: errors.Location(where, path=".".join(map(str, path)))
    )
    if refused:
        raise errors.SpecErrors(refused)


def stack_health(spec: StackSpec, observed: ObservedStack) -> Health:
    """The stack's health as observed, by the one rule of ``planning.health``."""
    return health_rule.stack_health(desire(spec), observed)


def _is_gated_retry(command: Command) -> bool:
    return command.retry_of is not None and bool(command.options.get("wait", False))


def _must_run_healthy(spec: StackSpec, observed: ObservedStack) -> None:
    """A retry of an APPLY or ROLLBACK whose health gate failed finds its containers already
    there and nothing to do; it is done only when they run healthy now, else it fails
    (``HealthError``, temporary) and is tried again after its backoff: no wait in the pass."""
    health = stack_health(spec, observed)
    if health is not Health.HEALTHY:
        raise errors.HealthError(
            f"stack {spec.name} is {health.value} and a retry has nothing to change: it waits"
            " for its containers to recover (kedge describe stack shows which)"
        )


def run_now(
    store: Store,
    engine: Engine,
    *,
    stack: str,
    type: CommandType,
    version: int | None = None,
    options: Mapping[str, Any] | None = None,
    reason: CommandReason = CommandReason.CLI,
    echo: Echo | None = None,
) -> Command:
    """Enqueue a command and carry it out in this process (the local CLI verbs, tests)."""
    command = store.commands.enqueue(
        stack, type, reason=reason, version=version, options=options, created_by=local_author()
    )
    return run_queued(store, engine, command, echo=echo)


def run_queued(
    store: Store, engine: Engine, command: Command, *, echo: Echo | None = None
) -> Command:
    """Claim ``command``, just enqueued, and carry it out in this process (``kedge up``
    enqueues its APPLY with its version, ``versions.record``).

    Returns the finished command; a failed pass is recorded and raised. Refuses to run when
    the store holds older PENDING commands (a server's queue): claiming would take those.
    """
    waiting = store.commands.list(status=CommandStatus.PENDING, limit=2)
    others = [c for c in waiting.items if c.id != command.id]
    if others:
        store.commands.cancel(command.id, by=local_author())
        raise errors.ConflictError(
            f"the store holds pending command #{others[0].id} of stack {others[0].stack};"
            " run it with `kedge serve`, or use another --db"
        )
    claimed = store.commands.claim(f"cli:{platform.node()}:{os.getpid()}")
    if claimed is None or claimed.id != command.id:
        store.commands.cancel(command.id, by=local_author())
        raise errors.ConflictError(f"stack {command.stack} is busy with another running command")
    run_command(claimed, store=store, engine=engine, echo=echo)
    return store.commands.get(command.id)


def local_author() -> str:
    """``created_by`` of what the local verbs record and enqueue: ``cli:USER``."""
    return f"cli:{os.environ.get('USER', '')}".rstrip(":")


class _Pass:
    """The store side of one pass: its log, its cancel check, its end."""

    def __init__(self, command: Command, *, store: Store, echo: Echo | None) -> None:
        self.command = command
        self.store = store
        self.echo = echo
        self.checked = time.monotonic()

    def log(self, level: str, message: str) -> None:
        self.store.commands.log(
            self.command.id, token=self.command.token, message=message, level=level
        )
        if self.echo is not None:
            self.echo(level, message)

    def say(self, message: str) -> None:
        """Progress for whoever watches (``kedge up``/``down``), not kept in the log."""
        if self.echo is not None:
            self.echo("info", message)

    def is_cancelled(self) -> bool:
        if time.monotonic() - self.checked < CANCEL_CHECK_EVERY:
            return False
        self.checked = time.monotonic()
        held = self.store.commands.heartbeat(self.command.id, token=self.command.token)
        return held.cancel_requested

    def finish(
        self,
        status: CommandStatus,
        *,
        error: str | None = None,
        outcome: str | None = None,
        actions: int | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.store.commands.finish(
            self.command.id,
            token=self.command.token,
            status=status,
            error=error,
            outcome=outcome,
            actions=actions,
            retry=retry,
        )
