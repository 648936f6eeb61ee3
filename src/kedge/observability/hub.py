"""Kedge's event hub: Kedge's own events and Docker's about Kedge's objects, in one ordered
stream for the API's ``GET /api/v1/events`` (Docker's raw stream is ``reconcilers.events``).

An ``EventHub`` keeps the last ``capacity`` events in a ring buffer, each with an id that
only grows, so that a client that lost its connection resumes where it stopped
(``Last-Event-ID``). Publishing is thread-safe (the controller's workers, the store's
publisher and the Docker feed publish from their own threads); waiting is for asyncio (the
API's ``GET /api/v1/events`` streams). Nothing is persisted: what happened is in the store
(versions, commands, log lines); the hub only says that it happened, in the order it did.

Ids start at the hub's start time in milliseconds and then count up by one, so the ids of a
restarted server are above those of the previous one (unless it published more than 1,000
events a second on average) and a stale ``Last-Event-ID`` reads as "some events were
missed" rather than as an id of the new run.

Kinds (``kind``): ``version.created``, ``command.queued``, ``pass.started``,
``action.done``, ``command.log``, ``pass.finished``, ``drift.seen``, ``spec.error``,
``stack.status``, and ``docker.<type>.<action>`` (e.g. ``docker.container.die``).

Callers: ``api.feeds`` (the store's publisher and the Docker feed), ``api.stream`` (the SSE
route), ``api.dashboard``, the composition root of ``kedge serve``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Backlog", "Event", "EventHub"]

#: how many events a hub keeps for resuming clients
DEFAULT_CAPACITY = 10_000


class Event(BaseModel):
    """One thing that happened, as the events stream sends it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    at: datetime
    kind: str
    stack: str | None = None
    message: str = ""
    fields: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Backlog:
    """Events after an id; ``missed`` when some of them are no longer in the buffer."""

    events: list[Event]
    missed: bool
    last_id: int


class _Waiter:
    """One asyncio task waiting for the next event, woken from any thread."""

    __slots__ = ("event", "loop")

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def wake(self) -> None:
        self.loop.call_soon_threadsafe(self.event.set)


class EventHub:
    """An in-process, bounded, resumable stream of events (see the module docstring)."""

    def __init__(
        self,
        *,
        capacity: int = DEFAULT_CAPACITY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        first_id: int | None = None,
    ) -> None:
        self._clock = clock
        self._buffer: deque[Event] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._waiters: set[_Waiter] = set()
        self._next = int(time.time() * 1000) if first_id is None else first_id
        self._first = self._next
        self._closed = False
        self.published = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """End every waiting stream (the server is stopping). Safe in a signal handler: it
        takes no lock (a handler may interrupt a thread that holds it)."""
        self._closed = True
        for waiter in list(self._waiters):
            waiter.wake()

    @property
    def last_id(self) -> int:
        """The id of the newest event (one below the first id when none was published)."""
        return self._next - 1

    @property
    def waiting(self) -> int:
        """How many streams wait for the next event now."""
        with self._lock:
            return len(self._waiters)

    def publish(
        self,
        kind: str,
        *,
        stack: str | None = None,
        message: str = "",
        fields: dict[str, Any] | None = None,
    ) -> Event:
        """Add an event and wake every waiting stream."""
        with self._lock:
            event = Event(
                id=self._next,
                at=self._clock(),
                kind=kind,
                stack=stack,
                message=message,
                fields=fields or {},
            )
            self._next += 1
            self.published += 1
            self._buffer.append(event)
            waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            waiter.wake()
        return event

    def since(self, after: int | None, *, stack: str | None = None) -> Backlog:
        """Events with an id above ``after`` (every buffered one when None), for ``stack``
        only when given; ``missed`` when ``after`` is older than the buffer or unknown."""
        with self._lock:
            buffered = list(self._buffer)
            last = self._next - 1
        oldest = buffered[0].id if buffered else self._next
        if after is None:
            after, missed = oldest - 1, False
        else:
            missed = after < oldest - 1 or after > last
            if after < self._first - 1 or after > last:
                after = oldest - 1
        found = [e for e in buffered if e.id > after and (stack is None or e.stack == stack)]
        return Backlog(events=found, missed=missed, last_id=last)

    def recent(self, count: int, *, stack: str | None = None) -> list[Event]:
        """The newest ``count`` events (for ``stack`` when given), oldest first."""
        found = self.since(None, stack=stack).events
        return found[-count:] if count > 0 else []

    async def wait(self, after: int, *, timeout: float) -> bool:
        """Wait until an event newer than ``after`` exists; False when ``timeout`` passed."""
        waiter = _Waiter()
        with self._lock:
            if self._next - 1 > after or self._closed:
                return True
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter.event.wait(), timeout)
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(waiter)
        return True
