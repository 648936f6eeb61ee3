"""The dashboard's token sign-in (issue #16): once a token exists, a browser that asks for a
dashboard page is sent to ``/signin``; a good token there opens a session whose cookie is
HttpOnly and SameSite=Strict and holds no token; the cookie then authenticates the
dashboard's pages, fragments, event stream and buttons (writes with the session's CSRF token
only), and no other route; a revoked or expired token, or a sign-out, ends the session.
Every refusal leaves the store as it was. Without a token the dashboard is as before.

The real app over a real SQLite store (the security fixtures).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kedge.api import sessions
from kedge.api.app import create_app
from kedge.store.sqlite import SqliteStore
from tests.api.conftest import Seed
from tests.security.conftest import EVIL, LOCAL

PAGE = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
#: what a browser adds to a same-origin write
BROWSER = {"Origin": LOCAL, "Sec-Fetch-Site": "same-origin"}


def _make(store: SqliteStore, name: str = "ci", **given: Any) -> str:
    given.setdefault("role", "operator")
    given.setdefault("stacks", ("*",))
    given.setdefault("lifetime", None)
    return store.tokens.create(name, **given).secret


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page) or re.search(
        r'name="kedge-csrf" content="([0-9a-f]+)"', page
    )
    assert found is not None, page
    return found.group(1)


def _counts(store: SqliteStore) -> tuple[int, int, list[Any]]:
    """Versions, commands and the tokens as listed: what a refusal must leave as it was."""
    versions = sum(
        len(store.versions.list(s.stack, limit=500).items)
        for s in store.stacks.list(limit=500).items
    )
    return versions, len(store.commands.list(limit=500).items), store.tokens.list()


def _sign_in(client: TestClient, secret: str) -> Any:
    form = client.get("/signin")
    return client.post(
        "/signin",
        data={"token": secret, "csrf": _csrf(form.text)},
        headers=FORM | BROWSER,
        follow_redirects=False,
    )


def _assert_sent_to_signin(answer: Any) -> None:
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/signin"


# -- no identity configured: the dashboard as before ------------------------------------------


def test_without_a_token_the_dashboard_needs_no_sign_in(client: TestClient) -> None:
    answer = client.get("/", headers=PAGE, follow_redirects=False)
    assert answer.status_code == 200
    assert "Sign out" not in answer.text
    assert sessions.COOKIE not in answer.headers.get("set-cookie", "")


# -- the way to the form ------------------------------------------------------------------


def test_an_anonymous_browser_is_sent_to_sign_in(
    client: TestClient, store: SqliteStore, seed: Seed
) -> None:
    seed.version("shop")
    _make(store)
    for path in ("/", "/stacks/shop"):
        _assert_sent_to_signin(client.get(path, headers=PAGE, follow_redirects=False))
    # a script's fetch (no text/html) and the API get the 401, as before
    assert client.get("/ui/stacks", follow_redirects=False).status_code == 401
    assert client.get("/", follow_redirects=False).status_code == 401
    form = client.get("/signin")
    assert form.status_code == 200
    assert 'action="/signin"' in form.text
    assert 'type="password"' in form.text
    assert client.get("/static/kedge.css").status_code == 200  # the form's stylesheet


def test_a_wrong_token_answers_the_form_again_with_401_and_no_cookie(
    client: TestClient, store: SqliteStore
) -> None:
    _make(store)
    before = _counts(store)
    answer = _sign_in(client, "kedge_" + "A" * 43)
    assert answer.status_code == 401
    assert "unknown, revoked or expired" in answer.text
    assert 'action="/signin"' in answer.text
    assert "set-cookie" not in answer.headers
    assert _counts(store) == before


def test_a_sign_in_without_the_forms_csrf_token_is_refused(
    client: TestClient, store: SqliteStore
) -> None:
    secret = _make(store)
    before = _counts(store)
    for csrf in ("", "0" * 64):
        answer = client.post("/signin", data={"token": secret, "csrf": csrf}, headers=FORM)
        assert answer.status_code == 403
        assert "set-cookie" not in answer.headers
    assert _counts(store) == before


def test_an_odd_or_oversized_sign_in_body_is_refused(
    client: TestClient, store: SqliteStore
) -> None:
    secret = _make(store)
    csrf = _csrf(client.get("/signin").text)
    many = "&".join(f"f{i}=1" for i in range(50)) + f"&token={secret}&csrf={csrf}"
    huge = f"token={secret}&csrf={csrf}&pad=" + "A" * 3_000_000
    for body, status in ((many, 403), (huge, 413)):
        answer = client.post("/signin", content=body, headers=FORM)
        assert answer.status_code == status
        assert "set-cookie" not in answer.headers
    typed = client.post("/signin", content="{}", headers={"Content-Type": "text/plain"})
    assert typed.status_code == 415


def test_a_sign_in_from_another_site_is_refused(client: TestClient, store: SqliteStore) -> None:
    secret = _make(store)
    csrf = _csrf(client.get("/signin").text)
    for headers in ({"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}):
        answer = client.post(
            "/signin", data={"token": secret, "csrf": csrf}, headers=FORM | headers
        )
        assert answer.status_code == 403
        assert "set-cookie" not in answer.headers


# -- a good token: the session ----------------------------------------------------------------


def test_a_good_token_sets_a_strict_httponly_cookie_that_holds_no_token(
    client: TestClient, store: SqliteStore
) -> None:
    secret = _make(store)
    answer = _sign_in(client, secret)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=strict" in flags
    assert "path=/" in flags
    assert "secure" not in flags  # plain HTTP here; see the HTTPS test
    value = client.cookies[sessions.COOKIE]
    assert secret not in cookie
    assert secret.removeprefix("kedge_") not in value
    page = client.get("/", headers=PAGE, follow_redirects=False)
    assert page.status_code == 200
    assert "Sign out" in page.text
    assert "token:ci" in page.text


def test_over_https_the_cookie_is_secure(store: SqliteStore) -> None:
    secret = _make(store)
    with TestClient(create_app(store, None), base_url="https://127.0.0.1") as client:
        answer = _sign_in(client, secret)
    assert answer.status_code == 303
    assert "secure" in [p.strip().lower() for p in answer.headers["set-cookie"].split(";")]


def test_the_session_reaches_the_dashboards_routes_and_no_other(
    client: TestClient, store: SqliteStore, seed: Seed
) -> None:
    seed.version("shop")
    _sign_in(client, _make(store))
    assert client.get("/stacks/shop", headers=PAGE).status_code == 200
    assert client.get("/ui/stacks").status_code == 200
    assert client.get("/ui/stacks/shop").status_code == 200
    # the rest of the API still needs the bearer token
    for path in ("/api/v1/stacks", "/api/v1/whoami", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 401, path


def test_a_dashboard_button_acts_as_the_token(
    client: TestClient, store: SqliteStore, seed: Seed
) -> None:
    seed.version("shop")
    _sign_in(client, _make(store))
    csrf = _csrf(client.get("/stacks/shop", headers=PAGE).text)
    answer = client.post(
        "/api/v1/stacks/shop/apply",
        json={"version": 1},
        headers=BROWSER | {"X-Kedge-CSRF": csrf, "X-Kedge-User": "dashboard"},
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["command"]["created_by"] == "token:ci"


@pytest.mark.parametrize("browser", [True, False], ids=["browser", "no-origin"])
def test_a_write_by_session_without_its_csrf_token_is_refused(
    client: TestClient, store: SqliteStore, seed: Seed, browser: bool
) -> None:
    seed.version("shop")
    anonymous_csrf = _csrf(client.get("/signin").text)  # a token not bound to the session
    _sign_in(client, _make(store))
    before = _counts(store)
    for sent in ({}, {"X-Kedge-CSRF": anonymous_csrf}):
        answer = client.post(
            "/api/v1/stacks/shop/apply",
            json={"version": 1},
            headers=(BROWSER if browser else {}) | sent,
        )
        assert answer.status_code == 403, answer.text
        assert answer.json()["type"].endswith("/csrf")
    assert _counts(store) == before


def test_the_bearer_header_still_works_on_the_dashboard(
    client: TestClient, store: SqliteStore
) -> None:
    secret = _make(store)
    answer = client.get("/", headers=PAGE | {"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200
    assert "Sign out" not in answer.text  # no session to end


# -- the end of a session ---------------------------------------------------------------------


def test_a_revoked_token_ends_its_session(
    client: TestClient, store: SqliteStore, seed: Seed
) -> None:
    seed.version("shop")
    _make(store, "keeper")  # authentication stays on after "ci" is revoked
    _sign_in(client, _make(store))
    csrf = _csrf(client.get("/", headers=PAGE).text)
    cookie = client.cookies[sessions.COOKIE]
    store.tokens.revoke("ci")
    before = _counts(store)
    refused = client.get("/", headers=PAGE, follow_redirects=False)
    _assert_sent_to_signin(refused)
    assert 'kedge_session=""' in refused.headers["set-cookie"]  # cleared in the browser
    client.cookies.set(sessions.COOKIE, cookie)  # replayed, with the page's CSRF token
    answer = client.post(
        "/api/v1/stacks/shop/apply", json={"version": 1}, headers=BROWSER | {"X-Kedge-CSRF": csrf}
    )
    assert answer.status_code == 401, answer.text
    assert _counts(store) == before


def test_a_revoked_tokens_session_is_gone_even_if_the_cookie_is_replayed(
    client: TestClient, store: SqliteStore
) -> None:
    _make(store, "keeper")
    _sign_in(client, _make(store))
    cookie = client.cookies[sessions.COOKIE]
    store.tokens.revoke("ci")
    assert client.get("/ui/stacks").status_code == 401
    store.tokens.revoke("keeper")  # even with authentication off again, nothing is restored
    client.cookies.set(sessions.COOKIE, cookie)
    page = client.get("/", headers=PAGE)
    assert page.status_code == 200
    assert "Sign out" not in page.text


def test_an_expired_token_ends_its_session(client: TestClient, store: SqliteStore) -> None:
    clock = store.tokens._clock  # the tests' Clock (the security fixtures' store)
    _make(store, "keeper")
    _sign_in(client, _make(store, lifetime=timedelta(hours=1)))
    assert client.get("/", headers=PAGE, follow_redirects=False).status_code == 200
    clock.tick(3600)  # type: ignore[attr-defined]
    _assert_sent_to_signin(client.get("/", headers=PAGE, follow_redirects=False))


def test_sign_out_ends_the_session(client: TestClient, store: SqliteStore) -> None:
    _sign_in(client, _make(store))
    page = client.get("/", headers=PAGE)
    cookie = client.cookies[sessions.COOKIE]
    answer = client.post(
        "/signout", data={"csrf": _csrf(page.text)}, headers=FORM | BROWSER, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin"
    assert 'kedge_session=""' in answer.headers["set-cookie"]
    client.cookies.set(sessions.COOKIE, cookie)  # the old cookie, replayed
    _assert_sent_to_signin(client.get("/", headers=PAGE, follow_redirects=False))


def test_a_sign_out_without_the_sessions_csrf_token_is_refused(
    client: TestClient, store: SqliteStore
) -> None:
    anonymous_csrf = _csrf(client.get("/signin").text)
    _sign_in(client, _make(store))
    for csrf in ("", anonymous_csrf):
        answer = client.post("/signout", data={"csrf": csrf}, headers=FORM | BROWSER)
        assert answer.status_code == 403
    assert client.get("/", headers=PAGE, follow_redirects=False).status_code == 200


def test_the_sessions_are_bounded() -> None:
    kept = sessions.Sessions(limit=2)
    first = kept.open("kedge_a", "a")
    second, third = kept.open("kedge_b", "b"), kept.open("kedge_c", "c")
    assert len(kept) == 2
    assert kept.get(first) is None
    assert kept.get(second) is not None
    assert kept.get(third) is not None
    assert kept.get("x" * 500) is None
    assert "kedge_b" not in repr(kept.get(second))


def test_a_session_ends_after_its_lifetime() -> None:
    kept = sessions.Sessions(lifetime=0.0)
    assert kept.get(kept.open("kedge_a", "a")) is None
