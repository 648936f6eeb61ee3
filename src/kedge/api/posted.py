"""Posted specs: create a version from a spec sent as YAML or JSON, or plan one without
applying it.

The body is parsed by the spec contract (``specs.loader.parse``), so a posted spec obeys the
same rules, and reports the same errors with file, line and column, as a file in the watched
folder. ``source`` names the file the client read (relative build contexts and env files
resolve from its folder); JSON is YAML, so one parser reads both. Callers: ``api.app``.
"""

from __future__ import annotations

import os
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status

from kedge.api import problems
from kedge.api.deps import Services, ServicesDep
from kedge.api.models import CommandCreated, PlanView
from kedge.api.stacks import author_of, version_view
from kedge.specs import digests, loader
from kedge.specs.commands import CommandReason, CommandType
from kedge.specs.stack import StackSpec

__all__ = ["MAX_BODY", "router"]

router = APIRouter(tags=["specs"])

#: the largest spec the API reads (the YAML reader has its own limits below this)
MAX_BODY = 1_000_000
_MEDIA = ("application/yaml", "application/x-yaml", "text/yaml", "application/json", "text/plain")
_SPEC_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A spec file: a compose document with Kedge's options under x-kedge.",
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}
Source = Annotated[
    str, Query(max_length=1000, description="The file the spec was read from.")
]


async def _read_spec(request: Request, *, source: str) -> StackSpec:
    media = request.headers.get("content-type", "application/yaml").split(";")[0].strip()
    if media and media not in _MEDIA:
        raise problems.ProblemError(
            415, "unsupported-media-type", "Unsupported media type",
            f"send the spec as application/yaml or application/json, not {media}",
        )
    body = await request.body()
    if len(body) > MAX_BODY:
        raise problems.ProblemError(
            413, "too-large", "The spec is too large", f"a spec may have {MAX_BODY} bytes at most"
        )
    project_dir = str(PurePath(source).parent) if PurePath(source).is_absolute() else None
    return loader.parse(body, source=source, project_dir=project_dir, env=dict(os.environ))


def _record(kedge: Services, request: Request, spec: StackSpec, *, source: str, apply: bool) -> CommandCreated:
    recorded = kedge.store.versions.record(
        spec.name,
        spec.canonical(),
        digest=digests.digest(spec),
        declared=spec.declared_version,
        source=source,
        created_by=author_of(request),
    )
    version = recorded.version
    command = None
    if apply:
        command = kedge.store.commands.enqueue(
            spec.name,
            CommandType.APPLY,
            reason=CommandReason.API,
            version=version.number,
            created_by=author_of(request),
        )
        kedge.wake_controller()
    return CommandCreated(command=command, version=version_view(version), created=recorded.created)


@router.post(
    "/versions",
    response_model=CommandCreated,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_SPEC_BODY,
    responses=problems.problem_responses(409, 413, 415, 422),
)
async def create_version(
    kedge: ServicesDep,
    request: Request,
    source: Source = "api",
    apply: Annotated[bool, Query(description="Also enqueue an APPLY of it.")] = True,
) -> CommandCreated:
    """Create (or find, by digest) the version of a posted spec, and apply it unless told not
    to. 409 with the broken rule when its declared ``x-kedge.version`` conflicts."""
    spec = await _read_spec(request, source=source)
    return await anyio_run(_record, kedge, request, spec, source=source, apply=apply)
