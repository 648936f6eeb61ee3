"""``GET /api/v1/audit``: the audit trail, newest first (issue #16, *Audit*).

Who did what, when, from where, allowed or refused: the rows ``api.trail`` records (every
write and every refusal; reads that succeed are not recorded), filtered by stack, identity,
outcome and time, keyset-paginated like every list (``store.cursors``). Its verb is
``audit``, which only ``admin`` has (``specs.access``); a refused read of it is itself
recorded. Callers: ``api.app`` (the router), ``kedge get audit`` (``cli.get``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from kedge.api import problems
from kedge.api.deps import ServicesDep
from kedge.api.models import Page
from kedge.api.stacks import Cursor, Limit, StackFilter
from kedge.store.records import AuditEntry

__all__ = ["router"]

router = APIRouter(tags=["identity"])

IdentityFilter = Annotated[
    str | None,
    Query(max_length=300, description="Only this identity (token:NAME, anonymous)."),
]


@router.get(
    "/audit", response_model=Page[AuditEntry], responses=problems.problem_responses(400, 422)
)
def list_audit(
    kedge: ServicesDep,
    *,
    stack: StackFilter = None,
    identity: IdentityFilter = None,
    outcome: Literal["allowed", "refused"] | None = None,
    since: Annotated[datetime | None, Query(description="At or after.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AuditEntry]:
    """The audit trail newest first: every write and every refusal (401, 403)."""
    page = kedge.store.audit.list(
        stack=stack,
        identity=identity,
        outcome=outcome,
        since=since,
        limit=limit,
        cursor=cursor,
    )
    return Page[AuditEntry](items=page.items, next_cursor=page.next_cursor)
