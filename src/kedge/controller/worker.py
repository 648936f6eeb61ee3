"""The worker: claims a command, runs it as one pass, and records what came of it.

Each of the controller's N worker threads loops: claim the oldest runnable command (the
store guarantees one RUNNING per stack), run ``passes.run_command`` — observe → plan →
execute → finish — while a heartbeat keeps the hold fresh (a pass that crashes is finished
FAILED, never left RUNNING), then record the outcome: metrics and the stack's backoff (a
stack whose passes keep failing, or keep being repaired, waits longer), one canonical log
line, and the follow-ups. What follows a pass — the stack's status, waking for a retry
(``controller.retries`` chose its policy), an auto-rollback, a repair of drift seen right
after — is decided by the pure ``controller.policy`` and applied here, in its order.

Callers: ``controller.Controller`` (threads), tests (one ``work`` call at a time).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from kedge import errors
from kedge.controller import assessor, passes, policy, repairs, retries
from kedge.controller.backoff import StackBackoff
from kedge.controller.doorbell import Doorbell
from kedge.controller.heartbeat import Heartbeat
from kedge.controller.settings import ControllerSettings
from kedge.observability.logs import bind_command
from kedge.observability.metrics import Metrics
from kedge.reconcilers.engine import Engine
from kedge.specs.commands import Command, CommandReason, CommandStatus, CommandType
from kedge.specs.options import StackMeta
from kedge.store.protocol import Store
from kedge.store.records import Finished

__all__ = ["Worker"]

log = structlog.get_logger(__name__)

#: commands that are done only when the version runs healthy (the gate of on_failure: rollback)
_GATED = frozenset({CommandType.APPLY, CommandType.ROLLBACK})


def _gated(command: Command) -> Command:
    """An APPLY or ROLLBACK is done only when what it started is healthy (``kedge up
    --wait``): the health gate that ``on_failure: rollback`` acts on."""
    if command.type not in _GATED or command.options.get("wait") is not None:
        return command
    return command.model_copy(update={"options": {**command.options, "wait": True}})


class Worker:
    """One worker thread's loop and the handling of one command."""

    def __init__(
        self,
        name: str,
        *,
        store: Store,
        engine: Engine,
        metrics: Metrics,
        settings: ControllerSettings,
        doorbell: Doorbell,
        backoff: StackBackoff,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._store, self._engine, self._metrics = store, engine, metrics
        self._settings, self._doorbell, self._backoff = settings, doorbell, backoff
        self._clock = clock

    def run(self, stop: threading.Event) -> None:
        """Claim and run commands until ``stop`` is set; a running pass is finished first."""
        while not stop.is_set():
            seen = self._doorbell.rings
            command = self._claim()
            if command is None:
                self._doorbell.wait(seen, timeout=self._settings.poll)
                continue
            self.work(command)

    def _claim(self) -> Command | None:
        try:
            return self._store.commands.claim(self.name)
        except errors.StoreError as exc:
            log.warning("claim failed", worker=self.name, reason=str(exc))
            return None

    def work(self, command: Command) -> Finished:
        """Run one claimed command to its end and record the outcome."""
        started = self._clock()
        with bind_command(command.stack, command.id):
            log.info(
                "pass started",
                type=command.type.value,
                version=command.version,
                reason=command.reason.value,
                attempt=command.attempt,
                worker=self.name,
            )
            finished = self._run(command)
            seconds = self._clock() - started
            self._count(finished, seconds=seconds)
            self._follow_up(finished)
            done = finished.command
            log.info(
                "pass finished",
                type=done.type.value,
                result=done.status.value.lower(),
                actions=done.actions,
                outcome=done.outcome,
                error=done.error,
                seconds=round(seconds, 3),
                retry=None if finished.retry is None else finished.retry.id,
            )
        return finished

    def _run(self, command: Command) -> Finished:
        spec_error = command.options.get("spec_error")
        if spec_error:  # the folder source's record of a broken file: nothing to run
            return self._store.commands.finish(
                command.id,
                token=command.token,
                status=CommandStatus.FAILED,
                error=str(spec_error),
                outcome="spec rejected; the stack keeps its last good version",
            )
        with Heartbeat(self._store, command, every=self._settings.heartbeat):
            try:
                passes.run_command(
                    _gated(command),
                    store=self._store,
                    engine=self._engine,
                    retry=retries.policy_for(command, store=self._store, settings=self._settings),
                    policy=self._settings.policy,
                )
            except errors.FencingError as exc:
                log.warning("pass abandoned: hold lost", reason=str(exc))
            except errors.KedgeError as exc:  # recorded by run_command; counted here
                if isinstance(exc, errors.EngineError):
                    self._metrics.docker_errors.labels(kind=type(exc).__name__).inc()
            except Exception as exc:  # a bug must not leave the command RUNNING
                log.exception("pass crashed")
                self._fail_crashed(command, exc)
        return self._finished(command)

    def _fail_crashed(self, command: Command, exc: Exception) -> None:
        with contextlib.suppress(errors.FencingError):  # finished by the pass before it crashed
            self._store.commands.finish(
                command.id,
                token=command.token,
                status=CommandStatus.FAILED,
                error=f"internal error: {type(exc).__name__}: {exc}",
            )

    def _finished(self, command: Command) -> Finished:
        """The command as it ended, and the retry the policy enqueued for it, if any."""
        done = self._store.commands.get(command.id)
        retry = None
        if done.status is CommandStatus.FAILED:
            pending = self._store.commands.list(
                stack=command.stack, status=CommandStatus.PENDING, limit=20
            )
            retry = next((c for c in pending.items if c.retry_of == command.id), None)
        return Finished(command=done, retry=retry)

    def _count(self, finished: Finished, *, seconds: float) -> None:
        """What happened, in the metrics and the stack's backoff (the retry is counted as a
        command where every command is, ``resync.count_enqueued``)."""
        done = finished.command
        kind = done.type.value
        self._metrics.passes.labels(type=kind, result=done.status.value.lower()).inc()
        self._metrics.pass_seconds.labels(type=kind).observe(seconds)
        self._metrics.commands.labels(type=kind, status=done.status.value).inc()
        if finished.retry is not None:
            self._metrics.retries.labels(type=kind).inc()
        if done.status is CommandStatus.DONE:
            self._backoff.succeeded(done.stack)
        elif done.status is CommandStatus.FAILED and not done.options.get("spec_error"):
            self._backoff.failed(done.stack, now=self._clock())  # a broken file is no failing stack
        if done.type is CommandType.RECONCILE and (done.actions or 0) > 0:
            self._backoff.repaired(done.stack, now=self._clock())
            # a RECONCILE that had to act found drift (from an event or a resync) and healed it
            self._metrics.drift.labels(stack=done.stack, mode="heal").inc()

    def _follow_up(self, finished: Finished) -> None:
        """Apply the policy's follow-ups; failures here never stop the worker."""
        try:
            self._apply_follow_ups(finished)
        except errors.KedgeError as exc:
            log.warning("status not recorded", reason=str(exc))

    def _apply_follow_ups(self, finished: Finished) -> None:
        done = finished.command
        before = self._store.stacks.get(done.stack)
        after = policy.status_after(before, finished)
        seen = None
        if policy.is_assessed(finished):
            seen = assessor.assess_stack(self._store, self._engine, after)
        state = policy.BackoffState(
            now=datetime.now(UTC),
            repair_delay=self._backoff.repair_delay(done.stack, now=self._clock()),
        )
        applied = before.applied_version
        meta = self._meta_of(finished, applied_version=applied)
        todo = policy.follow_ups(finished, seen, meta, state, applied_version=applied)
        # the status first, then what the look found (sync and health), then the commands
        for follow_up in todo:
            if isinstance(follow_up, policy.SetStatus):
                self._apply(follow_up, done)
        if seen is not None:
            assessor.record_assessment(self._store, self._metrics, after, seen)
        for follow_up in todo:
            if not isinstance(follow_up, policy.SetStatus):
                self._apply(follow_up, done)

    def _meta_of(self, finished: Finished, *, applied_version: int | None) -> StackMeta | None:
        """The ``x-kedge`` of a failed APPLY's version, which says whether it rolls back;
        read only when there is a version to go back to."""
        done = finished.command
        if done.status is not CommandStatus.FAILED or finished.retry is not None:
            return None
        if done.type is not CommandType.APPLY or done.version in (None, applied_version):
            return None
        if applied_version is None:
            return None
        try:
            return self._store.versions.get(done.stack, done.version).spec().meta
        except errors.KedgeError as exc:  # the status is recorded all the same
            log.warning("no auto-rollback: the version's spec is unreadable", reason=str(exc))
            return None

    def _apply(self, follow_up: policy.FollowUp, done: Command) -> None:
        match follow_up:
            case policy.SetStatus():
                self._set_status(done.stack, follow_up)
            case policy.Retry(after=after):
                self._doorbell.ring_in(after)
            case policy.RollBack(to=to):
                self._roll_back(done, to=to)
            case policy.Reconcile(version=version, delay=delay):
                repairs.enqueue_reconcile(
                    self._store,
                    done.stack,
                    version=version,
                    reason=CommandReason.DRIFT,
                    created_by="check after a pass",
                    delay=delay,
                    wake=self._doorbell.ring_in,
                )

    def _set_status(self, stack: str, changes: policy.SetStatus) -> None:
        self._store.stacks.set_status(
            stack,
            applied_version=changes.applied_version,
            last_error=changes.last_error,
            sync=changes.sync,
            health=changes.health,
        )
        if changes.deleted:
            self._metrics.forget_stack(stack)

    def _roll_back(self, failed: Command, *, to: int) -> None:
        rollback = self._store.commands.enqueue(
            failed.stack,
            CommandType.ROLLBACK,
            reason=CommandReason.AUTO_ROLLBACK,
            version=to,
            created_by=f"on_failure: rollback after #{failed.id}",
        )
        log.warning(
            "auto-rollback", to_version=to, failed_version=failed.version, rollback=rollback.id
        )
        self._doorbell.ring()
