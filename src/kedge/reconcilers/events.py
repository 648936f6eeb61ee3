"""The Docker events pump: one reader of Docker's events stream, handing each event on to its
subscribers. ("Events" in Kedge means Docker's; Kedge's own stream is the hub,
``observability.hub``.)

``DockerEvents(engine)`` follows the daemon's events about Kedge's objects (``FILTERS``:
containers, networks and volumes with Kedge's label) on a thread of its own. When the stream
ends or cannot be opened it is opened again with capped exponential backoff, ``since`` the
last event seen, so the daemon replays what happened meanwhile; an event delivered twice
(``since`` counts whole seconds) is dropped here, once for all subscribers. Subscribers hear
of a loss (``on_lost``: the error, or None when the daemon closed the stream) and of the
stream being back (``on_reopened``): a daemon that restarted has nothing to replay, so a
subscriber that must not miss a change reads the state again then.

Subscribers are called on the pump's thread, in order, so they must be quick; one with slow
work (the controller's source reads the store) queues the event and works on its own thread.

A started pump over ``FILTERS`` is found by ``serving(engine)``: the executor's health gates
(``reconcilers.health``) subscribe to the controller's pump through it rather than opening a
stream per pass, and the executor's signature need not carry it. Where none runs (the local
verbs), a gate runs a pump of its own over its stack.

Callers: ``controller.Controller`` (starts and stops the process's pump),
``controller.events_source``, ``api.feeds.DockerFeed``, ``reconcilers.health``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kedge import errors
from kedge.specs import labels

__all__ = ["FILTERS", "DockerEvents", "Subscription", "serving"]

#: every event of Kedge's objects that a subscriber reads: the controller's source (die,
#: destroy, oom, health_status), the health gates (start, die, destroy, health_status) and
#: the API's feed (all of them)
FILTERS: Mapping[str, Sequence[str]] = {
    "type": ["container", "network", "volume"],
    "label": labels.managed_filter(),
    "event": [
        *("create", "start", "die", "kill", "stop", "restart", "oom", "destroy"),
        *("health_status", "connect", "disconnect", "remove"),
    ],
}

#: the first wait before opening the stream again, in seconds (doubled up to the cap)
FIRST_DELAY = 0.5

Event = dict[str, Any]


class _Stream(Protocol):
    def __iter__(self) -> Iterator[Event]: ...

    def close(self) -> None: ...


class _Opens(Protocol):
    """What the pump needs of the engine (a fake one in the tests of lost streams)."""

    def events(
        self, filters: Mapping[str, Sequence[str]], *, since: float | None = None
    ) -> _Stream: ...


def _ignore_loss(error: errors.EngineError | None) -> None:
    """The default ``on_lost``: a subscriber that only reads events."""


def _nothing() -> None:
    """The default ``on_reopened``."""


@dataclass(eq=False)
class Subscription:
    """One subscriber's callbacks; ``close()`` ends the deliveries."""

    on_event: Callable[[Event], None]
    on_lost: Callable[[errors.EngineError | None], None] = _ignore_loss
    on_reopened: Callable[[], None] = _nothing
    pump: DockerEvents | None = field(default=None, repr=False)

    def close(self) -> None:
        if self.pump is not None:
            self.pump.unsubscribe(self)


class _Seen:
    """The events of the newest whole second delivered, so that a replay (``since`` that
    second) drops what was delivered already."""

    def __init__(self) -> None:
        self.second: int | None = None
        self._keys: set[tuple[int, str, str, str]] = set()

    def is_new(self, event: Event) -> bool:
        nanos = int(event.get("timeNano") or int(event.get("time") or 0) * 1_000_000_000)
        actor = event.get("Actor") or {}
        action = str(event.get("Action") or event.get("status") or "")
        key = (nanos, str(event.get("Type") or ""), action, str(actor.get("ID") or ""))
        if key in self._keys:
            return False
        second = nanos // 1_000_000_000
        if self.second is None or second > self.second:
            self.second, self._keys = second, set()
        if second == self.second:
            self._keys.add(key)
        return True


class DockerEvents:
    """Docker's events stream, read once and handed to subscribers (module docstring)."""

    def __init__(
        self,
        engine: _Opens,
        *,
        filters: Mapping[str, Sequence[str]] = FILTERS,
        backoff_cap: float = 30.0,
        since: float | None = None,
    ) -> None:
        self._engine, self._filters, self._cap = engine, filters, backoff_cap
        self._since = since
        self._seen = _Seen()
        self._subscribers: tuple[Subscription, ...] = ()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stream: _Stream | None = None
        self._thread: threading.Thread | None = None

    def subscribe(
        self,
        on_event: Callable[[Event], None],
        *,
        on_lost: Callable[[errors.EngineError | None], None] = _ignore_loss,
        on_reopened: Callable[[], None] = _nothing,
    ) -> Subscription:
        """Deliver every later event to ``on_event`` (on the pump's thread) until the
        subscription is closed."""
        subscription = Subscription(on_event, on_lost, on_reopened, pump=self)
        with self._lock:
            self._subscribers = (*self._subscribers, subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not subscription)

    def start(self, *, name: str = "docker-events") -> DockerEvents:
        """Follow the stream on a thread (opened there, with backoff while Docker is away);
        a second start does nothing."""
        return self._started(None, name=name)

    def open(self, *, name: str = "docker-events") -> DockerEvents:
        """Open the stream here, raising ``EngineError`` when Docker does not answer, then
        follow it on a thread, as ``start``."""
        first = self._engine.events(self._filters, since=self._since_now())
        return self._started(first, name=name)

    def close(self) -> None:
        """Stop following and wait for the thread (a moment at most)."""
        self._stop.set()
        with self._lock:
            stream, self._stream = self._stream, None
            thread = self._thread
        _unregister(self)
        if stream is not None:
            stream.close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)  # a thread blocked opening the stream is a daemon

    @property
    def filters(self) -> Mapping[str, Sequence[str]]:
        return self._filters

    def _since_now(self) -> float:
        if self._since is None:
            self._since = time.time()
        return self._since

    def _started(self, first: _Stream | None, *, name: str) -> DockerEvents:
        self._since_now()
        with self._lock:
            if self._thread is not None or self._stop.is_set():  # started, or closed already
                if first is not None:
                    first.close()
                return self
            self._thread = threading.Thread(target=self._run, args=(first,), name=name)
            self._thread.daemon = True
        _register(self)
        self._thread.start()
        return self

    def _run(self, first: _Stream | None) -> None:
        delay, lost, stream = FIRST_DELAY, False, first
        while not self._stop.is_set():
            if stream is None:
                stream = self._opened()
            if stream is None:
                lost = True
            elif self._following(stream):
                if lost:
                    self._reopened()
                lost, delay = False, self._follow(stream, delay)
                stream = None
                if self._stop.is_set():
                    break
                lost = True
            if self._stop.wait(delay):
                break
            delay = min(self._cap, delay * 2)

    def _opened(self) -> _Stream | None:
        """The stream opened again ``since`` the last event seen (None when it failed)."""
        since = self._seen.second if self._seen.second is not None else self._since_now()
        try:
            return self._engine.events(self._filters, since=since)
        except errors.EngineError as exc:
            self._lost(exc)
            return None

    def _following(self, stream: _Stream) -> bool:
        """Keep ``stream`` as the one ``close`` ends; False (and closed) when stopping."""
        with self._lock:
            self._stream = stream
        if self._stop.is_set():
            stream.close()
            return False
        return True

    def _follow(self, stream: _Stream, delay: float) -> float:
        """Hand on the stream's events until it ends; the next backoff delay (the first
        again once the stream delivered an event)."""
        error: errors.EngineError | None = None
        try:
            for event in stream:
                delay = FIRST_DELAY
                if self._seen.is_new(event):
                    self._deliver(event)
                if self._stop.is_set():
                    return delay
        except errors.EngineError as exc:
            error = exc
        if not self._stop.is_set():
            self._lost(error)
        return delay

    def _deliver(self, event: Event) -> None:
        for subscription in self._subscribers:
            subscription.on_event(event)

    def _lost(self, error: errors.EngineError | None) -> None:
        for subscription in self._subscribers:
            subscription.on_lost(error)

    def _reopened(self) -> None:
        for subscription in self._subscribers:
            subscription.on_reopened()


_serving: list[tuple[object, DockerEvents]] = []
_serving_lock = threading.Lock()


def serving(engine: object) -> DockerEvents | None:
    """A started pump over every managed object's events (``FILTERS``) on ``engine``, or
    None when none runs in this process."""
    with _serving_lock:
        for known, pump in _serving:
            if known is engine:
                return pump
    return None


def _register(pump: DockerEvents) -> None:
    if pump.filters is not FILTERS:
        return  # a pump over one stack's objects: not one that others may subscribe to
    with _serving_lock:
        _serving.append((pump._engine, pump))


def _unregister(pump: DockerEvents) -> None:
    with _serving_lock:
        _serving[:] = [(e, p) for e, p in _serving if p is not pump]
