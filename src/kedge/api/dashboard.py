"""The dashboard: Kedge's stacks in the browser, live, served by Kedge itself.

Pages are rendered on the server (jinja2 templates in ``api/templates``) from the same store
and observations as the API (live health by ``api.monitoring``, so by ``planning.health``,
the controller's rule): ``/`` lists the stacks with their sync and live health badges,
ready containers, versions and last command; ``/stacks/{name}`` shows one stack — services
and containers (state, health and the last check's output, uptime, restarts, ports, config
hash), a plot of its passes over the last day, versions with a diff between any two, and
commands with their plans and log lines — with buttons to apply a version, roll back and
cancel, each behind a confirmation. A little plain JavaScript (``api/static/kedge.js``)
follows ``GET /api/v1/events`` and re-renders the live part of the page from its fragment
route (``/ui/...``) when an event arrives; a banner says when the stream dropped and when
it is back. The buttons call the API's write routes. No asset comes from anywhere else.

Callers: ``api.app`` (``include_router``).
"""

from __future__ import annotations

import difflib
import io
import pathlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from ruamel.yaml import YAML

from kedge import __version__, errors
from kedge.api import edge, identity, monitoring, problems, roles, stacks
from kedge.api.commands import CommandId
from kedge.api.deps import ServicesDep
from kedge.api.stacks import StackName
from kedge.specs import redaction
from kedge.specs.commands import ACTIVE_STATUSES, Command, CommandStatus
from kedge.specs.options import MAX_VERSION
from kedge.store.protocol import Store

__all__ = ["render_page", "router"]

router = APIRouter(
    tags=["dashboard"],
    default_response_class=HTMLResponse,
    responses=problems.problem_responses(404, 422),
)

_HERE = pathlib.Path(__file__).parent
_STATIC = {
    "kedge.css": "text/css",
    "kedge.js": "text/javascript",
    "docs.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
#: the plot covers this much time back from now
PLOT_SPAN = timedelta(days=1)


def _age(when: datetime | None, *, now: datetime | None = None) -> str:
    """A short age, as kubectl prints it: 45s, 12m, 3h, 2d."""
    if when is None:
        return "-"
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "m")):
        if seconds >= size * 2 or (unit == "m" and seconds >= 60):
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return _age(datetime.now(UTC) - timedelta(seconds=seconds))


_TEMPLATES.filters["age"] = _age
_TEMPLATES.filters["duration"] = _duration


def _signed_in(request: Request) -> str:
    """The token a session signed in with ("" for a bearer, or when no identity is
    configured): the header then offers to sign out."""
    if not identity.session_id(request.headers):
        return ""
    return identity.identity_of(request).author


def render_page(
    request: Request, template: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page or fragment of the dashboard's templates, with what every one carries (the
    version, the CSRF token of this request's session, who signed in)."""
    page = _TEMPLATES.get_template(template).render(
        version=__version__,
        csrf=edge.csrf_token(request),
        signed_in=_signed_in(request),
        **context,
    )
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})


def _stack_rows(request: Request, store: Store, engine: Any) -> list[dict[str, Any]]:
    found = [s for s in monitoring.all_stacks(store) if roles.shown(request, s.stack)]
    latest = store.commands.latest([s.stack for s in found])
    live = monitoring.observe_all(engine, store, found)
    return [
        {
            "view": stacks.stack_view(status, last=latest.get(status.stack)),
            "live": live.get(status.stack),
            "last": latest.get(status.stack),
        }
        for status in found
    ]


@router.get("/")
def stacks_page(kedge: ServicesDep, request: Request) -> HTMLResponse:
    """The list of stacks."""
    return render_page(
        request,
        "stacks.html",
        rows=_stack_rows(request, kedge.store, kedge.engine),
        live_src="/ui/stacks",
    )


@router.get("/ui/stacks")
def stacks_fragment(kedge: ServicesDep, request: Request) -> HTMLResponse:
    """The live part of the list of stacks."""
    return render_page(
        request, "stack_rows.html", rows=_stack_rows(request, kedge.store, kedge.engine)
    )


def _seconds(command: Command) -> float | None:
    if command.finished_at is None or command.started_at is None:
        return None
    return (command.finished_at - command.started_at).total_seconds()


def _plot(commands: list[Command], *, now: datetime) -> dict[str, Any]:
    """Bars of the passes of the last day: x by finish time, height by duration."""
    start = now - PLOT_SPAN
    done = [
        (c, c.finished_at, took)
        for c in commands
        if c.finished_at and c.finished_at >= start and (took := _seconds(c)) is not None
    ]
    longest = max([took for _, _, took in done] or [1.0])
    bars = [
        {
            "x": round(600 * (finished - start) / PLOT_SPAN, 1),
            "height": max(2.0, round(80 * took / max(longest, 0.001), 1)),
            "status": command.status.value.lower(),
            "title": f"#{command.id} {command.type.value} {command.status.value}"
            f" in {took:.1f} s at {finished:%H:%M:%S}",
        }
        for command, finished, took in done
    ]
    failed = sum(1 for c, _, _ in done if c.status is CommandStatus.FAILED)
    return {"bars": bars, "count": len(done), "failed": failed, "longest": longest}


def _stack_context(kedge: ServicesDep, name: str) -> dict[str, Any]:
    status = kedge.store.stacks.get(name)
    now = datetime.now(UTC)
    commands = kedge.store.commands.list(stack=name, limit=20).items
    recent = kedge.store.commands.list(stack=name, since=now - PLOT_SPAN, limit=500).items
    versions = kedge.store.versions.list(name, limit=50).items
    outcomes: dict[int, str] = {}
    for command in recent:
        if command.version is not None and command.type.value in ("APPLY", "ROLLBACK"):
            outcomes.setdefault(command.version, command.status.value)
    return {
        "stack": stacks.stack_view(status, last=commands[0] if commands else None),
        "observed": monitoring.observe_stack_detail(kedge.engine, kedge.store, name),
        "commands": commands,
        "active": [c for c in commands if c.status in ACTIVE_STATUSES],
        "versions": versions,
        "outcomes": outcomes,
        "plot": _plot(recent, now=now),
        "now": now,
    }


@router.get("/stacks/{name}")
def stack_page(kedge: ServicesDep, request: Request, name: StackName) -> HTMLResponse:
    """One stack: containers, passes, versions, commands and the buttons to act on it."""
    context = _stack_context(kedge, name)
    return render_page(request, "stack.html", live_src=f"/ui/stacks/{name}", name=name, **context)


@router.get("/ui/stacks/{name}")
def stack_fragment(kedge: ServicesDep, request: Request, name: StackName) -> HTMLResponse:
    """The live part of one stack's page."""
    return render_page(request, "stack_live.html", name=name, **_stack_context(kedge, name))


@router.get("/ui/commands/{command_id}")
def command_fragment(kedge: ServicesDep, request: Request, command_id: CommandId) -> HTMLResponse:
    """One command's plan and log lines."""
    command = kedge.store.commands.get(command_id)
    lines = kedge.store.commands.logs(command_id, limit=1000)
    return render_page(request, "command.html", command=command, lines=lines)


def _yaml(document: dict[str, Any]) -> list[str]:
    yaml = YAML()
    yaml.default_flow_style = False
    text = io.StringIO()
    yaml.dump(document, text)
    return text.getvalue().splitlines()


@router.get("/ui/stacks/{name}/diff")
def diff_fragment(
    kedge: ServicesDep,
    request: Request,
    name: StackName,
    a: Annotated[int, Query(ge=1, le=MAX_VERSION)],
    b: Annotated[int, Query(ge=1, le=MAX_VERSION)],
) -> HTMLResponse:
    """A unified diff of two versions' canonical specs."""
    first, second = kedge.store.versions.get(name, a), kedge.store.versions.get(name, b)
    lines = list(
        difflib.unified_diff(
            _yaml(redaction.redact_document(first.document)),
            _yaml(redaction.redact_document(second.document)),
            fromfile=f"{name} version {a}",
            tofile=f"{name} version {b}",
            lineterm="",
        )
    )
    return render_page(request, "diff.html", lines=lines, a=a, b=b)


@router.get(
    "/static/{file}",
    response_class=FileResponse,
    responses={
        200: {"content": {t: {} for t in sorted(set(_STATIC.values()))}, "description": "A file"},
    },
)
def static_file(file: Annotated[str, Path(max_length=100)]) -> FileResponse:
    """The dashboard's own stylesheet, script and icon (nothing comes from elsewhere)."""
    if file not in _STATIC:
        raise errors.NotFoundError(f"no static file {file!r}")
    return FileResponse(
        _HERE / "static" / file,
        media_type=_STATIC[file],
        headers={"Cache-Control": "public, max-age=300"},
    )
