"""Command routes: the command queue read with filters and keyset pagination, one command with
its plan, its log lines (a page, or a live stream of server-sent events while it runs), and
cancel.

The stream polls the store for lines after the last sequence number it sent, so a client
that reconnects with ``Last-Event-ID`` (or ``after``) loses nothing and sees nothing twice;
it ends with an ``end`` event carrying the final command. Callers: ``api.app``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Path, Query, Request, status
from fastapi.responses import StreamingResponse

from kedge.api import edge, problems, roles, trail
from kedge.api.deps import Services, ServicesDep
from kedge.api.models import CommandCreated, Page
from kedge.api.stacks import Cursor, Limit, StackFilter, author_of
from kedge.specs.commands import Command, CommandStatus, CommandType
from kedge.store.records import LogLine

__all__ = ["MAX_ID", "POLL_SECONDS", "CommandId", "router"]

router = APIRouter(tags=["commands"])

#: how often a live stream asks the store for new lines
POLL_SECONDS = 0.2
#: how often a quiet stream sends a comment so proxies and clients know it is alive
KEEPALIVE_SECONDS = 1.0

#: the largest command id and log sequence number a client may name (SQLite keeps 2^63 - 1)
MAX_ID = 2**62
CommandId = Annotated[int, Path(ge=1, le=MAX_ID)]
_PROBLEMS = problems.problem_responses(400, 404, 422)


@router.get("/commands", response_model=Page[Command], responses=_PROBLEMS)
def list_commands(
    kedge: ServicesDep,
    request: Request,
    *,
    stack: StackFilter = None,
    status: CommandStatus | None = None,
    type: CommandType | None = None,
    since: Annotated[datetime | None, Query(description="Created at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Created before.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[Command]:
    """Commands newest first, filtered by stack, status, type and creation time."""
    page = kedge.store.commands.list(
        stack=stack,
        status=status,
        type=type,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    items = [c for c in page.items if roles.shown(request, c.stack)]
    return Page[Command](items=items, next_cursor=page.next_cursor)


@router.get("/commands/{command_id}", response_model=Command, responses=_PROBLEMS)
def get_command(kedge: ServicesDep, command_id: CommandId) -> Command:
    """One command, with its rendered plan and outcome."""
    return kedge.store.commands.get(command_id)


@router.get("/commands/{command_id}/logs", response_model=list[LogLine], responses=_PROBLEMS)
def list_logs(
    kedge: ServicesDep,
    command_id: CommandId,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Lines after this seq.")] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[LogLine]:
    """A command's log lines after a sequence number, in order."""
    kedge.store.commands.get(command_id)
    return kedge.store.commands.logs(command_id, after=after, limit=limit)


def _event(name: str, data: str, *, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {data}\n\n"


async def _follow(kedge: Services, command_id: int, *, after: int) -> AsyncIterator[str]:
    """Log lines as they come, then the final command; polls the store off the event loop."""
    commands = kedge.store.commands
    quiet = 0.0
    while True:
        command = await anyio.to_thread.run_sync(commands.get, command_id)
        lines = await anyio.to_thread.run_sync(
            functools.partial(commands.logs, command_id, after=after)
        )
        for line in lines:
            after = line.seq
            yield _event("line", line.model_dump_json(), event_id=line.seq)
        if lines:
            quiet = 0.0
            continue
        if command.is_final:
            yield _event("end", command.model_dump_json())
            return
        quiet += POLL_SECONDS
        if quiet >= KEEPALIVE_SECONDS:
            quiet = 0.0
            yield ": keepalive\n\n"
        await anyio.sleep(POLL_SECONDS)


@router.get(
    "/commands/{command_id}/logs/stream",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
        **problems.problem_responses(400, 404, 422, 429),
    },
    response_class=StreamingResponse,
)
def stream_logs(
    kedge: ServicesDep,
    request: Request,
    command_id: CommandId,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Lines after this seq.")] = 0,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """A command's log lines as server-sent events (``line``, id = seq) while it runs, then an
    ``end`` event with the final command. Resume with ``Last-Event-ID``."""
    kedge.store.commands.get(command_id)
    if last_event_id and last_event_id.strip().isdigit():
        if int(last_event_id) > MAX_ID:
            raise problems.ProblemError(
                422,
                "invalid-request",
                "The request is invalid",
                f"Last-Event-ID must be a line's seq, {MAX_ID} at most",
            )
        after = max(after, int(last_event_id))
    edge.admit_stream(request)
    return StreamingResponse(
        _follow(kedge, command_id, after=after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/commands/{command_id}/cancel",
    response_model=CommandCreated,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems.problem_responses(404, 409, 422),
)
def cancel_command(kedge: ServicesDep, request: Request, command_id: CommandId) -> CommandCreated:
    """Cancel a command: PENDING ends at once, RUNNING stops between two actions."""
    command = kedge.store.commands.cancel(command_id, by=author_of(request))
    return trail.made(request, CommandCreated(command=command))
