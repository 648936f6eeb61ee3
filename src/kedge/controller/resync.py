"""The resync timer and housekeeping: drift found by looking, stale commands recovered.

Every ``resync`` seconds every stack is observed at once — one list per kind of object by
Kedge's labels, however many stacks (``observe.observe_all``) — and each is planned against
its applied version (``assessor``); its status is recorded, and where the plan is not empty
the stack's ``x-kedge.drift`` decides: ``heal`` enqueues a ``RECONCILE``, ``warn`` reports
OutOfSync and acts not, ``off`` does neither. Stacks with a command PENDING or RUNNING are
skipped: that pass will look anyway; a stack whose pass ended after the snapshot was taken is
observed again, alone, so that what the pass did is not taken for drift.

Every ``housekeeping`` seconds the queue gauges are refreshed, the commands written since the
last look are counted (``kedge_commands_total{status="PENDING"}``: whoever wrote them — the
API, the folder source, a repair, a retry — they are counted here, once), and RUNNING
commands whose worker stopped heartbeating (a killed controller) are failed and retried by
the policy.

Callers: ``controller.Controller`` (threads); ``Resync.resync_all`` also after the events
stream is re-opened, and from tests.
"""

from __future__ import annotations

import contextlib
import os
import platform
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import structlog

from kedge import errors
from kedge.controller import assessor, repairs, retries
from kedge.controller.backoff import StackBackoff
from kedge.controller.settings import ControllerSettings
from kedge.observability.metrics import Metrics
from kedge.planning.observed import ObservedStack
from kedge.reconcilers import observe
from kedge.reconcilers.engine import Engine
from kedge.specs.commands import CommandReason, CommandStatus
from kedge.specs.stack import StackSpec
from kedge.store.protocol import Store
from kedge.store.records import Finished, StackStatus

__all__ = [
    "Resync",
    "count_enqueued",
    "dead_local_pid",
    "iter_stacks",
    "newest_command_id",
    "refresh_queue_metrics",
]

log = structlog.get_logger(__name__)


def dead_local_pid(worker: str) -> int | None:
    """The pid of a worker name ``host:pid/wN`` of this host whose process is gone, else None."""
    host, _, rest = worker.partition(":")
    pid_text = rest.partition("/")[0]
    if host != platform.node() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return pid
    except PermissionError:
        return None  # alive, another user's
    return None


def iter_stacks(store: Store) -> Iterator[StackStatus]:
    """Every stack's status, page by page."""
    cursor: str | None = None
    while True:
        page = store.stacks.list(limit=200, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def refresh_queue_metrics(store: Store, metrics: Metrics, *, now: datetime) -> None:
    """Queue depth and the age of the oldest PENDING command, counted from when it may run:
    a retry waiting for its backoff (up to minutes) is not a queue that is stuck."""
    depth, oldest, cursor = 0, None, None
    for _ in range(50):  # 25,000 PENDING commands are plenty to say "very deep"
        page = store.commands.list(status=CommandStatus.PENDING, limit=500, cursor=cursor)
        depth += len(page.items)
        for command in page.items:
            due = max(command.created_at, command.not_before or command.created_at)
            oldest = due if oldest is None else min(oldest, due)
        cursor = page.next_cursor
        if cursor is None:
            break
    age = 0.0 if oldest is None else (now - oldest).total_seconds()
    metrics.set_queue(depth=depth, oldest_age=age)


def newest_command_id(store: Store) -> int:
    """The id of the newest command (0 when there is none): where counting starts."""
    newest = store.commands.list(limit=1).items
    return newest[0].id if newest else 0


def count_enqueued(store: Store, metrics: Metrics, *, after: int) -> int:
    """Count every command newer than id ``after`` as enqueued (PENDING) of its type; the
    id of the newest one. Newest first, a short page at a time: most looks find none."""
    newest, cursor = after, None
    while True:
        page = store.commands.list(limit=20, cursor=cursor)
        fresh = [command for command in page.items if command.id > after]
        for command in fresh:
            metrics.commands.labels(type=command.type.value, status="PENDING").inc()
        if cursor is None and fresh:
            newest = fresh[0].id
        if len(fresh) < len(page.items) or page.next_cursor is None:
            return newest
        cursor = page.next_cursor


class Resync:
    """The resync timer's work, and the housekeeping loop."""

    def __init__(
        self,
        *,
        store: Store,
        engine: Engine,
        metrics: Metrics,
        settings: ControllerSettings,
        backoff: StackBackoff,
        wake: Callable[[float], None],
    ) -> None:
        self._store, self._engine, self._metrics = store, engine, metrics
        self._settings, self._backoff, self._wake = settings, backoff, wake
        self._now = threading.Event()
        self._counted = newest_command_id(store)  # commands from before this start are not

    def trigger(self) -> None:
        """Resync every stack as soon as possible."""
        self._now.set()

    def run(self, stop: threading.Event) -> None:
        """Resync at start and every ``resync`` seconds (or when triggered) until ``stop``."""
        while not stop.is_set():
            self._now.clear()
            self.resync_all(stop)
            self._now.wait(self._settings.resync)

    def run_housekeeping(self, stop: threading.Event) -> None:
        while not stop.wait(self._settings.housekeeping):
            try:
                self.recover()
                self.count_enqueued()
                refresh_queue_metrics(self._store, self._metrics, now=datetime.now(UTC))
            except errors.StoreError as exc:
                log.warning("housekeeping failed", reason=str(exc))

    def count_enqueued(self) -> None:
        """Count the commands written since the last count (``count_enqueued``)."""
        self._counted = count_enqueued(self._store, self._metrics, after=self._counted)

    def recover(self) -> None:
        """Fail stale RUNNING commands ("worker lost") and enqueue their retries."""
        for finished in [
            *self._recover_dead_local(),
            *self._store.commands.recover(
                lease=self._settings.lease_delta,
                policy=retries.recovery_policy(self._settings, converging=False),
                converge=retries.recovery_policy(self._settings, converging=True),
            ),
        ]:
            done = finished.command
            self._metrics.commands.labels(type=done.type.value, status=done.status.value).inc()
            log.warning(
                "command recovered",
                stack=done.stack,
                command_id=done.id,
                error=done.error,
                retry=None if finished.retry is None else finished.retry.id,
            )
            if finished.retry is not None:
                self._metrics.retries.labels(type=done.type.value).inc()
                due = finished.retry.not_before or datetime.now(UTC)
                self._wake(max((due - datetime.now(UTC)).total_seconds(), 0.0))

    def _recover_dead_local(self) -> list[Finished]:
        """RUNNING commands held by a process of this host that no longer exists.

        Their holder is certainly gone (killed, crashed), so they need not wait for the lease:
        the recovery finishes them with the holder's own fencing token. A pid that was reused
        looks alive and falls back to the lease, which is the safe side.
        """
        found: list[Finished] = []
        running = self._store.commands.list(status=CommandStatus.RUNNING, limit=500).items
        for command in running:
            pid = dead_local_pid(command.worker or "")
            if pid is None:
                continue
            with contextlib.suppress(errors.FencingError):  # it moved on meanwhile
                found.append(
                    self._store.commands.finish(
                        command.id,
                        token=command.token,
                        status=CommandStatus.FAILED,
                        error=f"worker lost: process {pid} of {command.worker} is gone",
                        retry=retries.recovery_policy(
                            self._settings, converging=command.type in retries.CONVERGING
                        ),
                    )
                )
        return found

    def resync_all(self, stop: threading.Event | None = None) -> int:
        """Look at every stack once; returns how many RECONCILE commands were enqueued."""
        enqueued, looked, began = 0, 0, time.monotonic()
        try:
            statuses = list(iter_stacks(self._store))
            since = datetime.now(UTC)
            snapshot = self._observe_all(statuses)
            for status in statuses:
                if stop is not None and stop.is_set():
                    break
                seen = self._still_current(snapshot, status.stack, since=since)
                enqueued += self.resync_stack(status, observed=seen)
                looked += 1
        except errors.StoreError as exc:
            log.warning("resync failed", reason=str(exc))
        # bench/scale_bench.py finds each resync's window (its Docker calls, CPU) by this line
        seconds = round(time.monotonic() - began, 4)
        log.debug("resync done", stacks=looked, enqueued=enqueued, seconds=seconds)
        return enqueued

    def _observe_all(self, statuses: list[StackStatus]) -> dict[str, ObservedStack]:
        """Every assessed stack observed at once: a constant number of Docker calls however
        many stacks there are. On failure each stack is observed alone (and reports it)."""
        specs: dict[str, StackSpec | None] = {}
        for status in statuses:
            number = assessor.compared_version(status)
            if number is not None:
                with contextlib.suppress(errors.KedgeError):  # the assessment reports it
                    specs[status.stack] = self._store.versions.get(status.stack, number).spec()
        try:
            return observe.observe_all(self._engine, specs)
        except errors.KedgeError:
            return {}

    def _still_current(
        self, snapshot: dict[str, ObservedStack], stack: str, *, since: datetime
    ) -> ObservedStack | None:
        """The stack's part of the snapshot, unless a pass of it ended after the snapshot was
        taken (it changed what runs: the stack is observed again, alone)."""
        newest = self._store.commands.list(stack=stack, limit=1).items
        if newest and (newest[0].finished_at is None or newest[0].finished_at >= since):
            return None
        return snapshot.get(stack)

    def resync_stack(self, status: StackStatus, *, observed: ObservedStack | None = None) -> int:
        """Assess one stack (from ``observed`` when given) and act on its drift."""
        if status.desired_version is None and status.applied_version is None:
            return 0  # deleted, or only ever broken
        if repairs.has_active_command(self._store, status.stack):
            return 0
        seen = assessor.assess_stack(self._store, self._engine, status, observed=observed)
        assessor.record_assessment(self._store, self._metrics, status, seen)
        if seen.error:
            log.warning("stack not assessed", stack=status.stack, error=seen.error)
        if not seen.has_drift or seen.spec is None or status.applied_version is None:
            return 0
        mode = seen.spec.meta.drift
        assert seen.plan is not None
        if mode != "heal":  # counted here; a healing RECONCILE counts when it acts
            self._metrics.drift.labels(stack=status.stack, mode=mode).inc()
            log.warning(
                "drift not healed", stack=status.stack, drift=mode, plan=seen.plan.summary()
            )
            return 0
        return self._heal(status, version=status.applied_version, summary=seen.plan.summary())

    def _heal(self, status: StackStatus, *, version: int, summary: str) -> int:
        command = repairs.enqueue_reconcile(
            self._store,
            status.stack,
            version=version,
            reason=CommandReason.DRIFT,
            created_by="resync",
            delay=self._backoff.delay(status.stack, now=time.monotonic()),
            wake=self._wake,
            plan=summary,
        )
        return 0 if command is None else 1
