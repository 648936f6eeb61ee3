"""kedge.runtime: the one composition root, where the store, the engine, the controller and
the API are opened and wired together (DESIGN.md, *Layers*: ``cli`` → ``runtime`` →
``api | controller`` → …).

The verbs parse their options and make one call here:

- ``open_runtime(db, *, workers, specs=None, events=True, ...)`` for a process that keeps
  stacks converged (``kedge serve``, ``kedge controller``): the engine, opened and pinged
  once, the store (published to an event hub with ``events``), a metrics registry and the
  controller; ``Runtime.api`` adds the API of ``kedge serve``, ``start`` starts the controller
  (and the Docker feed of the hub), ``close`` stops and closes all of it;
- ``open_local(db)`` for the local verbs (``kedge up``, ``down``, ``rollback``): the store and
  the engine, and a pass carried out in this process (``controller.passes``). It imports none
  of the server's libraries, so ``kedge up`` stays light (``tests/cli/test_imports.py``): they
  are imported only when ``open_runtime`` runs.

Callers: ``cli.serve``, ``cli.controller``, ``cli.local``; tests and benches may open one too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedge.controller import passes
from kedge.reconcilers.engine import POOL, Engine
from kedge.specs import digests, loader
from kedge.specs.commands import Command, CommandReason, CommandType
from kedge.specs.policy import Policy
from kedge.specs.stack import StackSpec
from kedge.store import Recorded, SqliteStore, Store

if TYPE_CHECKING:
    from fastapi import FastAPI
    from prometheus_client import CollectorRegistry

    from kedge.api.feeds import DockerFeed
    from kedge.controller import Controller, ControllerSettings
    from kedge.observability.hub import EventHub

__all__ = ["Local", "Runtime", "open_engine", "open_local", "open_runtime"]

Echo = Callable[[str, str], None]


def open_engine(*, workers: int) -> Engine:
    """Docker, as the docker CLI finds it, with a pool for each worker's actions and the rest;
    pinged once, so that a daemon that does not answer is said at start (``EngineError``)."""
    engine = Engine.from_env(pool=POOL * (workers + 1))
    try:
        engine.ping()
    except BaseException:
        engine.close()
        raise
    return engine


@dataclass
class Runtime:
    """A converging process: store, engine, metrics registry, controller (and event hub)."""

    store: Store
    engine: Engine
    registry: CollectorRegistry
    controller: Controller
    hub: EventHub | None = None
    _feed: DockerFeed | None = field(default=None, repr=False)

    def api(
        self,
        *,
        policy: Policy,
        host: str,
        allowed_hosts: tuple[str, ...] = (),
        metrics_auth: bool = False,
    ) -> FastAPI:
        """The API over this runtime, answering to loopback, ``host`` and ``allowed_hosts``;
        with ``metrics_auth``, ``/metrics`` needs a token once an identity is configured."""
        from kedge.api.app import create_app
        from kedge.api.edge import EdgeSettings

        app = create_app(
            self.store,
            self.engine,
            registry=self.registry,
            controller=self.controller,
            policy=policy,
            limits=EdgeSettings.for_listener(host, allowed_hosts, metrics_auth=metrics_auth),
        )
        app.state.events = self.hub
        return app

    def start(self) -> None:
        """Start the Docker feed of the event hub (if any), then the controller."""
        if self.hub is not None:
            from kedge.api import feeds

            pump = self.controller.docker_events  # one Docker events pump for the process
            self._feed = feeds.DockerFeed(self.engine, self.hub, docker_events=pump).start()
        self.controller.start()

    def close(self, *, grace: float) -> bool:
        """Stop the feed and the controller (running passes get ``grace`` seconds), then close
        the store and the engine; True when every pass finished in time."""
        try:
            if self._feed is not None:
                self._feed.close()
            return self.controller.stop(grace)
        finally:
            self.store.close()
            self.engine.close()


def open_runtime(
    db: Path,
    *,
    workers: int,
    specs: Path | None = None,
    events: bool = True,
    policy: Policy | None = None,
    resync: float | None = None,
    prune: bool = True,
    retry_base: float | None = None,
    retry_cap: float | None = None,
) -> Runtime:
    """Open the engine (``EngineError`` when Docker does not answer) and the store, and wire
    the controller to them: the folder ``specs`` when given, every stack's events, drift
    checks every ``resync`` seconds, keep-converging retries from ``retry_base`` doubling up
    to ``retry_cap``. With ``events``, the store's writes and Docker's events are published to
    an event hub (the API's stream)."""
    from prometheus_client import CollectorRegistry

    from kedge.controller import Controller

    settings = _settings(
        workers=workers,
        policy=policy,
        resync=resync,
        prune=prune,
        retry_base=retry_base,
        retry_cap=retry_cap,
    )
    engine = open_engine(workers=workers)
    try:
        store, hub = _store(db, events=events)
    except BaseException:
        engine.close()
        raise
    registry = CollectorRegistry()
    controller = Controller(
        store=store, engine=engine, registry=registry, specs_dir=specs, settings=settings
    )
    return Runtime(store=store, engine=engine, registry=registry, controller=controller, hub=hub)


def _store(db: Path, *, events: bool) -> tuple[Store, EventHub | None]:
    store: Store = SqliteStore.open(db)
    if not events:
        return store, None
    from kedge.api import feeds
    from kedge.observability.hub import EventHub

    hub = EventHub()  # the events stream: the store's writes and Docker's events
    return feeds.publishing(store, hub), hub


def _settings(
    *,
    workers: int,
    policy: Policy | None,
    resync: float | None,
    prune: bool,
    retry_base: float | None,
    retry_cap: float | None,
) -> ControllerSettings:
    from kedge.controller import ControllerSettings

    given: dict[str, Any] = {"workers": workers, "prune": prune, "policy": policy or Policy()}
    if resync is not None:
        given["resync"] = resync
    settings = ControllerSettings(**given)
    converge = settings.converge
    if retry_base is not None:
        converge = converge.model_copy(update={"backoff": timedelta(seconds=retry_base)})
    if retry_cap is not None:
        converge = converge.model_copy(update={"backoff_cap": timedelta(seconds=retry_cap)})
    return settings.model_copy(update={"converge": converge})


@dataclass
class Local:
    """The store and the engine of the local verbs, which carry out one pass in-process."""

    store: Store
    engine: Engine

    def record(self, spec: StackSpec, *, source: str, wait: bool) -> Recorded:
        """Record ``spec`` as a version, make it the desired one and enqueue its APPLY, in one
        transaction (``versions.record``); ``run`` carries it out."""
        return self.store.versions.record(
            spec.name,
            loader.canonical(spec),
            digest=digests.digest(spec),
            declared=spec.meta.version,
            source=source,
            created_by=passes.local_author(),
            apply=CommandReason.CLI,
            apply_options={"wait": True} if wait else {},
            desired=True,
        )

    def run(self, command: Command, *, echo: Echo | None = None) -> Command:
        """Carry out ``command``, just enqueued, in this process; the finished command."""
        return passes.run_queued(self.store, self.engine, command, echo=echo)

    def run_new(
        self,
        stack: str,
        type: CommandType,
        *,
        version: int | None = None,
        options: Mapping[str, Any] | None = None,
        echo: Echo | None = None,
    ) -> Command:
        """Enqueue a command of ``stack`` and carry it out in this process."""
        return passes.run_now(
            self.store,
            self.engine,
            stack=stack,
            type=type,
            version=version,
            options=options,
            echo=echo,
        )


@contextmanager
def open_local(db: Path) -> Iterator[Local]:
    """The local store at ``db`` and Docker from the environment, closed on leaving."""
    store = SqliteStore.open(db)
    try:
        engine = Engine.from_env()
        try:
            yield Local(store, engine)
        finally:
            engine.close()
    finally:
        store.close()
