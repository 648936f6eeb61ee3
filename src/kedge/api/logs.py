"""Container logs of a stack: ``GET /api/v1/stacks/{name}/logs`` as plain text lines.

Each line is ``<container> | <timestamp> <text>``, as ``docker compose logs`` prints them.
The containers are found through Kedge's labels (``reconcilers.observe``), one service or
all; ``follow`` keeps the answer open and streams new lines from every container at once
(one reader thread per container, ended when its container stops or the server exits).
Callers: ``api.app``; the CLI's ``kedge logs NAME [SERVICE]``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from kedge import errors
from kedge.api import problems
from kedge.api.deps import Engine, ServicesDep
from kedge.api.stacks import StackName
from kedge.planning.observed import ObservedContainer
from kedge.reconcilers import observe

__all__ = ["router"]

router = APIRouter(tags=["stacks"])

_END = object()


def _lines(
    engine: Engine, container: ObservedContainer, *, tail: int | None, follow: bool
) -> Iterator[str]:
    rest = b""
    for chunk in engine.container_logs(container.id, tail=tail, follow=follow):
        rest += chunk
        *whole, rest = rest.split(b"\n")
        for line in whole:
            yield f"{container.name} | {line.decode('utf-8', 'replace')}\n"
    if rest:
        yield f"{container.name} | {rest.decode('utf-8', 'replace')}\n"


def _pump(lines: Iterator[str], into: queue.Queue[object]) -> None:
    try:
        for line in lines:
            into.put(line)
    except errors.EngineError as exc:
        into.put(f"! {exc}\n")
    finally:
        into.put(_END)


async def _merged(
    engine: Engine, containers: list[ObservedContainer], *, tail: int | None, follow: bool
) -> AsyncIterator[str]:
    found: queue.Queue[object] = queue.Queue(maxsize=10_000)
    for container in containers:
        lines = _lines(engine, container, tail=tail, follow=follow)
        threading.Thread(target=_pump, args=(lines, found), daemon=True).start()
    running = len(containers)
    while running:
        item = await anyio.to_thread.run_sync(found.get)
        if item is _END:
            running -= 1
        else:
            yield str(item)


@router.get(
    "/stacks/{name}/logs",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Log lines"},
        **problems.problem_responses(404, 422, 503),
    },
)
def stack_logs(
    kedge: ServicesDep,
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
    return StreamingResponse(
        _merged(kedge.engine, containers, tail=tail, follow=follow), media_type="text/plain"
    )
