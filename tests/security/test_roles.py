"""Roles (issue #16, second slice): every route against the built-in roles and an operator
scoped to ``shop-*``, each cell the expected 2xx (or the route's own answer without Docker) or
403, ``GET /api/v1/can-i`` agreeing with each cell, and a refusal leaving the store as it was.

Each route is one ``Route`` row; each cell is one test (a row, an identity, a stack), so a
failure names the cell. The real app over a real SQLite store, no Docker (``engine=None``:
the routes that need Docker answer 503, which is not a refusal). ``api.roles.VERB_OF`` must
name every route the app serves, and every one of them must have a row here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from kedge.api import roles
from kedge.api.app import create_app
from kedge.specs import access
from kedge.store.sqlite import SqliteStore
from tests.api.conftest import Clock, Seed
from tests.security.conftest import LOCAL

V = "/api/v1"
IN, OUT = "shop-a", "web"  # a stack inside the scoped operator's ``shop-*``, one outside
SPEC = "name: {stack}\nservices:\n  web:\n    image: busybox:1\n    command: [sleep, '3600']\n"
YAML = {"Content-Type": "application/yaml"}
OK = frozenset({200, 201, 202})
NO_DOCKER = OK | {503}  # engine=None: the route answers, Docker is not asked

#: the identities of the matrix: (role, stack patterns)
WHO = {
    "viewer": ("viewer", ("*",)),
    "operator": ("operator", ("*",)),
    "admin": ("admin", ("*",)),
    "shop-operator": ("operator", ("shop-*",)),
}


@dataclass(frozen=True)
class Route:
    """One route of the matrix: its endpoint (``api.roles.VERB_OF``'s key without
    ``kedge.api.``), how to call it
    for a stack (``{stack}``, ``{done}``: a finished command of it, ``{pending}``: one to
    cancel), and what an allowed call answers."""

    endpoint: str
    method: str
    path: str
    ok: frozenset[int] = OK
    body: str | None = None
    json: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: the route is about one stack (else it is a list or names none)
    about_stack: bool = True


ROUTES = [
    Route("stacks.list_stacks", "GET", V + "/stacks", about_stack=False),
    Route("stacks.get_stack", "GET", V + "/stacks/{stack}"),
    Route("stacks.list_versions", "GET", V + "/stacks/{stack}/versions"),
    Route("stacks.get_version", "GET", V + "/stacks/{stack}/versions/1"),
    Route("monitoring.get_observed", "GET", V + "/stacks/{stack}/observed", ok=NO_DOCKER),
    Route("monitoring.list_observed", "GET", V + "/observed", about_stack=False),
    Route("commands.list_commands", "GET", V + "/commands", about_stack=False),
    Route("commands.get_command", "GET", V + "/commands/{done}"),
    Route("commands.list_logs", "GET", V + "/commands/{done}/logs"),
    Route("commands.stream_logs", "GET", V + "/commands/{done}/logs/stream"),
    Route("stream.stream_events", "GET", V + "/events?follow=false", about_stack=False),
    Route("posted.plan_spec", "POST", V + "/plan", ok=NO_DOCKER, body=SPEC, headers=YAML),
    Route("logs.stack_logs", "GET", V + "/stacks/{stack}/logs?follow=false", ok=NO_DOCKER),
    Route("posted.create_version", "POST", V + "/versions", body=SPEC, headers=YAML),
    Route("stacks.apply_version", "POST", V + "/stacks/{stack}/apply", json={"version": 1}),
    Route("stacks.rollback_stack", "POST", V + "/stacks/{stack}/rollback", json={"to": 1}),
    Route("commands.cancel_command", "POST", V + "/commands/{pending}/cancel"),
    Route("stacks.delete_stack", "DELETE", V + "/stacks/{stack}"),
    Route("dashboard.stacks_page", "GET", "/", about_stack=False),
    Route("dashboard.stacks_fragment", "GET", "/ui/stacks", about_stack=False),
    Route("dashboard.stack_page", "GET", "/stacks/{stack}"),
    Route("dashboard.stack_fragment", "GET", "/ui/stacks/{stack}"),
    Route("dashboard.diff_fragment", "GET", "/ui/stacks/{stack}/diff?a=1&b=2"),
    Route("dashboard.command_fragment", "GET", "/ui/commands/{done}"),
    Route("identity.whoami", "GET", V + "/whoami", about_stack=False),
    Route("roles.can_i", "GET", V + "/can-i?verb=get", about_stack=False),
    Route("app.docs", "GET", "/docs", about_stack=False),
    Route("app.metrics", "GET", "/metrics", about_stack=False),
    Route("audit.list_audit", "GET", V + "/audit", about_stack=False),
]  # fmt: skip

#: routes that answer without a token even when authentication is on (``identity.OPEN_PATHS``
#: and the static files): no identity, so no role; they are mapped all the same
OPEN = {
    "kedge.api.probes.healthz",
    "kedge.api.probes.readyz",
    "kedge.api.signin.signin_page",
    "kedge.api.signin.signin",
    "kedge.api.signin.signout",
    "kedge.api.dashboard.static_file",
}
#: the two app-level routes are closures in ``api.app``; the rows above name them short
_SHORT = {
    "app.docs": "app._serve_docs.<locals>.docs",
    "app.metrics": "app._serve_metrics.<locals>.metrics",
}


def _endpoint(route: Route) -> str:
    """The row's endpoint as ``api.roles.VERB_OF`` names it (rows drop ``kedge.api.``)."""
    return "kedge.api." + _SHORT.get(route.endpoint, route.endpoint)


def _cells() -> Iterator[Any]:
    for route in ROUTES:
        stacks = (IN, OUT) if route.about_stack else (IN,)
        for who in WHO:
            for stack in stacks:
                target = f"-{stack}" if route.about_stack else ""
                yield pytest.param(route, who, stack, id=f"{route.endpoint}-{who}{target}")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    found = SqliteStore.open(tmp_path / "kedge.db", clock=Clock())
    yield found
    found.close()


@pytest.fixture
def app(store: SqliteStore) -> FastAPI:
    return create_app(store, None, registry=CollectorRegistry())


@dataclass
class World:
    """The store's stacks and commands the cells act on; ``tokens`` by identity."""

    done: dict[str, int]
    pending: dict[str, int]
    tokens: dict[str, str]


@pytest.fixture
def world(store: SqliteStore) -> World:
    seed = Seed(store, Clock())
    done, pending = {}, {}
    for stack in (IN, OUT):
        seed.version(stack)
        seed.version(stack, image="busybox:2")
        done[stack] = seed.command(stack, version=1, lines=1).id
    for stack in (IN, OUT):  # after the finished ones: the seed claims the oldest pending
        pending[stack] = seed.command(stack, version=2, end=None).id
    tokens = {
        who: store.tokens.create(who, role=role, stacks=stacks, lifetime=None).secret
        for who, (role, stacks) in WHO.items()
    }
    return World(done=done, pending=pending, tokens=tokens)


def _snapshot(store: SqliteStore) -> list[Any]:
    """Every stack's versions and every command with its status: what a write would change."""
    versions = [
        (s.stack, len(store.versions.list(s.stack, limit=500).items))
        for s in store.stacks.list(limit=500).items
    ]
    commands = [(c.id, c.stack, c.type, c.status) for c in store.commands.list(limit=500).items]
    return [versions, commands]


def _call(client: TestClient, route: Route, world: World, stack: str, token: str) -> Any:
    path = route.path.format(stack=stack, done=world.done[stack], pending=world.pending[stack])
    return client.request(
        route.method,
        path,
        content=route.body.format(stack=stack) if route.body else None,
        json=route.json,
        headers={"Authorization": f"Bearer {token}"} | route.headers,
    )


def _expected(route: Route, who: str, stack: str) -> bool:
    role, stacks = WHO[who]
    verb = roles.VERB_OF[_endpoint(route)]
    about = stack if route.about_stack else None
    return access.decide(verb, about, name=who, role=role, stacks=stacks).allowed


# -- the routes and the table agree ------------------------------------------------------------


def _served(app: FastAPI) -> set[str]:
    """The endpoints of every route the app serves (routers included), by ``module.function``."""
    found: set[str] = set()
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        inner = [c.original_route for c in contexts()] if contexts else [route]
        found.update(roles.endpoint_name(r) for r in inner)
    # FastAPI's own /openapi.json (a document of no stack, behind the edge's authentication)
    # and the Swagger UI's files (a mount) run no route dependency
    return {e for e in found if e.startswith("kedge.")}


def test_every_route_is_mapped_to_one_verb_and_has_a_row(app: FastAPI) -> None:
    served = _served(app)
    assert served - set(roles.VERB_OF) == set(), "a route no verb names is refused: map it"
    assert set(roles.VERB_OF) - served == set(), "the table names a route the app lacks"
    rows = {_endpoint(r) for r in ROUTES}
    assert served - rows - OPEN == set(), "a route without a row in the matrix"
    assert set(roles.VERB_OF.values()) <= set(access.VERBS)


def test_an_unmapped_route_is_refused_when_authentication_is_on(
    app: FastAPI, store: SqliteStore, world: World
) -> None:
    @app.get("/api/v1/unmapped")
    def unmapped() -> dict[str, str]:
        return {"reached": "yes"}

    with TestClient(app, base_url=LOCAL) as client:
        answer = client.get("/api/v1/unmapped", headers=_bearer(world.tokens["admin"]))
    assert answer.status_code == 403, answer.text
    assert answer.json()["detail"] == "this route is mapped to no verb"


# -- the matrix --------------------------------------------------------------------------------


@pytest.mark.parametrize(("route", "who", "stack"), list(_cells()))
def test_matrix(
    app: FastAPI, store: SqliteStore, *, world: World, route: Route, who: str, stack: str
) -> None:
    allowed = _expected(route, who, stack)
    before = _snapshot(store)
    with TestClient(app, base_url=LOCAL) as client:
        answer = _call(client, route, world, stack, world.tokens[who])
        verb = roles.VERB_OF[_endpoint(route)]
        asked = {"verb": verb} | ({"stack": stack} if route.about_stack else {})
        can_i = client.get("/api/v1/can-i", params=asked, headers=_bearer(world.tokens[who]))
    if allowed:
        assert answer.status_code in route.ok, answer.text
    else:
        assert answer.status_code == 403, answer.text
        problem = answer.json()
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert problem["type"] == "https://kedge.dev/problems/forbidden"
        assert problem["detail"].startswith(f"token '{who}' (role {WHO[who][0]}) may not {verb}")
        assert _snapshot(store) == before, "a refusal changed the store"
    if route.about_stack:  # can-i is asked the same question the route asked
        assert can_i.status_code == 200
        assert can_i.json()["allowed"] is allowed


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# -- lists show only the stacks in scope --------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "seen"),
    [
        pytest.param("viewer", {IN, OUT}, id="viewer-all"),
        pytest.param("shop-operator", {IN}, id="shop-operator-shop-only"),
    ],
)
def test_lists_show_only_the_stacks_in_scope(
    app: FastAPI, world: World, who: str, seen: set[str]
) -> None:
    with TestClient(app, base_url=LOCAL) as client:
        auth = _bearer(world.tokens[who])
        stacks = client.get("/api/v1/stacks", headers=auth).json()["items"]
        commands = client.get("/api/v1/commands", headers=auth).json()["items"]
        page = client.get("/", headers=auth).text
    assert {s["name"] for s in stacks} == seen
    assert {c["stack"] for c in commands} == seen
    assert (f"/stacks/{OUT}" in page) is (OUT in seen)


def test_a_list_filtered_to_a_stack_out_of_scope_is_refused(app: FastAPI, world: World) -> None:
    with TestClient(app, base_url=LOCAL) as client:
        auth = _bearer(world.tokens["shop-operator"])
        assert (
            client.get("/api/v1/commands", params={"stack": OUT}, headers=auth).status_code == 403
        )
        assert client.get("/api/v1/commands", params={"stack": IN}, headers=auth).status_code == 200


def test_a_stack_out_of_scope_answers_the_same_whether_it_exists(
    app: FastAPI, world: World
) -> None:
    with TestClient(app, base_url=LOCAL) as client:
        auth = _bearer(world.tokens["shop-operator"])
        there = client.get(f"/api/v1/stacks/{OUT}", headers=auth)
        missing = client.get("/api/v1/stacks/nowhere", headers=auth)
    assert there.status_code == missing.status_code == 403
    assert there.json()["detail"].replace(OUT, "X") == missing.json()["detail"].replace(
        "nowhere", "X"
    )


def test_without_an_identity_every_verb_is_allowed(store: SqliteStore) -> None:
    Seed(store, Clock()).version(OUT)
    with TestClient(create_app(store, None), base_url=LOCAL) as client:
        answer = client.get("/api/v1/can-i", params={"verb": "delete", "stack": OUT})
        deleted = client.delete(f"/api/v1/stacks/{OUT}")
    assert answer.json()["allowed"] is True
    assert deleted.status_code == 202, deleted.text


@pytest.mark.parametrize(
    ("patterns", "stack", "inside"),
    [
        pytest.param(("shop-*",), "shop-a", True, id="glob"),
        pytest.param(("shop-*",), "shopa", False, id="glob-needs-the-dash"),
        pytest.param(("web, shop-*",), "web", True, id="comma-list"),
        pytest.param(("Shop-*",), "shop-a", False, id="case-sensitive"),
        pytest.param((), "shop-a", False, id="no-pattern-no-stack"),
    ],
)
def test_stack_patterns(patterns: tuple[str, ...], stack: str, inside: bool) -> None:
    assert access.in_scope(patterns, stack) is inside


def test_an_unknown_role_or_verb_is_refused() -> None:
    assert not access.decide("get", "shop", name="x", role="root", stacks=("*",)).allowed
    unknown = access.decide("destroy", "shop", name="x", role="admin", stacks=("*",))
    assert not unknown.allowed
    assert "is not a verb" in unknown.reason
