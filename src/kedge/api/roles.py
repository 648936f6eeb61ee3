"""What a request may do: the one owner of role enforcement in the API (issue #16, Roles).

Every route is mapped to exactly one verb of ``specs.access`` (``VERB_OF``, keyed by its
endpoint); ``enforce``, a dependency of the whole app, finds the route's verb and
the stack it acts on and asks ``access.decide``. A route that is not in the table is refused
(default deny); ``tests/security/test_roles.py`` walks ``app.routes`` so none is forgotten.
The stack of a route is its ``{name}``; a command's (``{command_id}``) is the stack that
command belongs to; a posted spec's (``POST /versions``, ``POST /plan``) is known only once
the route read it, so those routes call ``require`` with it.

The rule (one, for reads and writes alike): a stack outside the token's scope, or a verb its
role does not grant, answers 403 problem+json before the route runs ("token 'ci' (role
viewer) may not apply stack 'shop'"), so the store is unchanged; the answer is the same
whether the stack exists, so it reveals nothing. Lists (``GET /api/v1/stacks``, commands,
``/observed``, the dashboard's, the events stream) show only the stacks in scope (``shown``;
a page may then hold fewer rows than its limit), and a list filtered by ``?stack=`` is a read
of that stack.

Only when authentication is on: an anonymous request (no identity configured, or an open
route such as ``/healthz``) is allowed everything, as before roles existed.
``GET /api/v1/can-i`` answers the same ``decide`` for the caller, which is what
``kedge auth can-i`` prints. Callers: ``api.app`` (the dependency and the router),
``api.stacks``, ``api.commands``, ``api.monitoring``, ``api.posted``, ``api.dashboard``,
``api.stream``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from kedge import errors
from kedge.api import deps, identity, problems, trail
from kedge.specs import access

__all__ = [
    "FILTERED_LISTS",
    "VERB_OF",
    "decision",
    "endpoint_name",
    "enforce",
    "require",
    "router",
    "shown",
    "verb_of",
]

#: every route's verb, by its endpoint (``module.function``: a path is not unique, as the
#: dashboard and the API both serve ``/stacks/{name}``); a route missing here is refused
VERB_OF: dict[str, access.Verb] = {
    # open routes (anonymous even with authentication on) and documents naming no stack
    "kedge.api.probes.healthz": "get",
    "kedge.api.probes.readyz": "get",
    "kedge.api.signin.signin_page": "get",
    "kedge.api.signin.signin": "get",
    "kedge.api.signin.signout": "get",
    "kedge.api.dashboard.static_file": "get",
    "kedge.api.app._serve_docs.<locals>.docs": "get",
    "kedge.api.app._serve_metrics.<locals>.metrics": "get",
    "kedge.api.identity.whoami": "get",
    "kedge.api.roles.can_i": "get",
    # reads; lists show only the stacks in scope
    "kedge.api.dashboard.stacks_page": "get",
    "kedge.api.dashboard.stacks_fragment": "get",
    "kedge.api.dashboard.stack_page": "get",
    "kedge.api.dashboard.stack_fragment": "get",
    "kedge.api.dashboard.diff_fragment": "get",
    "kedge.api.dashboard.command_fragment": "get",
    "kedge.api.stream.stream_events": "get",
    "kedge.api.monitoring.list_observed": "get",
    "kedge.api.monitoring.get_observed": "get",
    "kedge.api.stacks.list_stacks": "get",
    "kedge.api.stacks.get_stack": "get",
    "kedge.api.stacks.list_versions": "get",
    "kedge.api.stacks.get_version": "get",
    "kedge.api.commands.list_commands": "get",
    "kedge.api.commands.get_command": "get",
    # a command's own log lines are Kedge's account of it, not a container's output
    "kedge.api.commands.list_logs": "get",
    "kedge.api.commands.stream_logs": "get",
    "kedge.api.posted.plan_spec": "get",
    # container logs are a verb of their own
    "kedge.api.logs.stack_logs": "logs",
    # writes
    "kedge.api.posted.create_version": "deploy",
    "kedge.api.stacks.apply_version": "apply",
    "kedge.api.stacks.rollback_stack": "rollback",
    "kedge.api.commands.cancel_command": "cancel",
    "kedge.api.stacks.delete_stack": "delete",
    # the audit trail: who did what (admin only)
    "kedge.api.audit.list_audit": "audit",
}

#: the lists a ``?stack=`` filters to one stack (``stacks.StackFilter``)
FILTERED_LISTS = frozenset({"kedge.api.commands.list_commands", "kedge.api.stream.stream_events"})


def endpoint_name(route: object) -> str:
    """The ``module.function`` of a route's endpoint ("" for a mount)."""
    found = getattr(route, "endpoint", None)
    if found is None:
        return ""
    return f"{found.__module__}.{found.__qualname__}"


def verb_of(route: object) -> access.Verb | None:
    """The verb of ``route`` (None: not mapped, refused)."""
    return VERB_OF.get(endpoint_name(route))


def decision(request: Request, verb: str, stack: str | None) -> access.Decision:
    """``access.decide`` for the request's identity; an anonymous one may do everything."""
    found = identity.identity_of(request)
    if found.kind == "anonymous":
        return access.Decision(True)
    return access.decide(verb, stack, name=found.name, role=found.role, stacks=found.stacks)


def require(request: Request, verb: str, stack: str | None) -> None:
    """Raise the 403 problem when the request may not do ``verb`` to ``stack``."""
    found = decision(request, verb, stack)
    trail.noted_access(request.scope, verb=verb, stack=stack, reason=found.reason)
    if not found.allowed:
        raise problems.ProblemError(403, "forbidden", "The role does not allow this", found.reason)


def enforce(request: Request) -> None:
    """The app's dependency: the route's verb on the route's stack, else 403 (see above)."""
    verb = verb_of(request.scope.get("route"))
    if verb is None:
        if identity.identity_of(request).kind == "anonymous":
            return  # no identity configured: as before roles existed
        raise problems.ProblemError(
            403, "forbidden", "The role does not allow this", "this route is mapped to no verb"
        )
    require(request, verb, _stack_of(request))


def _stack_of(request: Request) -> str | None:
    """The stack the request acts on, when its path names one (None: no stack, or a command
    that does not exist, which the route answers 404: a command id out of scope is refused,
    so ids reveal that they exist, never a stack's name)."""
    params = request.path_params
    if "name" in params:
        return str(params["name"])
    filtered = endpoint_name(request.scope.get("route")) in FILTERED_LISTS
    if filtered and "stack" in request.query_params:
        return request.query_params["stack"]  # a list filtered to one stack reads that stack
    if "command_id" in params and identity.identity_of(request).kind != "anonymous":
        try:
            return deps.services(request).store.commands.get(int(params["command_id"])).stack
        except (ValueError, errors.NotFoundError):
            return None
    return None


def shown(request: Request, stack: str | None) -> bool:
    """Whether a list shows a row of ``stack`` to this request (a row of no stack: yes)."""
    return stack is None or decision(request, "get", stack).allowed


router = APIRouter(tags=["identity"])


@router.get("/can-i", response_model=dict[str, object])
def can_i(
    request: Request,
    verb: Annotated[str, Query(max_length=32, description="One of " + ", ".join(access.VERBS))],
    stack: Annotated[str | None, Query(max_length=200, description="A stack name")] = None,
) -> dict[str, object]:
    """Whether this request's identity may do ``verb`` to ``stack``: the rule every route
    applies (``kedge auth can-i``)."""
    found = decision(request, verb, stack)
    return {"verb": verb, "stack": stack, "allowed": found.allowed, "reason": found.reason}
