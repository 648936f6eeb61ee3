"""Container logs of a stack: ``GET /api/v1/stacks/{name}/logs`` as plain text lines.

Each line is ``<container> | <timestamp> <text>``, as ``docker compose logs`` prints them.
The containers are found through Kedge's labels (``reconcilers.observe``), one service or
all; ``follow`` keeps the answer open and streams new lines from every container at once
(one reader thread per container, outside the server's worker pool, ended when its
container stops or the client leaves). A follow takes one of the edge's stream slots.
Callers: ``api.app``; the CLI's ``kedge logs NAME [SERVICE]``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectSendStream
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from kedge import errors
from kedge.api import edge, problems
from kedge.api.deps import Engine, ServicesDep
from kedge.api.stacks import StackName
from kedge.planning.observed import ObservedContainer
from kedge.reconcilers import observe
from kedge.reconcilers.engine import LogStream

__all__ = ["BUFFERED_LINES", "router"]

router = APIRouter(tags=["stacks"])

#: lines a stream holds for a slow client before its readers wait
BUFFERED_LINES = 1000


def _lines(stream: LogStream, name: str) -> Iterator[str]:
    rest = b""
    for chunk in stream:
        rest += chunk
        *whole, rest = rest.split(b"\n")
        for line in whole:
            yield f"{name} | {line.decode('utf-8', 'replace')}\n"
    if rest:
        yield f"{name} | {rest.decode('utf-8', 'replace')}\n"


def _pump(
    stream: LogStream,
    name: str,
    into: MemoryObjectSendStream[str],
    token: anyio.lowlevel.EventLoopToken,
) -> None:
    """Read one container's lines on a thread of its own (not one of the server's workers)
    and hand them to the event loop; ends when the container stops or the answer closes."""
    send = functools.partial(anyio.from_thread.run, token=token)
    try:
        for line in _lines(stream, name):
            send(into.send, line)
    except errors.EngineError as exc:
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            send(into.send, f"! {exc}\n")
    except (anyio.ClosedResourceError, anyio.BrokenResourceError, RuntimeError):
        pass  # the client went away (or the loop ended): nobody reads any more
    finally:
        stream.close()
        with contextlib.suppress(RuntimeError):
            send(into.aclose)


async def _merged(
    engine: Engine, containers: list[ObservedContainer], *, tail: int | None, follow: bool
) -> AsyncIterator[str]:
    """The lines of every container, as they come. The answer awaits them on the event loop
    and holds no worker thread; when it ends (the client left), the Docker streams are
    closed, which ends their reader threads."""
    send, receive = anyio.create_memory_object_stream[str](BUFFERED_LINES)
    token = anyio.lowlevel.current_token()
    streams: list[LogStream] = []
    try:
        for container in containers:
            stream = await anyio.to_thread.run_sync(
                functools.partial(engine.container_logs, container.id, tail=tail, follow=follow)
            )
            streams.append(stream)
            reader = functools.partial(_pump, stream, container.name, send.clone(), token)
            threading.Thread(target=reader, name="logs", daemon=True).start()
        send.close()  # each reader holds a clone: the stream ends when the last one ends
        async with receive:
            async for line in receive:
                yield line
    finally:
        send.close()
        receive.close()
        for stream in streams:
            stream.close()


@router.get(
    "/stacks/{name}/logs",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Log lines"},
        **problems.problem_responses(404, 422, 429, 503),
    },
)
def stack_logs(
    kedge: ServicesDep,
    request: Request,
    *,
    name: StackName,
    service: Annotated[str | None, Query(max_length=200, description="Only this service.")] = None,
    tail: Annotated[int | None, Query(ge=0, le=100_000, description="Last N lines each.")] = None,
    follow: Annotated[bool, Query(description="Keep streaming new lines.")] = False,
) -> StreamingResponse:
    """The output of a stack's containers (one service, or all of them)."""
    kedge.store.stacks.get(name)
    if kedge.engine is None:
        raise errors.EngineUnavailable("this server has no Docker engine to read logs from")
    seen = observe.observe_stack(kedge.engine, name)
    containers = [c for c in seen.containers if service is None or c.service == service]
    if service is not None and not containers:
        raise errors.NotFoundError(f"stack {name!r} has no container of service {service!r}")
    if follow:
        edge.admit_stream(request)
    return StreamingResponse(
        _merged(kedge.engine, containers, tail=tail, follow=follow), media_type="text/plain"
    )
