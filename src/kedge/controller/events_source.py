"""The Docker events source: a managed container that dies, is destroyed, turns unhealthy or
is OOM-killed makes its stack reconcile.

The source is a subscriber of the process's Docker events pump (``reconcilers.events``),
which is filtered by Kedge's label, so only managed objects' events arrive. The pump hands
them over on its own thread; the source queues them and does the store's work on its own
(``run``), so that a slow store never holds back the pump's other subscribers. An event
names a stack and nothing more (STYLE.md, *Do this* 3): the worker reads the state again.
Events are coalesced: a stack that already has a PENDING or RUNNING command gets none (its
pass will observe anyway), and a stack repaired again and again waits longer each time
(``StackBackoff.repair_delay``). When the stream is back after a loss (the pump re-opens it
with capped backoff) a full resync follows, since events may have been missed meanwhile.

Callers: ``controller.Controller`` (a thread).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from kedge import errors
from kedge.controller import repairs
from kedge.controller.backoff import StackBackoff
from kedge.observability.metrics import Metrics
from kedge.reconcilers.events import DockerEvents
from kedge.specs import labels
from kedge.specs.commands import CommandReason
from kedge.store.protocol import Store

__all__ = ["EventsSource", "reconcile_cause"]

log = structlog.get_logger(__name__)

#: what the pump hands over: an event, or that the stream is back (or the source closed)
_Item = dict[str, Any] | str
_REOPENED, _CLOSED = "reopened", "closed"


def reconcile_cause(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """(stack, action) when the event should make its stack reconcile, else None."""
    action = str(event.get("Action") or event.get("status") or "")
    if event.get("Type", "container") != "container":
        return None  # the pump also reads networks' and volumes' events, for the API
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
        events: DockerEvents,
        metrics: Metrics,
        backoff: StackBackoff,
        wake: Callable[[float], None],
        resync: Callable[[], None],
    ) -> None:
        self._store, self._metrics = store, metrics
        self._backoff, self._wake, self._resync = backoff, wake, resync
        self._inbox: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._subscription = events.subscribe(
            self._inbox.put, on_lost=self._lost, on_reopened=lambda: self._inbox.put(_REOPENED)
        )

    def run(self, stop: threading.Event) -> None:
        """Work through the pump's events until ``stop`` (``close`` wakes this)."""
        while not stop.is_set():
            item = self._inbox.get()
            if item == _CLOSED or stop.is_set():
                break
            if isinstance(item, str):  # _REOPENED
                log.info("events stream re-opened; full resync")
                self._resync()
                continue
            found = reconcile_cause(item)
            if found is None:
                continue
            try:
                self.on_event(*found)
            except errors.KedgeError as exc:  # a busy store: the resync looks again later
                log.warning("event not handled", stack=found[0], reason=str(exc))

    def close(self) -> None:
        """Stop receiving events, and end ``run`` (from another thread)."""
        self._subscription.close()
        self._inbox.put(_CLOSED)

    def _lost(self, error: errors.EngineError | None) -> None:
        if error is None:
            log.warning("events stream ended")
            return
        self._metrics.docker_errors.labels(kind=type(error).__name__).inc()
        log.warning("events stream lost", reason=str(error))

    def on_event(self, stack: str, action: str) -> None:
        """Enqueue a RECONCILE for the stack unless one is coming anyway."""
        try:
            if repairs.has_active_command(self._store, stack):
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
        command = repairs.enqueue_reconcile(
            self._store,
            stack,
            version=status.applied_version,
            reason=CommandReason.EVENT,
            created_by=f"docker event: {action}",
            delay=delay,
            wake=self._wake,
        )
        if command is not None:
            self._metrics.events.labels(action=action).inc()
