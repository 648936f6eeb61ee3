"""The controller: sources, workers and timers of one Kedge process, started and stopped.

``Controller(store=..., engine=..., specs_dir=..., registry=...)`` wires the parts:

- N worker threads (``worker.Worker``) that claim and run commands;
- the folder source (``folder_source.FolderSource``) when a specs folder is given;
- the process's Docker events pump (``reconcilers.events.DockerEvents``, ``docker_events``)
  and the source that subscribes to it (``events_source.EventsSource``); ``kedge serve``
  hands the same pump to the API's feed, and the executor's health gates find it;
- the resync timer and the housekeeping loop (``resync.Resync``).

``start()`` first recovers commands left RUNNING by a previous process whose lease ran out,
then starts the threads. ``stop(grace=...)`` stops the sources and claiming at once and lets
running passes finish within ``grace`` seconds; a pass still running after that stays
RUNNING and is recovered (and retried) by the next start, exactly as after a crash.
``wake()`` lets an in-process enqueue (the API) start a pass without waiting for the poll.

Callers: ``kedge controller`` (``cli.controller``) and ``kedge serve`` (API + controller in
one process). The metrics are on the registry passed in; ``metrics.registry`` serves them.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable
from pathlib import Path

import structlog
from prometheus_client import CollectorRegistry

from kedge.controller.backoff import StackBackoff
from kedge.controller.doorbell import Doorbell
from kedge.controller.events_source import EventsSource
from kedge.controller.folder_source import FolderSource
from kedge.controller.resync import Resync
from kedge.controller.settings import ControllerSettings
from kedge.controller.worker import Worker
from kedge.observability.metrics import Metrics
from kedge.reconcilers.engine import Engine
from kedge.reconcilers.events import DockerEvents
from kedge.store.protocol import Store

__all__ = ["Controller"]

log = structlog.get_logger(__name__)


class Controller:
    """One running controller (see the module docstring)."""

    def __init__(
        self,
        *,
        store: Store,
        engine: Engine,
        registry: CollectorRegistry,
        specs_dir: Path | None = None,
        settings: ControllerSettings | None = None,
        metrics: Metrics | None = None,
        name: str | None = None,
    ) -> None:
        self.settings = settings or ControllerSettings()
        self.store, self.engine = store, engine
        self.metrics = metrics or Metrics(registry)
        self.name = name or f"{platform.node()}:{os.getpid()}"
        self.doorbell = Doorbell()
        self.backoff = StackBackoff(cap=self.settings.stack_backoff_cap)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._worker_threads: list[threading.Thread] = []
        self.workers = [
            Worker(
                f"{self.name}/w{i}",
                store=store,
                engine=engine,
                metrics=self.metrics,
                settings=self.settings,
                doorbell=self.doorbell,
                backoff=self.backoff,
            )
            for i in range(self.settings.workers)
        ]
        self.resync = Resync(
            store=store,
            engine=engine,
            metrics=self.metrics,
            settings=self.settings,
            backoff=self.backoff,
            wake=self.wake,
        )
        self.folder = (
            None
            if specs_dir is None
            else FolderSource(
                specs_dir,
                store=store,
                metrics=self.metrics,
                wake=self.wake,
                prune=self.settings.prune,
                policy=self.settings.policy,
                settle=self.settings.settle,
                debounce_ms=self.settings.debounce_ms,
            )
        )
        self.docker_events = (
            DockerEvents(engine, backoff_cap=self.settings.events_backoff_cap)
            if self.settings.events
            else None
        )
        self.events = (
            None
            if self.docker_events is None
            else EventsSource(
                store=store,
                events=self.docker_events,
                metrics=self.metrics,
                backoff=self.backoff,
                wake=self.wake,
                resync=self.resync.trigger,
            )
        )

    def wake(self, after: float = 0.0) -> None:
        """A command was enqueued in this process: let an idle worker claim it now, or
        ``after`` seconds from now when it may not run before."""
        self.doorbell.ring_in(after)

    def start(self) -> None:
        """Recover what a previous process left RUNNING, then start every thread."""
        self.resync.recover()
        loops: list[tuple[str, Callable[[threading.Event], None]]] = [
            (worker.name, worker.run) for worker in self.workers
        ]
        loops.append(("housekeeping", self.resync.run_housekeeping))
        loops.append(("resync", self.resync.run))
        if self.folder is not None:
            loops.append(("folder", self.folder.run))
        if self.events is not None:
            loops.append(("events", self.events.run))
        for name, loop in loops:
            thread = threading.Thread(target=loop, args=(self._stop,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self._worker_threads = self._threads[: len(self.workers)]
        if self.docker_events is not None:
            self.docker_events.start()
        log.info(
            "controller started",
            name=self.name,
            workers=len(self.workers),
            specs=None if self.folder is None else str(self.folder.folder),
            resync=self.settings.resync,
        )

    def stop(self, grace: float = 30.0) -> bool:
        """Stop claiming, let running passes finish within ``grace``; True if all did."""
        self._stop.set()
        self.doorbell.ring()
        if self.events is not None:
            self.events.close()
        if self.folder is not None:
            self.folder.mark_dirty()
        self.resync.trigger()
        finished = _join(self._worker_threads, timeout=grace)
        # the pump outlives the running passes: their health gates wait on its events
        if self.docker_events is not None:
            self.docker_events.close()
        # the sources stop at their next look; one blocked in a read is a daemon thread and
        # holds no command, so it is not waited for beyond a moment
        _join(self._threads, timeout=2.0)
        if not finished:
            # what still runs stays RUNNING: the next start recovers it once its lease is
            # over and the retry policy runs it again, so no intent is lost
            log.warning("grace period over: leaving running passes to recovery", grace=grace)
        log.info("controller stopped", clean=finished)
        return finished

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)


def _join(threads: list[threading.Thread], *, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds in all for the threads; True when all ended."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(t.is_alive() for t in threads)
