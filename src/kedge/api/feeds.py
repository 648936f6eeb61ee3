"""Feeds of the event hub: the store's writes and Docker's events, published as events.

Every path into Kedge ends as a row in the store (DESIGN.md, *Data flow*), so the store is
where Kedge's own events are seen: ``publishing(store, hub)`` wraps a store so that its
writes are also published — a new version (``version.created``), an enqueued command
(``command.queued``; ``drift.seen`` when drift or a Docker event caused it, ``spec.error``
when it records a broken spec file), a claim (``pass.started``), a log line
(``action.done`` for an action's outcome, else ``command.log``), an end (``pass.finished``)
and a changed status (``stack.status``; ``drift.seen`` when sync turns OutOfSync). The
controller, the API and the folder source need no change and no hub: the composition root
hands them the wrapped store.

``DockerFeed`` publishes Docker's events about Kedge's objects as ``docker.<type>.<action>``
with the object's stack. It is a subscriber of the process's Docker events pump
(``reconcilers.events``, the controller's in ``kedge serve``), or of a pump of its own when
given none; the pump re-opens the stream and replays what was missed.

Callers: the composition root of ``kedge serve`` (``cli.serve``), the tests and benches.
"""

from __future__ import annotations

import re
import threading
from typing import Any, cast

import structlog

from kedge import errors
from kedge.observability.hub import EventHub
from kedge.reconcilers import events
from kedge.reconcilers.engine import Engine
from kedge.specs import labels
from kedge.specs.commands import Command, CommandReason, CommandStatus
from kedge.store.protocol import Store
from kedge.store.records import Finished, LogLine, Recorded, StackStatus

__all__ = ["DockerFeed", "publishing"]

log = structlog.get_logger(__name__)

_ACTION_DONE = re.compile(r"^(?P<kind>\S+) (?P<target>\S+) done in (?P<seconds>[\d.]+) s$")
_DRIFT_REASONS = frozenset({CommandReason.DRIFT, CommandReason.EVENT})


def publishing(store: Store, hub: EventHub) -> Store:
    """``store``, with every write also published to ``hub`` (see the module docstring)."""
    return cast(Store, _PublishingStore(store, hub))


def _command_fields(command: Command) -> dict[str, Any]:
    return {
        "command": command.id,
        "type": command.type.value,
        "status": command.status.value,
        "version": command.version,
        "reason": command.reason.value,
    }


class _Delegate:
    """Whatever is not overridden is the wrapped object's own."""

    def __init__(self, inner: Any, hub: EventHub) -> None:
        self._inner = inner
        self._hub = hub

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _PublishingVersions(_Delegate):
    def __init__(
        self, inner: Any, hub: EventHub, *, stacks: _PublishingStacks, commands: _PublishingCommands
    ) -> None:
        super().__init__(inner, hub)
        self._stacks, self._commands = stacks, commands

    def record(self, stack: str, *args: Any, **kwargs: Any) -> Recorded:
        recorded = self._published(self._inner.record(stack, *args, **kwargs))
        # record-and-apply writes the desired version and the APPLY in its transaction
        if recorded.command is not None:
            self._commands.queued(recorded.command)
        if kwargs.get("desired"):
            self._stacks.published(self._stacks.get(stack))
        return recorded

    def _published(self, recorded: Recorded) -> Recorded:
        if recorded.created:
            version = recorded.version
            self._hub.publish(
                "version.created",
                stack=version.stack,
                message=f"version {version.number} created from {version.source or 'a spec'}",
                fields={"version": version.number, "digest": version.digest},
            )
        return recorded


class _PublishingCommands(_Delegate):
    #: how many commands' stacks are remembered (a log line names only its command)
    REMEMBERED = 1024

    def __init__(self, inner: Any, hub: EventHub, *, stacks: _PublishingStacks) -> None:
        super().__init__(inner, hub)
        self._stacks: dict[int, str] = {}
        self._statuses = stacks

    def enqueue(self, stack: str, *args: Any, **kwargs: Any) -> Command:
        command: Command = self._inner.enqueue(stack, *args, **kwargs)
        if kwargs.get("desired"):  # the desired version changed with the command
            self._statuses.published(self._statuses.get(stack))
        return self.queued(command)

    def enqueue_repair(self, stack: str, **kwargs: Any) -> Command | None:
        command: Command | None = self._inner.enqueue_repair(stack, **kwargs)
        return None if command is None else self.queued(command)

    def queued(self, command: Command) -> Command:
        """Publish an enqueued command (``command.queued``, and what caused it)."""
        stack = command.stack
        fields = _command_fields(command)
        spec_error = command.options.get("spec_error")
        if spec_error:
            self._hub.publish("spec.error", stack=stack, message=str(spec_error), fields=fields)
        elif command.reason in _DRIFT_REASONS:
            self._hub.publish(
                "drift.seen",
                stack=stack,
                message=f"{command.reason.value}: {command.type.value} #{command.id} queued",
                fields=fields,
            )
        self._hub.publish(
            "command.queued",
            stack=stack,
            message=f"{command.type.value} #{command.id} queued ({command.reason.value})",
            fields=fields,
        )
        return command

    def claim(self, worker: str) -> Command | None:
        command: Command | None = self._inner.claim(worker)
        if command is not None:
            self._hub.publish(
                "pass.started",
                stack=command.stack,
                message=f"{command.type.value} #{command.id} started by {worker}",
                fields=_command_fields(command),
            )
        return command

    def log(self, command_id: int, *args: Any, **kwargs: Any) -> LogLine:
        line: LogLine = self._inner.log(command_id, *args, **kwargs)
        done = _ACTION_DONE.match(line.message)
        fields: dict[str, Any] = {"command": command_id, "seq": line.seq, "level": line.level}
        if done:
            fields.update(done.groupdict())
        self._hub.publish(
            "action.done" if done else "command.log",
            stack=self._stack_of(command_id),
            message=line.message,
            fields=fields,
        )
        return line

    def finish(self, command_id: int, *args: Any, **kwargs: Any) -> Finished:
        finished: Finished = self._inner.finish(command_id, *args, **kwargs)
        self._publish_finished(finished)
        return finished

    def cancel(self, command_id: int, *args: Any, **kwargs: Any) -> Command:
        command: Command = self._inner.cancel(command_id, *args, **kwargs)
        if command.status is CommandStatus.CANCELLED:
            self._publish_finished(Finished(command=command))
        return command

    def recover(self, *args: Any, **kwargs: Any) -> list[Finished]:
        found: list[Finished] = self._inner.recover(*args, **kwargs)
        for finished in found:
            self._publish_finished(finished)
        return found

    def _publish_finished(self, finished: Finished) -> None:
        command = finished.command
        fields = _command_fields(command) | {
            "actions": command.actions,
            "outcome": command.outcome,
            "error": command.error,
            "retry": None if finished.retry is None else finished.retry.id,
        }
        if command.started_at and command.finished_at:
            fields["seconds"] = (command.finished_at - command.started_at).total_seconds()
        what = command.error or command.outcome or ""
        self._hub.publish(
            "pass.finished",
            stack=command.stack,
            message=f"{command.type.value} #{command.id} {command.status.value}"
            + (f": {what}" if what else ""),
            fields=fields,
        )

    def _stack_of(self, command_id: int) -> str | None:
        found = self._stacks.get(command_id)
        if found is not None:
            return found
        try:
            found = str(self._inner.get(command_id).stack)
        except errors.NotFoundError:
            return None
        if len(self._stacks) >= self.REMEMBERED:
            self._stacks.clear()  # a pass logs its lines close together: few misses follow
        self._stacks[command_id] = found
        return found


class _PublishingStacks(_Delegate):
    def __init__(self, inner: Any, hub: EventHub) -> None:
        super().__init__(inner, hub)
        self._seen: dict[str, tuple[str, str, int | None, int | None, str | None]] = {}
        self._lock = threading.Lock()

    def set_status(self, stack: str, **changes: Any) -> StackStatus:
        return self.published(self._inner.set_status(stack, **changes))

    def published(self, status: StackStatus) -> StackStatus:
        """Publish a stack's status when it differs from the one published last."""
        stack = status.stack
        now = (
            status.sync,
            status.health,
            status.applied_version,
            status.desired_version,
            status.last_error,
        )
        with self._lock:
            before = self._seen.get(stack)
            self._seen[stack] = now
        if before == now:
            return status
        fields: dict[str, Any] = {"sync": status.sync, "health": status.health}
        fields |= {"applied_version": status.applied_version}
        fields |= {"desired_version": status.desired_version, "last_error": status.last_error}
        if status.sync.lower() == "outofsync" and (before is None or before[0] != status.sync):
            self._hub.publish("drift.seen", stack=stack, message="out of sync", fields=fields)
        self._hub.publish(
            "stack.status",
            stack=stack,
            message=f"{status.sync}, {status.health}, version {status.applied_version}",
            fields=fields,
        )
        return status


class _PublishingStore(_Delegate):
    def __init__(self, inner: Store, hub: EventHub) -> None:
        super().__init__(inner, hub)
        self.stacks = _PublishingStacks(inner.stacks, hub)
        self.commands = _PublishingCommands(inner.commands, hub, stacks=self.stacks)
        self.versions = _PublishingVersions(
            inner.versions, hub, stacks=self.stacks, commands=self.commands
        )


class DockerFeed:
    """Docker's events about Kedge's objects, published to a hub from the pump's thread."""

    def __init__(
        self,
        engine: Engine,
        hub: EventHub,
        *,
        docker_events: events.DockerEvents | None = None,
        backoff_cap: float = 30.0,
    ) -> None:
        self._hub = hub
        self._pump = docker_events or events.DockerEvents(engine, backoff_cap=backoff_cap)
        self._own = self._pump if docker_events is None else None
        self._subscription: events.Subscription | None = None

    def start(self) -> DockerFeed:
        """Subscribe (and start the feed's own pump, if it has one)."""
        self._subscription = self._pump.subscribe(self.publish, on_lost=_lost)
        if self._own is not None:
            self._own.start(name="docker-feed")
        return self

    def close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        if self._own is not None:
            self._own.close()

    def publish(self, event: dict[str, Any]) -> None:
        """Publish one Docker event (``docker.<type>.<action>``) with its object's stack."""
        actor = event.get("Actor") or {}
        attributes = actor.get("Attributes") or {}
        action = str(event.get("Action") or event.get("status") or "")
        kind, _, detail = action.partition(":")
        name = attributes.get("name") or str(actor.get("ID") or "")[:12]
        self._hub.publish(
            f"docker.{event.get('Type') or 'object'}.{kind.strip()}",
            stack=attributes.get(labels.STACK),
            message=f"{name}: {action}",
            fields={
                "name": name,
                "service": attributes.get(labels.SERVICE),
                "detail": detail.strip() or None,
            },
        )


def _lost(error: errors.EngineError | None) -> None:
    log.warning("docker events feed lost", reason=str(error) if error else "stream ended")
