"""Posted specs: create a version from a spec sent as YAML or JSON, or plan one without
applying it.

The body is parsed by the spec contract (``specs.loader.parse``), so a posted spec obeys the
same rules, and reports the same errors with file, line and column, as a file in the watched
folder. ``source`` names the file the client read (relative build contexts and env files
resolve from its folder, when the operator named a spec root holding it: otherwise a posted
spec reads no server file); JSON is YAML, so one parser reads both. The server's variables
it may read and the host-reaching keys it may use are the operator's (``specs.policy``).
Callers: ``api.app``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path, PurePath
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request, status

from kedge import errors
from kedge.api import deps, models, problems, roles, stacks, trail
from kedge.api.deps import Services, ServicesDep
from kedge.api.models import CommandCreated, PlanView
from kedge.reconcilers import preview
from kedge.specs import digests, loader, yamlsource
from kedge.specs.commands import CommandReason
from kedge.specs.policy import Policy
from kedge.specs.reads import Reads
from kedge.specs.stack import StackSpec, normalize_stack_name

__all__ = ["router"]

router = APIRouter(tags=["specs"])

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
Source = Annotated[str, Query(max_length=1000, description="The file the spec was read from.")]
Interpolate = Annotated[
    bool,
    Query(
        description="Interpolate ${VARIABLES} from the server's environment (the CLI sends"
        " specs it has already interpolated from the user's, as compose does, and says false)."
    ),
]


async def _read_spec(request: Request, *, source: str, interpolate: bool) -> StackSpec:
    # the edge (api.edge) has refused other media types and stops a body past its cap
    # while it streams in, so this never holds more than the cap
    body = await request.body()
    limit = yamlsource.max_spec_bytes()  # the spec reader owns the limit and its setting
    if len(body) > limit:
        raise problems.ProblemError(
            413,
            "too-large",
            "The spec is too large",
            f"a spec may have {limit:,} bytes at most (the server's"
            f" {yamlsource.MAX_BYTES_SETTING} sets the limit)",
        )
    path = PurePath(source)
    policy = deps.services(request).policy
    return await anyio.to_thread.run_sync(
        functools.partial(
            loader.parse,
            body,
            source=source,
            env={k: v for k, v in os.environ.items() if policy.allows_variable(k)},
            interpolate=interpolate,
            name=normalize_stack_name(path.stem) if path.suffix in (".yaml", ".yml") else None,
            policy=policy,
            **_reads(path, policy=policy),
        )
    )


def _reads(source: PurePath, *, policy: Policy) -> dict[str, Any]:
    """Where a posted spec may read files: nowhere, unless the operator named a spec root
    (``kedge serve --spec-root``) and ``source`` is inside it."""
    root = policy.spec_root
    if root is None:
        return {"project_dir": None, "reads": Reads.nothing()}
    reads = Reads.inside(root)
    where = errors.Location(str(source))
    folder = reads.check(Path(source).parent, what="the source folder", where=where)
    return {"project_dir": folder, "reads": reads}


def _record(
    kedge: Services, spec: StackSpec, *, source: str, author: str, apply: bool, wait: bool
) -> CommandCreated:
    recorded = kedge.store.versions.record(
        spec.name,
        loader.canonical(spec),
        digest=digests.digest(spec),
        declared=spec.meta.version,
        source=source,
        created_by=author,
        apply=CommandReason.API if apply else None,
        apply_options={"wait": True} if wait else None,
        desired=apply,
    )
    if recorded.command is not None:
        kedge.wake_controller()
    return CommandCreated(
        command=recorded.command,
        version=stacks.version_view(recorded.version),
        created=recorded.created,
    )


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
    *,
    apply: Annotated[bool, Query(description="Also enqueue an APPLY of it.")] = True,
    interpolate: Interpolate = True,
    wait: Annotated[bool, Query(description=models.WAIT_DESCRIPTION)] = False,
) -> CommandCreated:
    """Create (or find, by digest) the version of a posted spec and apply it, unless told not
    to. 409 with the broken rule when its declared ``x-kedge.version`` conflicts."""
    spec = await _read_spec(request, source=source, interpolate=interpolate)
    roles.require(request, "deploy", spec.name)
    record = functools.partial(
        _record,
        kedge,
        spec,
        source=source,
        author=stacks.author_of(request),
        apply=apply,
        wait=wait,
    )
    return trail.made(request, await anyio.to_thread.run_sync(record))


def _plan(kedge: Services, spec: StackSpec) -> PlanView:
    if kedge.engine is None:
        raise errors.EngineUnavailable("this server has no Docker engine to observe the stack")
    digest = digests.digest(spec)
    found = kedge.store.versions.find(spec.name, digest)
    # what an apply would do
    plan = preview.preview(kedge.engine, spec.name, spec, options=preview.APPLYING).plan
    return PlanView(
        stack=spec.name,
        digest=digest,
        version=found.number if found else None,
        changed=not plan.is_empty,
        actions=len(plan.actions),
        refused=plan.is_refused,
        plan=plan.render(),
    )


@router.post(
    "/plan",
    response_model=PlanView,
    openapi_extra=_SPEC_BODY,
    responses=problems.problem_responses(413, 415, 422, 503),
)
async def plan_spec(
    kedge: ServicesDep, request: Request, source: Source = "api", interpolate: Interpolate = True
) -> PlanView:
    """The plan of a posted spec against what runs, without applying or recording it."""
    spec = await _read_spec(request, source=source, interpolate=interpolate)
    roles.require(request, "get", spec.name)
    return await anyio.to_thread.run_sync(_plan, kedge, spec)
