"""Stack routes: stacks with their status, one stack in detail, its versions, and the writes
that make commands of a stack (apply a version, roll back, delete).

Reads come from the store, and for one stack's containers from Docker through
``reconcilers.observe`` (never from the store: observed state is Docker's). Every write
answers 202 with the command it created. Callers: ``api.app``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from kedge import errors
from kedge.api import identity, observing, problems, roles, trail
from kedge.api.deps import Services, ServicesDep
from kedge.api.models import (
    ApplyRequest,
    CommandCreated,
    CommandRef,
    Page,
    RetryView,
    RollbackRequest,
    StackDetail,
    StackView,
    VersionDetail,
    VersionView,
)
from kedge.specs import redaction
from kedge.specs.commands import Command, CommandReason, CommandStatus, CommandType
from kedge.specs.options import MAX_VERSION
from kedge.specs.stack import STACK_NAME_MAX, STACK_NAME_PATTERN
from kedge.specs.versions import StackVersion
from kedge.store.records import StackStatus

__all__ = ["StackFilter", "StackName", "VersionNumber", "author_of", "router", "version_view"]

router = APIRouter(tags=["stacks"])

StackName = Annotated[
    str, Path(min_length=1, max_length=STACK_NAME_MAX, pattern=STACK_NAME_PATTERN)
]
StackFilter = Annotated[
    str | None, Query(max_length=STACK_NAME_MAX, description="Only this stack.")
]
VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION)]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Cursor = Annotated[
    str | None, Query(max_length=500, description="The next_cursor of the previous page.")
]
_PROBLEMS = problems.problem_responses(400, 404, 422)
_WRITE_PROBLEMS = problems.problem_responses(404, 409, 422)
_OUTCOME_TYPES = frozenset({CommandType.APPLY, CommandType.ROLLBACK, CommandType.DEPLOY})


def author_of(request: Request) -> str:
    """Who asked (``api.identity`` owns the rule: the token's name when one authenticated
    the request, else the ``X-Kedge-User`` header the CLI sends, else "api")."""
    return identity.author_of(request)


def _title(word: str) -> str:
    """The controller's status words in one spelling (the store keeps them as given)."""
    return {"outofsync": "OutOfSync"}.get(word.lower(), word[:1].upper() + word[1:])


def retry_view(found: StackStatus, last: Command | None) -> RetryView | None:
    """The retry a stack waits for: its newest command, when that is a PENDING retry (a
    newer command would have superseded it); the cause is the error of the failed pass."""
    if last is None or last.status is not CommandStatus.PENDING or last.retry_of is None:
        return None
    return RetryView(
        command=last.id, attempt=last.attempt, at=last.not_before, cause=found.last_error
    )


def stack_view(
    found: StackStatus, *, last: Command | None, counts: tuple[int, int] | None = None
) -> StackView:
    return StackView(
        name=found.stack,
        created_at=found.created_at,
        sync=_title(found.sync),
        health=_title(found.health),
        applied_version=found.applied_version,
        desired_version=found.desired_version,
        last_error=found.last_error,
        updated_at=found.updated_at,
        last_command=None
        if last is None
        else CommandRef(id=last.id, type=last.type, status=last.status, created_at=last.created_at),
        ready=counts[0] if counts else None,
        containers=counts[1] if counts else None,
        next_retry=retry_view(found, last),
    )


def version_view(version: StackVersion, *, outcome: str | None = None) -> VersionView:
    return VersionView(
        stack=version.stack,
        number=version.number,
        digest=version.digest,
        created_at=version.created_at,
        created_by=version.created_by,
        source=version.source,
        commit=version.commit,
        outcome=outcome,
    )


def _outcomes(kedge: Services, stack: str) -> dict[int, str]:
    """The status of the newest APPLY/ROLLBACK of each version, from recent commands."""
    found: dict[int, str] = {}
    for command in kedge.store.commands.list(stack=stack, limit=200).items:
        if command.type in _OUTCOME_TYPES and command.version is not None:
            found.setdefault(command.version, command.status.value)
    return found


@router.get("/stacks", response_model=Page[StackView], responses=_PROBLEMS)
def list_stacks(
    kedge: ServicesDep,
    request: Request,
    limit: Limit = 100,
    cursor: Cursor = None,
    observe: Annotated[bool, Query(description="Count ready containers (asks Docker).")] = False,
) -> Page[StackView]:
    """Stacks by name, with their status and last command."""
    page = kedge.store.stacks.list(limit=limit, cursor=cursor)
    found = [s for s in page.items if roles.shown(request, s.stack)]
    counts = {}
    if observe:
        desired = {s.stack: observing.judged_stack(kedge.store, s) for s in found}
        counts = observing.count_ready(kedge.engine, desired) or {}
    latest = kedge.store.commands.latest([s.stack for s in found])
    items = [
        stack_view(
            s,
            last=latest.get(s.stack),
            counts=counts.get(s.stack, (0, 0)) if observe else None,
        )
        for s in found
    ]
    return Page[StackView](items=items, next_cursor=page.next_cursor)


@router.get("/stacks/{name}", response_model=StackDetail, responses=_PROBLEMS)
def get_stack(kedge: ServicesDep, name: StackName) -> StackDetail:
    """One stack: status, services and containers (health, uptime), versions, recent commands."""
    found = kedge.store.stacks.get(name)
    commands = kedge.store.commands.list(stack=name, limit=10).items
    outcomes = _outcomes(kedge, name)
    versions = [
        version_view(v, outcome=outcomes.get(v.number))
        for v in kedge.store.versions.list(name, limit=10).items
    ]
    # desired replicas and ready counts are judged against the version health is (the one
    # the controller compares against), so they agree with the stack's health
    desired = observing.judged_stack(kedge.store, found)
    seen = observing.observe_services(kedge.engine, name, desired=desired, now=datetime.now(UTC))
    base = stack_view(found, last=commands[0] if commands else None)
    return StackDetail(
        **base.model_dump(),
        services=seen.services,
        observed=seen.observed,
        observe_error=seen.error,
        versions=versions,
        commands=commands,
    )


@router.get("/stacks/{name}/versions", response_model=Page[VersionView], responses=_PROBLEMS)
def list_versions(
    kedge: ServicesDep, name: StackName, limit: Limit = 50, cursor: Cursor = None
) -> Page[VersionView]:
    """Versions of a stack, newest first, with the outcome of their last apply."""
    kedge.store.stacks.get(name)
    page = kedge.store.versions.list(name, limit=limit, cursor=cursor)
    outcomes = _outcomes(kedge, name)
    items = [version_view(v, outcome=outcomes.get(v.number)) for v in page.items]
    return Page[VersionView](items=items, next_cursor=page.next_cursor)


@router.get("/stacks/{name}/versions/{number}", response_model=VersionDetail, responses=_PROBLEMS)
def get_version(kedge: ServicesDep, name: StackName, number: VersionNumber) -> VersionDetail:
    """One version of a stack with its canonical spec (environment values, build args and
    inline config contents masked)."""
    version = kedge.store.versions.get(name, number)
    outcome = _outcomes(kedge, name).get(number)
    return VersionDetail(
        **version_view(version, outcome=outcome).model_dump(),
        spec=redaction.redact_document(version.document),
    )


def _enqueue(
    kedge: Services,
    request: Request,
    stack: str,
    kind: CommandType,
    *,
    version: int | None,
    options: dict[str, bool] | None = None,
) -> CommandCreated:
    # what the stack should run, made the desired version with its command in one transaction
    command = kedge.store.commands.enqueue(
        stack,
        kind,
        reason=CommandReason.API,
        version=version,
        created_by=author_of(request),
        options=options,
        desired=True,
    )
    kedge.wake_controller()
    found = kedge.store.versions.get(stack, version) if version is not None else None
    view = version_view(found) if found else None
    return trail.made(request, CommandCreated(command=command, version=view))


@router.post(
    "/stacks/{name}/apply",
    response_model=CommandCreated,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_WRITE_PROBLEMS,
)
def apply_version(
    kedge: ServicesDep, request: Request, name: StackName, body: ApplyRequest
) -> CommandCreated:
    """Apply an existing version of a stack: enqueue an APPLY."""
    version = kedge.store.versions.get(name, body.version)
    # the one record-and-apply: the equal version is found by its digest, made the desired
    # one and its APPLY enqueued in one transaction
    recorded = kedge.store.versions.record(
        name,
        version.document,
        digest=version.digest,
        declared=version.declared,
        source=version.source,
        created_by=author_of(request),
        apply=CommandReason.API,
        apply_options={"wait": True} if body.wait else None,
        desired=True,
    )
    kedge.wake_controller()
    created = CommandCreated(command=recorded.command, version=version_view(recorded.version))
    return trail.made(request, created)


def _previous_version(kedge: Services, stack: str) -> int:
    """The version applied before the one the stack runs now."""
    applied = kedge.store.stacks.get(stack).applied_version
    page = kedge.store.commands.list(stack=stack, status=CommandStatus.DONE, limit=200)
    for command in page.items:
        is_apply = command.type in _OUTCOME_TYPES
        if is_apply and command.version is not None and command.version != applied:
            return command.version
    if applied is not None and applied > 1:
        return applied - 1
    raise errors.ConflictError(
        f"stack {stack!r} has no earlier version to roll back to"
        " (hint: name one with `to`, see its versions)"
    )


@router.post(
    "/stacks/{name}/rollback",
    response_model=CommandCreated,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_WRITE_PROBLEMS,
)
def rollback_stack(
    kedge: ServicesDep, request: Request, name: StackName, body: RollbackRequest
) -> CommandCreated:
    """Roll back to a version, or to the one applied before the current one: a ROLLBACK."""
    kedge.store.stacks.get(name)
    target = body.to if body.to is not None else _previous_version(kedge, name)
    kedge.store.versions.get(name, target)
    options = {"wait": True} if body.wait else None
    return _enqueue(kedge, request, name, CommandType.ROLLBACK, version=target, options=options)


@router.delete(
    "/stacks/{name}",
    response_model=CommandCreated,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_WRITE_PROBLEMS,
)
def delete_stack(
    kedge: ServicesDep,
    request: Request,
    name: StackName,
    volumes: Annotated[bool, Query(description="Remove the stack's volumes too.")] = False,
) -> CommandCreated:
    """Delete a stack's containers and networks (its volumes only when asked): a DELETE."""
    kedge.store.stacks.get(name)
    return _enqueue(
        kedge, request, name, CommandType.DELETE, version=None, options={"remove_volumes": volumes}
    )
