"""The exception tree of Kedge.

Every error Kedge raises on purpose is a ``KedgeError``. Errors of the libraries underneath
(docker, sqlite3, ruamel.yaml, pydantic) are translated at exactly one boundary each, with
``raise Mapped(...) from exc``, into the most specific class, so that no caller reads a
message to tell kinds apart. Whether a failure is worth retrying is part of its type; an
error whose cause passes within seconds may also say when, and how, to try again
(``retry_after`` and ``retry``: the executor waits and calls ``retry``, a reconciler never
sleeps)::

    KedgeError
    ├── SpecError                 a spec file or document is wrong (permanent)
    │   └── SpecErrors            several SpecErrors found in one document
    ├── ConflictError             a write broke a rule of the store (e.g. a version number)
    ├── NotFoundError             a stack, version or command does not exist
    ├── QueryError                a read query is wrong (e.g. an invalid page cursor)
    ├── FencingError              a stale holder of a command tried to write
    ├── StoreError                the database failed (temporary)
    ├── PlanError                 the desired state cannot be planned (permanent; a refused
    │                             plan that waits for an image or an external object to
    │                             appear is temporary: ``PlanRefused.temporary``)
    ├── EngineError               the Docker engine failed
    │   ├── EngineUnavailable     the daemon does not answer (temporary)
    │   ├── EngineNotFound        an object is gone (usually a race; temporary)
    │   ├── EngineConflict        an object is in the way (temporary)
    │   │   ├── EndpointsActive   a network still counts endpoints (the daemon may be
    │   │   │                     freeing them: may say ``retry_after``)
    │   │   └── RemovalInProgress the daemon is already removing the container
    │   └── EngineRejected        the daemon refused the request as invalid (permanent)
    ├── HealthError               a health gate failed: unhealthy, exited, or timed out
    │                             (temporary: a dependency or the container may recover)
    └── CancelledError            a running command was asked to stop
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "CancelledError",
    "ConflictError",
    "EndpointsActive",
    "EngineConflict",
    "EngineError",
    "EngineNotFound",
    "EngineRejected",
    "EngineUnavailable",
    "FencingError",
    "HealthError",
    "KedgeError",
    "Location",
    "NotFoundError",
    "PlanError",
    "QueryError",
    "RemovalInProgress",
    "SpecError",
    "SpecErrors",
    "StoreError",
]


class KedgeError(Exception):
    """The root of every error Kedge raises on purpose."""

    #: whether retrying the same work later may succeed
    temporary: bool = False
    #: for a cause that passes within seconds: how long to wait before calling ``retry``,
    #: which tries the same action again (None: only a later pass may help)
    retry_after: float | None = None
    retry: Callable[[], None] | None = None


@dataclass(frozen=True, slots=True)
class Location:
    """Where in a spec file a problem is: 1-based line and column, and the field path."""

    file: str = "<string>"
    line: int | None = None
    column: int | None = None
    path: str = ""

    def render(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where


class SpecError(KedgeError):
    """A spec is wrong: says where, what is wrong, and how to fix it."""

    def __init__(self, message: str, *, location: Location | None = None, hint: str = "") -> None:
        self.message = message
        self.location = location or Location()
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        loc = self.location
        text = f"{loc.render()}: "
        if loc.path:
            text += f"{loc.path}: "
        text += self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class SpecErrors(SpecError):
    """Several problems found in one document; ``errors`` holds each of them in file order."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.message, location=first.location, hint=first.hint)

    def render(self) -> str:
        return "\n".join(e.render() for e in getattr(self, "errors", [])) or super().render()


class ConflictError(KedgeError):
    """A write broke a rule of the store, e.g. a declared version number that is not next."""


class NotFoundError(KedgeError):
    """A stack, version or command does not exist."""


class QueryError(KedgeError):
    """A read query is wrong, e.g. a page cursor that this query did not hand out."""


class FencingError(KedgeError):
    """A holder whose lease was taken over tried to heartbeat, log or finish a command."""


class StoreError(KedgeError):
    """The database failed in a way that may pass (locked, I/O)."""

    temporary = True


class PlanError(KedgeError):
    """The desired state cannot be turned into a plan (e.g. a key not carried out yet)."""


class EngineError(KedgeError):
    """The Docker engine failed; subclasses say how."""

    temporary = True


class EngineUnavailable(EngineError):
    """The Docker daemon does not answer."""


class EngineNotFound(EngineError):
    """A Docker object is gone."""


class EngineConflict(EngineError):
    """A Docker object is in the way (name taken, still in use)."""


class EndpointsActive(EngineConflict):
    """A network Kedge removes still counts endpoints ("has active endpoints").

    With ``retry_after`` and ``retry``: the daemon may still be freeing the endpoints of
    removed containers, so the same removal is worth trying again in a moment.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        retry: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.retry = retry


class RemovalInProgress(EngineConflict):
    """The daemon is already removing the container ("removal … is already in progress")."""


class EngineRejected(EngineError):
    """The daemon refused a request as invalid; retrying the same request will not help."""

    temporary = False


class HealthError(KedgeError):
    """A health gate failed: a container turned unhealthy, exited, or did not get ready in time.

    Temporary: what it waited on (a dependency, a database still starting, a service it
    calls) may recover without a new version, so the controller tries again with backoff.
    """

    temporary = True


class CancelledError(KedgeError):
    """A running command was asked to stop and did, between two actions."""
