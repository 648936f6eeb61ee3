"""The Docker events source: a managed container that dies, is destroyed, turns unhealthy or
is OOM-killed makes its stack reconcile.

The stream is filtered by Kedge's label, so the daemon sends only managed containers'
events. An event names a stack and nothing more (STYLE.md, *Do this* 3): the worker reads
the state again. Events are coalesced: a stack that already has a PENDING or RUNNING command
gets none (its pass will observe anyway), and a stack repaired again and again waits longer
each time (``StackBackoff.repair_delay``). When the stream ends (the daemon restarted) it is
re-opened with capped exponential backoff, and a full resync follows, since events may have
been missed meanwhile.

Callers: ``controller.Controller`` (a thread).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from kedge import errors
from kedge.controller.backoff import StackBackoff
from kedge.observability.metrics import Metrics
from kedge.reconcilers.engine import Engine, EventStream
from kedge.specs import labels
from kedge.specs.commands import CommandReason, CommandStatus
from kedge.store.protocol import Store

__all__ = ["EVENT_FILTERS", "EventsSource", "reconcile_cause"]

log = structlog.get_logger(__name__)

EVENT_FILTERS: Mapping[str, list[str]] = {
    "type": ["container"],
    "label": labels.managed_filter(),
    "event": ["die", "destroy", "oom", "health_status"],
}


def reconcile_cause(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """(stack, action) when the event should make its stack reconcile, else None."""
    action = str(event.get("Action") or event.get("status") or "")
    if action.startswith("health_status"):
        if action.strip() != "health_status: unhealthy":
            return None
        action = "unhealthy"
    elif action not in ("die", "destroy", "oom"):
        return None
    attributes = (event.get("Actor") or {}).get("Attributes") or {}
    stack = attributes.get(labels.STACK)
    if not stack or attributes.get(labels.MANAGED) != "true":
        return None
    return str(stack), action


class EventsSource:
    """Follows Docker's events and enqueues coalesced ``RECONCILE`` commands."""

    def __init__(
        self,
        *,
        store: Store,
        engine: Engine,
        metrics: Metrics,
        backoff: StackBackoff,
        wake: Callable[[float], None],
        resync: Callable[[], None],
        backoff_cap: float = 30.0,
    ) -> None:
        self._store, self._engine, self._metrics = store, engine, metrics
        self._backoff, self._wake, self._resync = backoff, wake, resync
        self._cap = backoff_cap
        self._stream: EventStream | None = None
        self._lock = threading.Lock()

    def run(self, stop: threading.Event) -> None:
        """Follow the stream until ``stop``; re-open it with backoff when it ends."""
        delay, since, opened_before = 0.5, time.time(), False
        while not stop.is_set():
            try:
                stream = self._engine.events(EVENT_FILTERS, since=since)
            except errors.EngineError as exc:
                self._metrics.docker_errors.labels(kind=type(exc).__name__).inc()
                log.warning("events stream unavailable", reason=str(exc), retry_in=delay)
                stop.wait(delay)
                delay = min(self._cap, delay * 2)
                continue
            with self._lock:
                self._stream = stream
            if stop.is_set():
                stream.close()
                break
            if opened_before:
                log.info("events stream re-opened; full resync")
                self._resync()
            opened_before, delay = True, 0.5
            since = self._follow(stream, stop) or since
        self.close()

    def close(self) -> None:
        """End the stream (from another thread, to stop ``run``)."""
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def _follow(self, stream: EventStream, stop: threading.Event) -> float | None:
        last: float | None = None
        try:
            for event in stream:
                last = float(event.get("time") or time.time())
                found = reconcile_cause(event)
                if found is not None:
                    self.on_event(*found)
                if stop.is_set():
                    break
        except errors.EngineError as exc:
            if not stop.is_set():
                self._metrics.docker_errors.labels(kind=type(exc).__name__).inc()
                log.warning("events stream ended", reason=str(exc))
        return last

    def on_event(self, stack: str, action: str) -> None:
        """Enqueue a RECONCILE for the stack unless one is coming anyway."""
        try:
            if self._has_active_command(stack):
                return
            status = self._store.stacks.get(stack)
        except errors.NotFoundError:
            return  # a stack Kedge does not know (another store): not ours to repair
        if status.applied_version is None or status.desired_version is None:
            return  # deleted or never converged: nothing to repair towards
        mode = self._store.versions.get(stack, status.applied_version).spec().meta.drift
        if mode != "heal":
            self._metrics.drift.labels(stack=stack, mode=mode).inc()
            log.info("event: drift not healed", stack=stack, action=action, drift=mode)
            return
        delay = self._backoff.repair_delay(stack, now=time.monotonic())
        not_before = datetime.now(UTC) + timedelta(seconds=delay) if delay else None
        command = self._store.commands.enqueue_repair(
            stack,
            version=status.applied_version,
            reason=CommandReason.EVENT,
            created_by=f"docker event: {action}",
            not_before=not_before,
        )
        if command is None:
            return  # a command came meanwhile: it converges the stack
        self._metrics.events.labels(action=action).inc()
        self._metrics.commands.labels(type="RECONCILE", status="PENDING").inc()
        log.info("event: reconcile", stack=stack, action=action, command_id=command.id, delay=delay)
        self._wake(delay)

    def _has_active_command(self, stack: str) -> bool:
        for status in (CommandStatus.PENDING, CommandStatus.RUNNING):
            if self._store.commands.list(stack=stack, status=status, limit=1).items:
                return True
        return False
