"""Health gates driven by Docker's events: wait until a container is done, or has failed.

``HealthWatch`` subscribes to the events of one stack *before* the executor starts any
container, reads them on a thread of its own and wakes the waiters (``threading.Condition``;
no polling, no sleep). A waiter first inspects its container once, for the run it is in
(``State.StartedAt``) and the health Docker already knows, then waits for events of that run
only: health results from before the container (re)started are ignored.

``wait(container, want=…)`` judges the run by the one rule of ``planning.health`` (healthy;
completed; or, for ``--wait``, ready: healthy, running without a healthcheck, or a one-shot
that exited 0), first from the inspect, then after each health result or exit of the run,
until it is done (returned), failed or out of time (``HealthError``). A failed exit says its
code and the last lines the container printed; an unhealthy one its last check's output.
The restart policy the rule reads is the container's own (``HostConfig.RestartPolicy``).

The events come from the process's Docker events pump (``reconcilers.events.serving``) when
one runs (the controller's), as a subscriber; the subscription is taken before the executor
starts anything, so no event of the pass can slip by. Where none runs (the local verbs) the
watch runs a pump of its own over the stack, opened here with ``since`` a second back, so
that events between the daemon's answer and its subscription are replayed rather than lost.
Events of an earlier run are harmless since each waiter only looks at events from its
container's current start on. A stream that fails while a gate waits fails the wait
(``EngineUnavailable``, which the retry policy retries).

``calls`` (the executor's slots) is held around each inspect the watch makes, never while it
waits for an event: waiting gates take no connection from the pool the executor's other
actions share (the events and a failure's logs have connections of their own).

Callers: ``reconcilers.executor`` (``wait`` actions).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kedge import errors
from kedge.planning import health
from kedge.planning.actions import WaitFor
from kedge.planning.health import Readiness, Run, Verdict
from kedge.reconcilers import events
from kedge.reconcilers.engine import Engine
from kedge.specs import labels

__all__ = ["HealthWatch", "parse_nanos", "run_of_inspected"]


#: the events a gate reads. The daemon filters them (``health_status`` matches each status,
#: moby#25798): unfiltered, 50 containers with 1 s healthchecks send three exec events a
#: second each, and reading them put the watch ten seconds behind on a loaded machine
_EVENTS = ["start", "die", "destroy", "health_status"]


@dataclass(frozen=True, slots=True)
class _Event:
    action: str  # start, die, health_status: healthy, health_status: unhealthy, destroy
    nanos: int
    exit_code: int | None


class HealthWatch:
    """The events of one stack's containers, as far as health gates need them."""

    def __init__(
        self,
        engine: Engine,
        stack: str,
        *,
        calls: AbstractContextManager[Any] | None = None,
    ) -> None:
        self._engine, self._stack = engine, stack
        self._calls = calls if calls is not None else contextlib.nullcontext()
        self._cond = threading.Condition()
        self._events: dict[str, list[_Event]] = {}
        self._failure: errors.EngineError | None = None
        self._own: events.DockerEvents | None = None
        pump = events.serving(engine)
        if pump is None:
            pump = self._own = _own_pump(engine, stack)
        self._subscription = pump.subscribe(self._note, on_lost=self._lost)
        if self._own is not None:
            try:
                self._own.open(name=f"events-{stack}")
            except errors.EngineError:
                self._subscription.close()
                raise

    def __enter__(self) -> HealthWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._subscription.close()
        if self._own is not None:
            self._own.close()

    def _lost(self, error: errors.EngineError | None) -> None:
        if error is None:
            return  # the daemon ended the stream: the pump opens it again and replays
        with self._cond:
            self._failure = error
            self._cond.notify_all()

    def _note(self, raw: dict[str, Any]) -> None:
        action = str(raw.get("Action") or raw.get("status") or "")
        actor = raw.get("Actor") or {}
        if raw.get("Type", "container") != "container":
            return
        if (actor.get("Attributes") or {}).get(labels.STACK) != self._stack:
            return  # the shared pump's events are every stack's
        cid = str(actor.get("ID") or raw.get("id") or "")
        if not cid or not (action in ("start", "die", "destroy") or action.startswith("health")):
            return
        code = (actor.get("Attributes") or {}).get("exitCode")
        nanos = int(raw.get("timeNano") or int(raw.get("time") or 0) * 1_000_000_000)
        event = _Event(action, nanos, int(code) if code is not None else None)
        with self._cond:
            self._events.setdefault(cid, []).append(event)
            self._cond.notify_all()

    def wait(self, container: str, *, name: str, want: WaitFor, timeout: float) -> Verdict:
        """Block until the container's current run is what ``want`` waits for, by the one
        rule of ``planning.health``; ``HealthError`` when it fails or the time runs out."""
        state = self._inspect(container)
        container = str(state.get("Id") or container)  # events name containers by id
        since = parse_nanos((state.get("State") or {}).get("StartedAt"))
        run = run_of_inspected(state)
        verdict = health.judge(run, want)
        deadline = time.monotonic() + timeout
        seen = 0
        while verdict.readiness is Readiness.WAITING:
            event, seen = self._next(container, since, seen, name=name, deadline=deadline)
            if event is None:
                raise errors.HealthError(
                    f"{name} was not {want.value} within {timeout:g} s: it {verdict.reason}"
                )
            run = self._after(event, run, container)
            verdict = health.judge(run, want)
        if verdict.is_failed:
            output = self._output(container, verdict)
            raise errors.HealthError(health.render_failure(name, verdict, output=output))
        return verdict

    def _after(self, event: _Event, run: Run, container: str) -> Run:
        """The run as an event of it leaves it."""
        if event.action == "start" and run.state != "created":
            return run  # the start of the run being waited on
        if event.action == "die":
            code = event.exit_code if event.exit_code is not None else -1
            return dataclasses.replace(run, state="exited", exit_code=code)
        if event.action.startswith("health_status"):
            status = event.action.rpartition(" ")[2]
            return dataclasses.replace(run, state="running", health=status)
        return run_of_inspected(self._inspect(container))  # started: read it again

    def _output(self, container: str, verdict: Verdict) -> list[str]:
        """The last lines a failed container printed, or its last health check's output."""
        try:
            if verdict.exit_code is None:
                log = ((self._inspect(container).get("State") or {}).get("Health") or {}).get(
                    "Log"
                ) or []
                return str(log[-1].get("Output") or "").splitlines() if log else []
            chunks = self._engine.container_logs(container, tail=health.LAST_LINES)  # own socket
            text = b"".join(chunks).decode("utf-8", "replace")
        except errors.EngineError:
            return []  # removed meanwhile: the verdict stands without its output
        return [line.partition(" ")[2] for line in text.splitlines()]  # without the timestamp

    def _inspect(self, container: str) -> dict[str, Any]:
        with self._calls:
            return self._engine.inspect_container(container)

    def _next(
        self, container: str, since: int, seen: int, *, name: str, deadline: float
    ) -> tuple[_Event | None, int]:
        """The next event of the container's run that started at ``since`` (None at the
        deadline), and how many of its events have been looked at."""
        with self._cond:
            while True:
                events = self._events.get(container, [])
                for index in range(seen, len(events)):
                    event = events[index]
                    if event.nanos < since:
                        continue
                    if event.action == "destroy":
                        raise errors.HealthError(f"{name} was removed while Kedge waited for it")
                    return event, index + 1
                seen = len(events)
                if self._failure is not None:
                    raise errors.EngineUnavailable(
                        f"the events stream ended while waiting for {name}: {self._failure}"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    return None, seen
                self._cond.wait(left)


def _own_pump(engine: Engine, stack: str) -> events.DockerEvents:
    """A pump over one stack's containers, for a watch where no process pump runs."""
    filters = {"type": ["container"], "label": labels.stack_filter(stack), "event": _EVENTS}
    return events.DockerEvents(engine, filters=filters, since=time.time() - 1)


def run_of_inspected(inspected: dict[str, Any]) -> Run:
    """The current run of an inspected container, as ``planning.health`` judges it."""
    state = inspected.get("State") or {}
    policy = ((inspected.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name")
    return Run(
        state=str(state.get("Status") or ""),
        health=str((state.get("Health") or {}).get("Status") or "none"),
        exit_code=int(state.get("ExitCode") or 0),
        restart=str(policy or "no"),
    )


def parse_nanos(text: str | None) -> int:
    """Docker's RFC 3339 time with nanoseconds as Unix nanoseconds (0 for the zero time)."""
    if not text or text.startswith("0001-"):
        return 0
    head, _, rest = text.rstrip("Z").partition(".")
    digits = (rest + "000000000")[:9]
    seconds = datetime.fromisoformat(f"{head}+00:00").timestamp()
    return int(seconds) * 1_000_000_000 + int(digits)
