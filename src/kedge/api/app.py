"""The app factory: one FastAPI app over a store and an engine, with no globals.

``create_app`` puts the edge (``api.edge``: hosts, origins, body types and sizes, stream slots,
security headers) in front of everything and ``api.roles`` (every route's verb, for the
request's role) on every route, then wires the routes of ``api.stacks``, ``api.commands``,
``api.probes`` and the dashboard's (``api.dashboard``, its sign-in ``api.signin``), the
problem+json handlers, the OpenAPI document (``/openapi.json``) and its docs page (``/docs``),
and ``/metrics`` when a Prometheus registry is given. Everything a route needs reaches it
through ``request.app.state.kedge`` (a ``deps.Services``), so tests build as many apps as they
like. Callers: ``runtime.Runtime.api`` (the composition root, for ``kedge serve``) and the tests.
"""

from __future__ import annotations

import html
import importlib.resources
from pathlib import Path

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from kedge import __version__
from kedge.api import (
    audit,
    commands,
    dashboard,
    deps,
    edge,
    identity,
    logs,
    monitoring,
    posted,
    probes,
    problems,
    roles,
    signin,
    stacks,
    stream,
    trail,
)
from kedge.specs.policy import Policy

__all__ = ["create_app"]

DESCRIPTION = """Kedge keeps Docker stacks converged on the specs you commit.

Read stacks, versions and commands; create versions, apply, roll back, delete and cancel.
Every write answers with the command it created, so a client can follow it. Errors are
`application/problem+json` with a stable `type`.
"""


def create_app(
    store: deps.Store,
    engine: deps.Engine | None,
    *,
    registry: CollectorRegistry | None = None,
    controller: deps.Controller | None = None,
    policy: Policy | None = None,
    limits: edge.EdgeSettings | None = None,
) -> FastAPI:
    """A Kedge API over ``store`` and ``engine`` (``None``: Docker is not asked); ``limits``
    says what the edge accepts (by default: loopback host names, 1 MB bodies)."""
    app = FastAPI(
        title="Kedge",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        openapi_url="/openapi.json",
        redoc_url=None,
        default_response_class=problems.AsciiJSONResponse,
        # every route's verb on its stack, for the request's role (api.roles)
        dependencies=[Depends(roles.enforce)],
    )
    app.state.kedge = deps.Services(
        store=store, engine=engine, controller=controller, policy=policy or Policy()
    )
    app.state.edge = limits or edge.EdgeSettings()
    app.state.identities = identity.Authenticator(store, metrics_auth=app.state.edge.metrics_auth)
    app.add_middleware(
        edge.Edge,
        settings=app.state.edge,
        identities=app.state.identities,
        recorder=trail.Recorder(store),
    )
    problems.install_handlers(app)
    _serve_docs(app)
    app.include_router(stream.router, prefix="/api/v1")
    app.include_router(monitoring.router, prefix="/api/v1")
    app.include_router(dashboard.router)
    app.include_router(probes.router)
    app.include_router(signin.router)
    app.include_router(stacks.router, prefix="/api/v1")
    app.include_router(commands.router, prefix="/api/v1")
    app.include_router(posted.router, prefix="/api/v1")
    app.include_router(logs.router, prefix="/api/v1")
    app.include_router(identity.router, prefix="/api/v1")
    app.include_router(roles.router, prefix="/api/v1")
    app.include_router(audit.router, prefix="/api/v1")
    if registry is not None:
        _serve_metrics(app, registry)
    return app


def _serve_metrics(app: FastAPI, registry: CollectorRegistry) -> None:
    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus metrics of this process (the controller's registry)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Kedge API</title>
<meta name="kedge-csrf" content="{token}">
<link rel="icon" href="/docs/static/favicon-32x32.png">
<link rel="stylesheet" href="/docs/static/swagger-ui.css">
<script src="/docs/static/swagger-ui-bundle.js" defer></script>
<script src="/static/docs.js" defer></script>
</head>
<body><div id="swagger-ui"></div></body>
</html>
"""


def _serve_docs(app: FastAPI) -> None:
    """The docs page with Swagger UI's assets served by Kedge itself: no CDN is asked, so the
    page works where the internet is not reachable (the assets come with swagger-ui-py). Its
    start-up script is a served file too (``static/docs.js``), as the CSP allows no inline
    script; it sends the CSRF token with "Try it out" writes."""
    assets = Path(str(importlib.resources.files("swagger_ui") / "static"))
    app.mount("/docs/static", StaticFiles(directory=assets), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        token = html.escape(edge.csrf_token(request))
        return HTMLResponse(_DOCS_PAGE.format(token=token), headers={"Cache-Control": "no-store"})
