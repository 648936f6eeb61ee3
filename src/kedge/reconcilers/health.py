"""Health gates driven by Docker's events: wait until a container is healthy or has exited.

``HealthWatch`` subscribes to the events of one stack *before* the executor starts any
container, reads them on a thread of its own and wakes the waiters (``threading.Condition``;
no polling, no sleep). A waiter first inspects its container once, for the run it is in
(``State.StartedAt``) and the health Docker already knows, then waits for events of that run
only: health results from before the container (re)started are ignored.

- ``wait_healthy``: returns at ``health_status: healthy``; raises ``HealthError`` at
  ``unhealthy``, when the container exits, or when the timeout passes. A container without
  a healthcheck cannot become healthy: that fails at once, with a cause that says so.
- ``wait_completed``: returns when the container exits 0; raises at any other exit code.

The stream is opened with ``since`` a second back, so that events between the daemon's
answer and its subscription are replayed rather than lost; replayed events of an earlier run
are harmless since each waiter only looks at events from its container's current start on.

Callers: ``reconcilers.executor`` (``wait`` actions).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kedge import errors
from kedge.reconcilers.engine import Engine, EventStream
from kedge.specs import labels

__all__ = ["HealthWatch", "parse_nanos"]


@dataclass(frozen=True, slots=True)
class _Event:
    action: str  # start, die, health_status: healthy, health_status: unhealthy, destroy
    nanos: int
    exit_code: int | None


class HealthWatch:
    """The events of one stack's containers, as far as health gates need them."""

    def __init__(self, engine: Engine, stack: str) -> None:
        self._engine = engine
        self._cond = threading.Condition()
        self._events: dict[str, list[_Event]] = {}
        self._failure: errors.EngineError | None = None
        self._stream: EventStream = engine.events(
            {"type": ["container"], "label": labels.stack_filter(stack)},
            since=time.time() - 1,
        )
        self._thread = threading.Thread(target=self._read, name=f"events-{stack}", daemon=True)
        self._thread.start()

    def __enter__(self) -> HealthWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stream.close()
        self._thread.join(timeout=5)

    def _read(self) -> None:
        try:
            for raw in self._stream:
                self._note(raw)
        except errors.EngineError as exc:
            with self._cond:
                self._failure = exc
                self._cond.notify_all()

    def _note(self, raw: dict[str, Any]) -> None:
        action = str(raw.get("Action") or raw.get("status") or "")
        actor = raw.get("Actor") or {}
        cid = str(actor.get("ID") or raw.get("id") or "")
        if not cid or not (action in ("start", "die", "destroy") or action.startswith("health")):
            return
        code = (actor.get("Attributes") or {}).get("exitCode")
        nanos = int(raw.get("timeNano") or int(raw.get("time") or 0) * 1_000_000_000)
        event = _Event(action, nanos, int(code) if code is not None else None)
        with self._cond:
            self._events.setdefault(cid, []).append(event)
            self._cond.notify_all()

    def wait_healthy(
        self, container: str, *, name: str, timeout: float, needs_check: bool = True
    ) -> None:
        """Block until the container's current run is healthy; HealthError otherwise.

        A container without a healthcheck fails, unless ``needs_check`` is false: then it
        only has to be running (``kedge up --wait``).
        """
        state = self._engine.inspect_container(container)
        container = str(state.get("Id") or container)  # events name containers by id
        since, health, exited = _current_run(state)
        if not health and not needs_check and exited is None:
            return
        if not health and exited is None:
            raise errors.HealthError(f"{name} has no healthcheck, so it can never be healthy")
        if health == "starting" and exited is None:
            outcome = self._await(container, since, name=name, timeout=timeout, want=_HEALTH)
            if outcome.kind == "unhealthy":
                state = self._engine.inspect_container(container)  # for the check's output
            health, exited = outcome.kind, outcome.exit_code
        if health == "unhealthy":
            raise errors.HealthError(f"{name} is unhealthy{_last_output(state)}")
        if exited is not None or health == "exited":
            raise errors.HealthError(f"{name} exited with code {exited} before it was healthy")

    def wait_completed(self, container: str, *, name: str, timeout: float) -> None:
        """Block until the container's current run exits 0; HealthError otherwise."""
        state = self._engine.inspect_container(container)
        container = str(state.get("Id") or container)  # events name containers by id
        since, _, exited = _current_run(state)
        if exited is None:
            exited = self._await(container, since, name=name, timeout=timeout, want=_EXIT).exit_code
        if exited != 0:
            raise errors.HealthError(f"{name} exited with code {exited}; 0 was required")

    def _await(
        self, container: str, since: int, *, name: str, timeout: float, want: frozenset[str]
    ) -> _Outcome:
        """The next health result or exit of the container's run that started at ``since``."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                events = self._events.get(container, [])
                for event in events[seen:]:
                    outcome = _outcome(event, name=name)
                    if event.nanos >= since and outcome is not None and outcome.kind in want:
                        return outcome
                seen = len(events)
                if self._failure is not None:
                    raise errors.EngineUnavailable(
                        f"the events stream ended while waiting for {name}: {self._failure}"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise errors.HealthError(f"{name} was not ready within {timeout:g} s")
                self._cond.wait(left)


@dataclass(frozen=True, slots=True)
class _Outcome:
    kind: str  # healthy, unhealthy, exited
    exit_code: int | None = None


_HEALTH = frozenset({"healthy", "unhealthy", "exited"})
_EXIT = frozenset({"exited"})


def _outcome(event: _Event, *, name: str) -> _Outcome | None:
    if event.action == "destroy":
        raise errors.HealthError(f"{name} was removed while Kedge waited for it")
    if event.action == "die":
        return _Outcome("exited", event.exit_code if event.exit_code is not None else -1)
    if event.action.endswith(": healthy"):
        return _Outcome("healthy")
    if event.action.endswith(": unhealthy"):
        return _Outcome("unhealthy")
    return None


def _current_run(state: dict[str, Any]) -> tuple[int, str, int | None]:
    """(start of the current run in ns, its health, its exit code if it is over)."""
    run = state.get("State") or {}
    since = parse_nanos(run.get("StartedAt"))
    health = str((run.get("Health") or {}).get("Status") or "")
    status = str(run.get("Status") or "")
    exited = int(run.get("ExitCode") or 0) if status in ("exited", "dead") else None
    return since, health, exited


def _last_output(state: dict[str, Any]) -> str:
    log = ((state.get("State") or {}).get("Health") or {}).get("Log") or []
    if not log:
        return ""
    return f": {str(log[-1].get('Output') or '').strip()[:200]}"


def parse_nanos(text: str | None) -> int:
    """Docker's RFC 3339 time with nanoseconds as Unix nanoseconds (0 for the zero time)."""
    if not text or text.startswith("0001-"):
        return 0
    head, _, rest = text.rstrip("Z").partition(".")
    digits = (rest + "000000000")[:9]
    seconds = datetime.fromisoformat(f"{head}+00:00").timestamp()
    return int(seconds) * 1_000_000_000 + int(digits)
