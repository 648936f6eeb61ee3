"""Failures a real daemon cannot produce on demand, with a small fake engine and a real store:
the worker's retry policy (temporary vs permanent), per-stack backoff, auto-rollback's
conditions, and the events stream re-opened with backoff and followed by a full resync.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from kedge import errors
from kedge.controller.backoff import StackBackoff
from kedge.controller.doorbell import Doorbell
from kedge.controller.events_source import EventsSource
from kedge.controller.settings import ControllerSettings
from kedge.controller.worker import Worker
from kedge.observability.metrics import Metrics
from kedge.reconcilers.events import DockerEvents
from kedge.specs import digests, loader
from kedge.specs.commands import CommandReason, CommandStatus, CommandType
from kedge.store import RetryPolicy, SqliteStore

SPEC = "name: shop\nservices:\n  web:\n    image: busybox:1\n"


class FailingEngine:
    """An engine whose every list call fails with ``error`` (a daemon gone, a bad request)."""

    def __init__(self, error: errors.EngineError) -> None:
        self.error = error
        self.calls = 0

    def list_containers(self, filters: Any) -> list[dict[str, Any]]:
        self.calls += 1
        raise self.error

    list_networks = list_volumes = list_containers

    def list_images(self) -> list[dict[str, Any]]:
        raise self.error

    def inspect_image(self, ref: str) -> dict[str, Any] | None:
        raise self.error


class Clock:
    """The store's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[SqliteStore]:
    store = SqliteStore.open(tmp_path / "kedge.db", clock=clock)
    spec = loader.parse(SPEC)
    store.versions.record("shop", loader.canonical(spec), digest=digests.digest(spec), source="t")
    yield store
    store.close()


#: the short retries (DELETE, DEPLOY, an APPLY that rolls back) and keep-converging ones
SHORT = RetryPolicy(max_attempts=2, backoff=timedelta(seconds=30))
CONVERGE = RetryPolicy(
    max_attempts=None, backoff=timedelta(seconds=10), backoff_cap=timedelta(seconds=40)
)


def _worker(store: SqliteStore, engine: Any, **settings: Any) -> tuple[Worker, Metrics]:
    metrics = Metrics(CollectorRegistry())
    worker = Worker(
        "test/w0",
        store=store,
        engine=engine,
        metrics=metrics,
        settings=ControllerSettings(retry=SHORT, converge=CONVERGE, **settings),
        doorbell=Doorbell(),
        backoff=StackBackoff(),
    )
    return worker, metrics


def _claim_and_work(store: SqliteStore, worker: Worker) -> Any:
    command = store.commands.claim("test/w0")
    assert command is not None
    return worker.work(command)


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (errors.EngineUnavailable("the daemon does not answer"), True),
        (errors.EngineRejected("invalid reference format"), False),
    ],
    ids=["temporary-is-retried", "permanent-is-not"],
)
def test_the_retry_policy_follows_the_error_type(
    store: SqliteStore, error: errors.EngineError, retried: bool
) -> None:
    store.commands.enqueue("shop", CommandType.APPLY, reason=CommandReason.API, version=1)
    worker, metrics = _worker(store, FailingEngine(error))
    finished = _claim_and_work(store, worker)
    assert finished.command.status is CommandStatus.FAILED
    assert type(error).__name__ in (finished.command.error or "") or str(error) in (
        finished.command.error or ""
    )
    assert (finished.retry is not None) == retried
    if retried:
        assert finished.retry.attempt == 2
        assert finished.retry.not_before is not None  # backed off, not at once
    kind = type(error).__name__
    assert metrics.docker_errors.labels(kind=kind)._value.get() == 1
    assert metrics.passes.labels(type="APPLY", result="failed")._value.get() == 1
    assert store.stacks.get("shop").last_error == finished.command.error


def test_a_delete_retries_stop_at_the_attempt_limit(store: SqliteStore, clock: Clock) -> None:
    store.commands.enqueue("shop", CommandType.DELETE, reason=CommandReason.API)
    worker, _ = _worker(store, FailingEngine(errors.EngineUnavailable("gone")))
    first = _claim_and_work(store, worker)
    assert first.retry is not None
    assert store.commands.claim("test/w0") is None  # the retry waits for its backoff
    clock.now += timedelta(seconds=31)
    second = _claim_and_work(store, worker)
    assert (second.command.id, second.command.attempt) == (first.retry.id, 2)
    assert second.retry is None


@pytest.mark.parametrize("kind", [CommandType.APPLY, CommandType.ROLLBACK, CommandType.RECONCILE])
def test_a_stack_keeps_converging_past_the_attempt_limit(
    store: SqliteStore, clock: Clock, kind: CommandType
) -> None:
    """Issue 13: a desired version not applied is retried with capped backoff, no limit."""
    store.commands.enqueue("shop", kind, reason=CommandReason.API, version=1)
    worker, metrics = _worker(store, FailingEngine(errors.EngineUnavailable("gone")))
    waits = []
    for attempt in range(1, 6):
        finished = _claim_and_work(store, worker)
        assert finished.command.attempt == attempt
        retry = finished.retry
        assert retry is not None
        assert retry.not_before is not None
        assert retry.retry_of == finished.command.id
        waits.append((retry.not_before - clock.now).total_seconds())
        assert store.commands.claim("test/w0") is None  # backed off, not at once
        clock.now = retry.not_before
    assert waits == [10, 20, 40, 40, 40]
    assert metrics.retries.labels(type=kind.value)._value.get() == 5
    assert store.stacks.get("shop").last_error == "gone"


def test_an_apply_that_rolls_back_gets_the_short_retries_then_rolls_back(
    tmp_path: Path, clock: Clock
) -> None:
    store = SqliteStore.open(tmp_path / "kedge.db", clock=clock)
    for rev in ("1", "2"):
        spec = loader.parse(
            f"name: shop\nx-kedge: {{on_failure: rollback}}\nservices:\n"
            f"  web: {{image: busybox:1, environment: {{REV: '{rev}'}}}}\n"
        )
        store.versions.record(
            "shop", loader.canonical(spec), digest=digests.digest(spec), source="t"
        )
    store.stacks.set_status("shop", applied_version=1)
    store.commands.enqueue("shop", CommandType.APPLY, reason=CommandReason.API, version=2)
    worker, _ = _worker(store, FailingEngine(errors.EngineUnavailable("gone")))
    first = _claim_and_work(store, worker)
    assert first.retry is not None
    clock.now += timedelta(seconds=31)
    second = _claim_and_work(store, worker)
    assert second.retry is None  # SHORT allows two attempts
    [rollback] = store.commands.list(stack="shop", status=CommandStatus.PENDING).items
    assert (rollback.type, rollback.version) == (CommandType.ROLLBACK, 1)
    store.close()


class FlakyEvents:
    """An events stream that ends, then fails to open once, then stays open until closed."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event
        self.opened = 0
        self.open_now = threading.Event()

    def events(self, filters: Any, *, since: float | None = None) -> Any:
        self.opened += 1
        if self.opened == 1:
            return _Stream([self.event])  # the daemon restarts right after one event
        if self.opened == 2:
            raise errors.EngineUnavailable("daemon restarting")
        self.open_now.set()
        return _Stream([], block=True)


class _Stream:
    def __init__(self, events: list[dict[str, Any]], *, block: bool = False) -> None:
        self._events, self._closed = events, threading.Event()
        self._block = block

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield from self._events
        if self._block:
            self._closed.wait()

    def close(self) -> None:
        self._closed.set()


def test_the_events_stream_is_reopened_with_backoff_then_a_full_resync(
    store: SqliteStore,
) -> None:
    store.stacks.set_status("shop", applied_version=1, desired_version=1)
    die = {
        "Type": "container",
        "Action": "die",
        "time": 1,
        "Actor": {"Attributes": {"kedge.managed": "true", "kedge.stack": "shop"}},
    }
    engine = FlakyEvents(die)
    metrics, resyncs, resynced = Metrics(CollectorRegistry()), [], threading.Event()
    # the reconnect and its backoff now live in the pump (reconcilers.events), which the
    # source subscribes to; the source works through what it hands over on its own thread,
    # so the test waits for the resync rather than only for the third open
    pump = DockerEvents(engine, backoff_cap=0.2)
    source = EventsSource(
        store=store,
        events=pump,
        metrics=metrics,
        backoff=StackBackoff(),  # type: ignore[arg-type]
        wake=lambda *_: None,
        resync=lambda: (resyncs.append(1), resynced.set()),
    )
    stop = threading.Event()
    thread = threading.Thread(target=source.run, args=(stop,))
    thread.start()
    pump.start()
    try:
        assert engine.open_now.wait(10)
        assert resynced.wait(10)
    finally:
        stop.set()
        pump.close()
        source.close()
        thread.join(10)
    assert not thread.is_alive()
    assert engine.opened == 3
    assert resyncs == [1]  # once the stream is back
    assert metrics.docker_errors.labels(kind="EngineUnavailable")._value.get() == 1
    pending = store.commands.list(stack="shop", status=CommandStatus.PENDING).items
    assert [(c.type, c.reason, c.version) for c in pending] == [
        (CommandType.RECONCILE, CommandReason.EVENT, 1)
    ]
    source.on_event("shop", "die")  # coalesced: one RECONCILE is already coming
    assert len(store.commands.list(stack="shop", status=CommandStatus.PENDING).items) == 1
