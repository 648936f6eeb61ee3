"""The worker: claims a command, runs it as one pass, and records what came of it.

Each of the controller's N worker threads loops: claim the oldest runnable command (the
store guarantees one RUNNING per stack), run ``passes.run_command`` — observe → plan →
execute → finish — while a heartbeat keeps the hold fresh, then record the outcome: metrics,
one canonical log line, the stack's status, and the failure policy:

- a temporary failure (``KedgeError.temporary``) is retried with capped exponential backoff
  as ``controller.retries`` says (a stack keeps converging toward its desired version); a
  permanent one is not;
- a stack whose passes keep failing backs off (``StackBackoff``) instead of looping;
- a failed ``APPLY`` whose stack says ``x-kedge.on_failure: rollback`` enqueues a
  ``ROLLBACK`` to the last version that applied successfully, once no retry is left.

Callers: ``controller.Controller`` (threads), tests (one ``work`` call at a time).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

from kedge import errors
from kedge.controller import assessor, passes, retries
from kedge.controller.backoff import StackBackoff
from kedge.controller.doorbell import Doorbell
from kedge.controller.heartbeat import Heartbeat
from kedge.controller.settings import ControllerSettings
from kedge.observability.logs import bind_command
from kedge.observability.metrics import Metrics
from kedge.reconcilers.engine import Engine
from kedge.specs.commands import Command, CommandReason, CommandStatus, CommandType
from kedge.store.protocol import Store
from kedge.store.records import Finished, StackStatus

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
        done = finished.command
        kind = done.type.value
        self._metrics.passes.labels(type=kind, result=done.status.value.lower()).inc()
        self._metrics.pass_seconds.labels(type=kind).observe(seconds)
        self._metrics.commands.labels(type=kind, status=done.status.value).inc()
        if finished.retry is not None:
            self._metrics.commands.labels(type=kind, status="PENDING").inc()
            self._metrics.retries.labels(type=kind).inc()
        if done.type is CommandType.RECONCILE and (done.actions or 0) > 0:
            self._backoff.repaired(done.stack, now=self._clock())
            # a RECONCILE that had to act found drift (from an event or a resync) and healed it
            self._metrics.drift.labels(stack=done.stack, mode="heal").inc()

    def _follow_up(self, finished: Finished) -> None:
        """Status, backoff and auto-rollback after a pass; failures here never stop the worker."""
        try:
            self._record(finished)
        except errors.KedgeError as exc:
            log.warning("status not recorded", reason=str(exc))

    def _record(self, finished: Finished) -> None:
        done = finished.command
        stacks = self._store.stacks
        if done.status is CommandStatus.DONE:
            self._backoff.succeeded(done.stack)
            if done.type is CommandType.DELETE:
                stacks.set_status(
                    done.stack,
                    applied_version=None,
                    sync="Synced",
                    health="Missing",
                    last_error=None,
                )
                self._metrics.forget_stack(done.stack)
                return
            if done.type in retries.CONVERGING:
                stacks.set_status(done.stack, applied_version=done.version, last_error=None)
        elif done.status is CommandStatus.FAILED:
            if finished.retry is not None and finished.retry.not_before is not None:
                wait = (finished.retry.not_before - datetime.now(UTC)).total_seconds()
                self._doorbell.ring_in(max(wait, 0.0))
            if not done.options.get("spec_error"):  # a broken file is no failing stack
                self._backoff.failed(done.stack, now=self._clock())
            stacks.set_status(done.stack, last_error=done.error)
            if finished.retry is None:
                self._roll_back_if_asked(done)
        status = stacks.get(done.stack)
        seen = assessor.assess_stack(self._store, self._engine, status)
        assessor.record_assessment(self._store, self._metrics, status, seen)
        if done.status is CommandStatus.DONE:
            self._heal_drift_seen_after(status, seen)

    def _heal_drift_seen_after(self, status: StackStatus, seen: assessor.Assessment) -> None:
        """Drift right after a pass happened during it (a container removed meanwhile: its
        event was coalesced into the running pass, which had observed before): heal it now,
        backing off if it keeps happening."""
        if not seen.has_drift or seen.spec is None or seen.spec.meta.drift != "heal":
            return
        if status.applied_version is None:
            return
        delay = self._backoff.repair_delay(status.stack, now=self._clock())
        command = self._store.commands.enqueue_repair(
            status.stack,
            version=status.applied_version,
            reason=CommandReason.DRIFT,
            created_by="check after a pass",
            not_before=datetime.now(UTC) + timedelta(seconds=delay) if delay else None,
        )
        if command is None:
            return  # another command came meanwhile: it converges the stack
        self._metrics.commands.labels(type="RECONCILE", status="PENDING").inc()
        log.info("drift after the pass: reconcile", command_id=command.id, delay=delay)
        self._doorbell.ring_in(delay)

    def _roll_back_if_asked(self, failed: Command) -> None:
        applied = retries.rollback_target(self._store, failed)
        if applied is None:
            return
        rollback = self._store.commands.enqueue(
            failed.stack,
            CommandType.ROLLBACK,
            reason=CommandReason.AUTO_ROLLBACK,
            version=applied,
            created_by=f"on_failure: rollback after #{failed.id}",
        )
        self._metrics.commands.labels(type=rollback.type.value, status="PENDING").inc()
        log.warning(
            "auto-rollback", to_version=applied, failed_version=failed.version, rollback=rollback.id
        )
        self._doorbell.ring()
