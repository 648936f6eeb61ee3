"""Kedge's own tokens at the edge (issue #16, first slice): once a token exists, every route
but the probes answers 401 to a request without a good bearer token, and a refused request
leaves the store as it was (no version, no command); a good token acts as ``token:<name>``,
whatever ``X-Kedge-User`` says. The store keeps only each token's SHA-256.

The real app over a real SQLite store (the security fixtures); the store's clock is the
tests' ``Clock``, so that expiry is exact.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from kedge.api import identity
from kedge.api.app import create_app
from kedge.api.edge import EdgeSettings
from kedge.store.sqlite import SqliteStore
from tests.api.conftest import Seed
from tests.security.conftest import LOCAL

SHOP = """\
name: shop
services:
  web:
    image: busybox:1
    command: ["sleep", "3600"]
"""
YAML = {"Content-Type": "application/yaml"}


def _make(store: SqliteStore, name: str = "ci", **given: Any) -> str:
    given.setdefault("role", "operator")
    given.setdefault("stacks", ("shop-*",))
    given.setdefault("lifetime", None)
    return store.tokens.create(name, **given).secret


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _counts(store: SqliteStore) -> tuple[int, int]:
    """How many versions and commands the store holds."""
    versions = sum(
        len(store.versions.list(s.stack, limit=500).items)
        for s in store.stacks.list(limit=500).items
    )
    return versions, len(store.commands.list(limit=500).items)


def _refused(answer: Any, *, bad_token: bool = True) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"] == "https://kedge.dev/problems/unauthenticated"
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    assert ('error="invalid_token"' in challenge) is bad_token


# -- no identity configured: today's behaviour -----------------------------------------------


def test_without_a_token_every_route_answers_as_before(client: TestClient, seed: Seed) -> None:
    seed.version("shop")
    assert client.get("/api/v1/stacks").status_code == 200
    answer = client.post(
        "/api/v1/stacks/shop/apply", json={"version": 1}, headers={"X-Kedge-User": "alice@h"}
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["command"]["created_by"] == "alice@h"
    assert client.get("/api/v1/whoami").json() == {
        "kind": "anonymous",
        "name": "",
        "role": "",
        "stacks": [],
    }


def test_a_revoked_last_token_turns_authentication_off(
    client: TestClient, store: SqliteStore
) -> None:
    _make(store)
    assert client.get("/api/v1/stacks").status_code == 401
    store.tokens.revoke("ci")
    assert client.get("/api/v1/stacks").status_code == 200


# -- refusals: 401 and the store unchanged ----------------------------------------------------


ROUTES = [
    ("GET", "/api/v1/stacks"),
    ("GET", "/api/v1/commands"),
    ("GET", "/api/v1/whoami"),
    ("GET", "/api/v1/events"),
    ("GET", "/"),
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
    ("GET", "/no/such/route"),
    ("POST", "/api/v1/stacks/shop-a/apply"),
    ("POST", "/api/v1/stacks/shop-a/rollback"),
    ("DELETE", "/api/v1/stacks/shop-a"),
    ("POST", "/api/v1/commands/1/cancel"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_anonymous_requests_are_refused_once_a_token_exists(
    client: TestClient, store: SqliteStore, seed: Seed, method: str, path: str
) -> None:
    seed.version("shop-a")
    seed.command("shop-a")
    _make(store)
    before = _counts(store)
    answer = client.request(method, path, json={} if method == "POST" else None)
    _refused(answer, bad_token=False)
    assert _counts(store) == before


def _post_spec(client: TestClient, headers: dict[str, str], **params: str) -> Any:
    return client.post("/api/v1/versions", content=SHOP, headers=YAML | headers, params=params)


BAD_HEADERS = {
    "wrong token": "Bearer kedge_" + "A" * 43,
    "not a kedge token": "Bearer eyJhbGciOiJub25lIn0.e30.",
    "basic scheme": "Basic Y2k6c2VjcmV0",
    "token scheme": "Token {secret}",
    "no scheme": "{secret}",
    "empty bearer": "Bearer ",
    "two spaces": "Bearer  {secret}",
    "trailing space": "Bearer {secret} ",
    "oversized": "Bearer {secret}" + "A" * 2000,
    "secret with a suffix": "Bearer {secret}x",
    "secret cut short": "Bearer {short}",
}


@pytest.mark.parametrize("name", list(BAD_HEADERS))
def test_a_bad_authorization_header_is_refused_and_writes_nothing(
    client: TestClient, store: SqliteStore, name: str
) -> None:
    secret = _make(store, stacks=("*",))
    header = BAD_HEADERS[name].format(secret=secret, short=secret[:-1])
    answer = _post_spec(client, {"Authorization": header})
    _refused(answer)
    assert _counts(store) == (0, 0)
    assert store.stacks.list().items == []


def test_two_authorization_headers_are_refused(client: TestClient, store: SqliteStore) -> None:
    secret = _make(store)
    answer = client.get(
        "/api/v1/stacks",
        headers=[("Authorization", f"Bearer {secret}"), ("Authorization", f"Bearer {secret}")],
    )
    _refused(answer)


@pytest.mark.parametrize("param", ["access_token", "token", "Access_Token"])
def test_a_token_in_the_query_string_is_refused_even_with_a_good_header(
    client: TestClient, store: SqliteStore, param: str
) -> None:
    secret = _make(store)
    answer = _post_spec(client, _bearer(secret), **{param: secret})
    _refused(answer)
    assert _counts(store) == (0, 0)
    alone = client.get("/api/v1/stacks", params={param: secret})
    _refused(alone)


def test_a_revoked_token_is_refused(client: TestClient, store: SqliteStore) -> None:
    secret = _make(store)
    _make(store, "other")  # authentication stays on after the revocation
    assert client.get("/api/v1/stacks", headers=_bearer(secret)).status_code == 200
    store.tokens.revoke("ci")
    _refused(_post_spec(client, _bearer(secret)))
    assert _counts(store) == (0, 0)


def test_an_expired_token_is_refused(client: TestClient, store: SqliteStore) -> None:
    clock = store.tokens._clock  # the tests' Clock (the security fixtures' store)
    secret = _make(store, lifetime=timedelta(hours=1))
    assert client.get("/api/v1/stacks", headers=_bearer(secret)).status_code == 200
    clock.tick(3600)  # type: ignore[attr-defined]
    _refused(_post_spec(client, _bearer(secret)))
    assert _counts(store) == (0, 0)


def test_a_token_made_by_another_process_is_seen_within_the_ttl(
    client: TestClient, store: SqliteStore
) -> None:
    assert client.get("/api/v1/stacks").status_code == 200  # the cache: not configured
    other = SqliteStore.open(store.path)  # as `kedge token create --db` while serving
    try:
        other.tokens.create("ci", role="admin", stacks=("*",), lifetime=None)
    finally:
        other.close()
    time.sleep(identity.CONFIGURED_TTL + 0.1)
    _refused(client.get("/api/v1/stacks"), bad_token=False)


# -- what stays open --------------------------------------------------------------------------


def test_the_probes_stay_open(client: TestClient, store: SqliteStore) -> None:
    _make(store)
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)  # no engine: still not a 401
    assert client.get("/readyz").status_code != 401


def _with_metrics(store: SqliteStore, *, metrics_auth: bool) -> TestClient:
    limits = EdgeSettings(metrics_auth=metrics_auth)
    app = create_app(store, None, registry=CollectorRegistry(), limits=limits)
    return TestClient(app, base_url=LOCAL)


def test_metrics_stay_open_unless_the_flag_says_otherwise(store: SqliteStore) -> None:
    secret = _make(store)
    with _with_metrics(store, metrics_auth=False) as open_metrics:
        assert open_metrics.get("/metrics").status_code == 200
    with _with_metrics(store, metrics_auth=True) as closed:
        _refused(closed.get("/metrics"), bad_token=False)
        assert closed.get("/metrics", headers=_bearer(secret)).status_code == 200


# -- a good token -----------------------------------------------------------------------------


def test_a_good_token_applies_as_itself_never_as_the_header(
    client: TestClient, store: SqliteStore
) -> None:
    secret = _make(store, stacks=("shop", "shop-*"))
    answer = _post_spec(client, _bearer(secret) | {"X-Kedge-User": "mallory@evil"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["command"]["created_by"] == "token:ci"
    assert body["version"]["created_by"] == "token:ci"
    assert store.commands.get(body["command"]["id"]).created_by == "token:ci"
    cancel = client.post(
        f"/api/v1/commands/{body['command']['id']}/cancel",
        headers=_bearer(secret) | {"X-Kedge-User": "mallory@evil"},
    )
    assert cancel.status_code == 202, cancel.text
    assert cancel.json()["command"]["outcome"] == "cancelled by token:ci"
    assert "mallory" not in str(store.commands.get(body["command"]["id"]))


def test_the_bearer_scheme_is_case_insensitive(client: TestClient, store: SqliteStore) -> None:
    secret = _make(store)
    assert client.get("/api/v1/stacks", headers={"Authorization": f"bearer {secret}"}).is_success


def test_whoami_carries_the_tokens_role_and_stacks(client: TestClient, store: SqliteStore) -> None:
    secret = _make(store, role="viewer", stacks=("shop-*", "blog"))
    assert client.get("/api/v1/whoami", headers=_bearer(secret)).json() == {
        "kind": "token",
        "name": "ci",
        "role": "viewer",
        "stacks": ["shop-*", "blog"],
    }


def test_a_use_is_recorded_at_most_once_a_minute(client: TestClient, store: SqliteStore) -> None:
    secret = _make(store)
    client.get("/api/v1/stacks", headers=_bearer(secret))
    first = store.tokens.list()[0].last_used_at
    assert first is not None
    client.get("/api/v1/stacks", headers=_bearer(secret))
    assert store.tokens.list()[0].last_used_at == first


# -- the store --------------------------------------------------------------------------------


def test_the_database_never_holds_a_secret(store: SqliteStore) -> None:
    secret = _make(store)
    store.tokens.revoke("ci")
    _make(store, "admin", role="admin", stacks=("*",))
    for path in store.path.parent.glob(store.path.name + "*"):  # the file, its WAL and SHM
        raw = path.read_bytes()
        assert secret.encode() not in raw, path
        assert secret.removeprefix("kedge_").encode() not in raw, path
    assert "secret" not in repr(store.tokens.list())


def test_a_made_tokens_repr_hides_its_secret(store: SqliteStore) -> None:
    made = store.tokens.create("ci", role="viewer", stacks=("*",), lifetime=None)
    assert made.secret not in repr(made)
    assert made.secret.startswith("kedge_")
    assert len(made.secret) == 49


@pytest.mark.parametrize(
    ("name", "role", "stacks"),
    [
        ("CI", "operator", ("*",)),
        ("ci tokens", "operator", ("*",)),
        ("", "operator", ("*",)),
        ("ci", "root", ("*",)),
        ("ci", "operator", ()),
        ("ci", "operator", ("shop;drop",)),
    ],
)
def test_invalid_tokens_are_not_made(
    store: SqliteStore, name: str, role: str, stacks: tuple[str, ...]
) -> None:
    from kedge import errors

    with pytest.raises(errors.ConflictError):
        store.tokens.create(name, role=role, stacks=stacks, lifetime=None)
    assert store.tokens.list() == []


def test_a_name_is_never_reused(store: SqliteStore) -> None:
    from kedge import errors

    _make(store)
    store.tokens.revoke("ci")
    with pytest.raises(errors.ConflictError, match="exists"):
        _make(store)
