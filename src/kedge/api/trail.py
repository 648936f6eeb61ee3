"""What the API records in the audit trail, and when: the one owner of recording (issue #16,
*Audit*); ``store.audit`` keeps the rows, ``api.audit`` lists them.

The edge (``api.edge``) calls ``Recorder.record`` once per request that ``worth_recording``:

- every write (POST, PUT, PATCH, DELETE), allowed or refused, whatever its status;
- every refusal (401 or 403) of any method.

A read that succeeds is not recorded (a dashboard polls; the trail is of who changed what and
who was turned away), so an allowed read costs nothing here and a write one insert.

A row holds the identity (``token:<name>``; ``anonymous`` when no identity is configured or
none was presented, or ``unverified:<X-Kedge-User>`` when an anonymous client named itself:
the header is kept, marked as not checked), the client address, the method, the route's
template path (``/api/v1/stacks/{name}``; the raw path only when no route was reached, as on a
401), the stack and verb ``api.roles`` decided on (``noted_access``), the status and the
refusal's reason, and the command and version a write made (``made``). Never a query string,
a body or a header value but that one: they may carry secrets.

The row is written after the answer was sent, in a worker thread; a store that fails or is
busy past its retries is logged and the request goes on. Callers: ``api.edge`` (``record``),
``api.roles`` (``noted_access``), the write routes (``made``: ``api.stacks``,
``api.posted``, ``api.commands``).
"""

from __future__ import annotations

import anyio.to_thread
import structlog
from fastapi import Request
from starlette.datastructures import Headers
from starlette.types import Scope

from kedge.api import identity
from kedge.api.models import CommandCreated
from kedge.store import Store
from kedge.store.records import AuditEntry

__all__ = ["REFUSALS", "WRITES", "Recorder", "made", "noted_access", "worth_recording"]

log = structlog.get_logger(__name__)

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: the statuses that are a refusal of who asked: unauthenticated, not allowed
REFUSALS = frozenset({401, 403})
_ACCESS = "kedge.audit.access"
_MADE = "kedge.audit.made"
_LONGEST = 200


def worth_recording(method: str, status: int) -> bool:
    """Whether a request with this method and answer status goes in the trail (see above)."""
    return method in WRITES or status in REFUSALS


def noted_access(scope: Scope, *, verb: str, stack: str | None, reason: str) -> None:
    """Keep what ``api.roles`` decided on (the verb, the stack, a refusal's reason) for the
    row; a route's later, narrower decision (a posted spec's stack) replaces the first."""
    scope[_ACCESS] = (verb, stack, reason or None)


def made(request: Request, created: CommandCreated) -> CommandCreated:
    """Note the command and version a write made, for its row; answers ``created``."""
    command = created.command.id if created.command is not None else None
    version = created.version.number if created.version is not None else None
    request.scope[_MADE] = (command, version)
    return created


class Recorder:
    """Writes the trail's rows through the store (one per app, made by ``api.app``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(self, scope: Scope, *, status: int, reason: str | None = None) -> None:
        """Append the row of a request that ``worth_recording``; never raises."""
        method = str(scope.get("method", ""))
        if not worth_recording(method, status):
            return
        try:
            entry = entry_of(scope, status=status, reason=reason)
            await anyio.to_thread.run_sync(self.store.audit.append, entry)
        except Exception as exc:  # the trail must not break the request it records
            log.warning("audit row not recorded", error=str(exc), method=method, status=status)


def entry_of(scope: Scope, *, status: int, reason: str | None) -> AuditEntry:
    """The row of a request (see the module docstring for what is kept and what never)."""
    who = identity.identity_in(scope)
    verb, stack, refused_because = scope.get(_ACCESS, (None, None, None))
    command_id, version = scope.get(_MADE, (None, None))
    if stack is None:
        stack = scope.get("path_params", {}).get("name")
    client = scope.get("client")
    refused = status in REFUSALS
    why = (reason or refused_because or "")[:1000] if refused else ""
    return AuditEntry(
        identity=_identity(who, scope),
        identity_kind=who.kind,
        token_name=who.name or None,
        role=who.role or None,
        client=str(client[0]) if client else "",
        method=str(scope.get("method", "")),
        route=_route(scope),
        stack=stack,
        verb=verb,
        outcome="refused" if refused else "allowed",
        status=status,
        reason=why or None,
        command_id=command_id,
        version=version,
    )


def _identity(who: identity.Identity, scope: Scope) -> str:
    if who.kind != "anonymous":
        return who.author
    said = Headers(scope=scope).get("x-kedge-user", "").strip()[:_LONGEST]
    return f"unverified:{said}" if said else "anonymous"


def _route(scope: Scope) -> str:
    """The route's template path; the raw path (never its query) when no route was reached."""
    raw = str(scope.get("path", ""))
    template = getattr(scope.get("route"), "path", None)
    if not isinstance(template, str) or not template.startswith("/"):
        return raw[:_LONGEST]
    # a router's route knows its path without the prefix it was included under
    # (``/api/v1``); the prefix is the raw path's leading segments the template does not match
    depth = template.count("/")
    prefix = raw.split("/")[: max(raw.count("/") - depth + 1, 1)]
    return "/".join(prefix) + template
