"""Kedge's events stream: ``GET /api/v1/events`` as Server-Sent Events, resumable, by stack.

Each event of the app's ``EventHub`` is sent as one SSE message: ``id`` (the hub's id),
``event`` (its kind, e.g. ``pass.finished``) and ``data`` (the event as JSON). A client
that reconnects sends the last id it saw as ``Last-Event-ID`` (browsers do so by
themselves) or as ``?after=``, and gets every event after it that the hub still holds; when
some were lost (the buffer moved on, or the server restarted) a ``gap`` message without an
id comes first, so the client knows to read the state again. Without an id the stream starts
with the last ``backlog`` events. ``follow=false`` sends what is there and ends, which is
what ``kedge get events`` without ``-w`` reads.

The hub is ``app.state.events``, set by the composition root (``kedge serve``) to the hub
its store publishes into; an app built without one gets an empty hub of its own.
Callers: ``api.app``; the dashboard's JavaScript; ``cli.stream`` (``kedge get events``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.sse import format_sse_event

from kedge.api import edge, problems, roles
from kedge.api.stacks import StackFilter
from kedge.observability.hub import Event, EventHub

__all__ = ["hub_of", "router"]

router = APIRouter(tags=["events"])

#: how long a stream waits for the next event before it sends a keepalive
WAIT_SECONDS = 10.0
#: the reconnection delay a browser is told to use, in milliseconds
RETRY_MS = 1000


def hub_of(request: Request) -> EventHub:
    """The app's event hub (created empty when the composition root gave none)."""
    state = request.app.state
    hub = getattr(state, "events", None)
    if not isinstance(hub, EventHub):
        hub = state.events = EventHub()
    return hub


def _message(event: Event) -> bytes:
    return format_sse_event(data_str=event.model_dump_json(), event=event.kind, id=str(event.id))


def _gap(last_id: int) -> bytes:
    return format_sse_event(
        data_str=f'{{"kind": "gap", "last_id": {last_id}}}', event="gap", retry=RETRY_MS
    )


#: a comment line, which keeps proxies and clients from taking a quiet stream for a dead one
KEEPALIVE = b": keepalive\n\n"


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"},
        **problems.problem_responses(422, 429),
    },
)
async def stream_events(
    request: Request,
    *,
    stack: StackFilter = None,
    after: Annotated[
        int | None, Query(ge=0, description="Resume after this event id (as Last-Event-ID).")
    ] = None,
    backlog: Annotated[
        int, Query(ge=0, le=10_000, description="Without an id: start with the last N events.")
    ] = 0,
    follow: Annotated[bool, Query(description="Keep the stream open for new events.")] = True,
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
) -> StreamingResponse:
    """Kedge's events and Docker's about Kedge's objects, as Server-Sent Events."""
    resume = after if after is not None else _as_id(last_event_id)
    if follow:
        edge.admit_stream(request)
    messages = _messages(request, stack=stack, resume=resume, backlog=backlog, follow=follow)
    return StreamingResponse(
        messages,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _messages(
    request: Request, *, stack: str | None, resume: int | None, backlog: int, follow: bool
) -> AsyncIterator[bytes]:
    hub = hub_of(request)
    if resume is None:
        first = hub.recent(backlog, stack=stack)
        cursor = hub.last_id
    else:
        found = hub.since(resume, stack=stack)
        if found.missed:
            yield _gap(found.last_id)
        first, cursor = found.events, found.last_id
    for event in first:
        if roles.shown(request, event.stack):
            yield _message(event)
    if not follow:
        return
    yield format_sse_event(comment="following", retry=RETRY_MS)
    while not hub.closed and not await request.is_disconnected():
        if not await hub.wait(cursor, timeout=WAIT_SECONDS):
            yield KEEPALIVE
            continue
        found = hub.since(cursor, stack=stack)
        if found.missed:  # a slow client fell behind the buffer
            yield _gap(found.last_id)
        for event in found.events:
            if roles.shown(request, event.stack):
                yield _message(event)
        cursor = found.last_id


def _as_id(header: str | None) -> int | None:
    if header is None or not header.strip().isdigit():
        return None
    return int(header.strip())
