"""Who sent a request: the one owner of the API's authentication (issue #16, first slice).

Until an identity is configured — a Kedge token that is not revoked exists (``store.tokens``)
— every request is anonymous, as before authentication existed: the author of what it writes
is the ``X-Kedge-User`` header the CLI sends (else ``api``). Once one is, every route but
``/healthz`` and ``/readyz`` (and ``/metrics``, unless ``kedge serve --metrics-auth``), the
dashboard's sign-in (``/signin``, ``/signout``) and its static files needs
``Authorization: Bearer <token>`` — or, on the routes a browser's dashboard uses
(``sessions.reaches``), the session cookie ``POST /signin`` set (``api.sessions``), which
is checked with the same ``store.tokens.authenticate`` on every request; anything else is
answered 401 with ``WWW-Authenticate: Bearer`` before a route runs, so a refused request
leaves the store as it was:

- no ``Authorization`` header, another scheme than ``Bearer``, a header over
  ``MAX_AUTHORIZATION`` characters, or a token that is unknown, revoked or expired;
- a token in the query string (``access_token``, ``token``): it would be written to logs and
  histories, so it is refused and never read, even next to a good header.

The request's ``Identity`` (kind, name, role, stack patterns) is kept in the ASGI scope; the
author of a command or a version is then ``token:<name>``, never the header. What its role
and stacks allow is ``api.roles``'s to say (the rule: ``specs.access``).

"Is an identity configured" is asked of the store at most once per ``CONFIGURED_TTL`` seconds,
and again at once after this process made or revoked a token (``TokenStore.generation``).
Callers: ``api.edge`` (``Authenticator.identify`` on every request), ``api.app`` (makes the
``Authenticator`` and serves ``/api/v1/whoami``), ``api.stacks`` (``author_of``), ``api.signin``
(``Authenticator.verify`` and ``sessions``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import Scope

from kedge.api import problems, sessions
from kedge.store import Store, TokenInfo

__all__ = [
    "ANONYMOUS",
    "CONFIGURED_TTL",
    "MAX_AUTHORIZATION",
    "OPEN_PATHS",
    "Authenticator",
    "Identity",
    "Refused",
    "author_of",
    "identity_in",
    "identity_of",
    "router",
    "session_id",
]

#: the routes that answer without a token: a load balancer's and an orchestrator's probes
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/signin", "/signout"})
#: the dashboard's stylesheet, script and icon: the sign-in page needs them, and they hold no data
OPEN_PREFIXES = ("/static/",)
METRICS_PATH = "/metrics"
#: the longest ``Authorization`` header read; a Kedge token needs 56 characters with its scheme
MAX_AUTHORIZATION = 1024
#: how long "an identity is configured (or not)" is believed before the store is asked again
CONFIGURED_TTL = 1.0
#: query parameters that would carry a token; a request that has one is refused
_QUERY_TOKENS = frozenset({"access_token", "token", "bearer", "authorization"})
_SCOPE_KEY = "kedge.identity"


@dataclass(frozen=True)
class Identity:
    """Who a request acts as: a Kedge token, or anonymous when no identity is configured."""

    kind: Literal["token", "anonymous"]
    name: str = ""
    role: str = ""
    stacks: tuple[str, ...] = ()

    @classmethod
    def of_token(cls, token: TokenInfo) -> Identity:
        return cls(kind="token", name=token.name, role=token.role, stacks=token.stacks)

    @property
    def author(self) -> str:
        """What commands and versions record as their author (``token:<name>``)."""
        return f"{self.kind}:{self.name}" if self.kind != "anonymous" else ""


ANONYMOUS = Identity(kind="anonymous")


class Refused(Exception):
    """A request that does not authenticate; ``problem`` is its 401."""

    def __init__(
        self, detail: str, path: str, *, bad_token: bool, ended_session: bool = False
    ) -> None:
        super().__init__(detail)
        #: a session cookie was sent and no longer authenticates: the answer clears it
        self.ended_session = ended_session
        self.problem = problems.Problem(
            type=problems.TYPE_BASE + "unauthenticated",
            title="Authentication is required",
            status=401,
            detail=detail,
            instance=path,
        )
        # RFC 6750: a presented token that fails says so; a missing one gets the bare scheme
        self.challenge = 'Bearer realm="kedge"' + (', error="invalid_token"' if bad_token else "")


class Authenticator:
    """Tells who sent a request (see the module docstring); one per app."""

    def __init__(self, store: Store, *, metrics_auth: bool = False) -> None:
        self.store = store
        self.metrics_auth = metrics_auth
        self._lock = threading.Lock()
        self._known: tuple[int, float, bool] | None = None  # generation, when, configured
        self.sessions = sessions.Sessions()

    def configured(self) -> bool:
        """Whether an identity is configured (a Kedge token not revoked exists); cached."""
        known = self._cached()
        if known is not None:
            return known
        generation = self.store.tokens.generation
        found = self.store.tokens.any_active()
        with self._lock:
            self._known = (generation, time.monotonic(), found)
        return found

    def _cached(self) -> bool | None:
        """The cached answer of ``configured`` while it holds, else None (no store asked)."""
        with self._lock:
            known = self._known
        if known is None or known[0] != self.store.tokens.generation:
            return None
        return known[2] if time.monotonic() - known[1] < CONFIGURED_TTL else None

    def _needs_token(self, path: str) -> bool:
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return False
        return path != METRICS_PATH or self.metrics_auth

    async def identify(self, scope: Scope, headers: Headers) -> Identity:
        """The request's identity, kept in its scope; ``Refused`` when it needs a token and
        has no good one. The store is asked in a worker thread (it may wait on a writer)."""
        path = str(scope.get("path", ""))
        if not self._needs_token(path) or self._cached() is False:
            found = ANONYMOUS  # the common open case answers without a thread or the store
        else:
            found = await anyio.to_thread.run_sync(self._identify, scope, headers, path)
        scope[_SCOPE_KEY] = found
        return found

    def _identify(self, scope: Scope, headers: Headers, path: str) -> Identity:
        if not self._needs_token(path) or not self.configured():
            return ANONYMOUS
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        if any(name.lower() in _QUERY_TOKENS for name, _ in parse_qsl(query, True)):
            raise Refused(
                "a token in the query string is refused (it would be logged); send it as"
                " Authorization: Bearer TOKEN",
                path,
                bad_token=True,
            )
        sent = headers.getlist("authorization")
        cookie = session_id(headers)
        if not sent and cookie and sessions.reaches(str(scope.get("method", "")), path):
            return Identity.of_token(self._session(cookie, path))
        return Identity.of_token(self._token(sent, path))

    def verify(self, secret: str) -> TokenInfo | None:
        """The active token whose secret this is (``POST /signin``), or None."""
        return self.store.tokens.authenticate(secret)

    def _session(self, cookie: str, path: str) -> TokenInfo:
        """The token a session cookie stands for, asked of the store again: a token revoked or
        expired since sign-in ends the session here."""
        found = self.sessions.get(cookie)
        token = None if found is None else self.verify(found.token)
        if token is None:
            self.sessions.end(cookie)
            raise Refused(
                "the dashboard's session ended (signed out, expired, or its token revoked);"
                " sign in again at /signin",
                path,
                bad_token=False,
                ended_session=True,
            )
        return token

    def _token(self, sent: list[str], path: str) -> TokenInfo:
        if not sent:
            raise Refused(
                "this server needs a token: send Authorization: Bearer TOKEN (kedge login,"
                " or KEDGE_TOKEN)",
                path,
                bad_token=False,
            )
        if len(sent) > 1 or len(sent[0]) > MAX_AUTHORIZATION:
            raise Refused("the Authorization header is malformed", path, bad_token=True)
        scheme, _, secret = sent[0].partition(" ")
        if scheme.lower() != "bearer" or not secret or secret != secret.strip():
            raise Refused("the Authorization header must be Bearer TOKEN", path, bad_token=True)
        token = self.store.tokens.authenticate(secret)
        if token is None:
            raise Refused("the token is unknown, revoked or expired", path, bad_token=True)
        return token


def session_id(headers: Headers) -> str:
    """The session cookie's value as sent ("" when none); not yet checked."""
    cookies = cookie_parser(headers.get("cookie", ""))
    return cookies.get(sessions.COOKIE, "")[: sessions.MAX_ID + 1]


def identity_of(request: Request) -> Identity:
    """The identity the edge found for this request (anonymous outside the edge)."""
    return identity_in(request.scope)


def identity_in(scope: Scope) -> Identity:
    """The identity the edge found for the request of ``scope`` (anonymous: none yet)."""
    found = scope.get(_SCOPE_KEY, ANONYMOUS)
    assert isinstance(found, Identity)
    return found


def author_of(request: Request) -> str:
    """Who asked, as commands and versions record it: the token's ``token:<name>`` when a
    token authenticated the request; else (no identity configured) the ``X-Kedge-User``
    header the CLI sends, else "api"."""
    found = identity_of(request)
    if found.kind != "anonymous":
        return found.author
    return request.headers.get("x-kedge-user", "")[:200] or "api"


router = APIRouter(tags=["identity"])


@router.get("/whoami", response_model=dict[str, object])
def whoami(request: Request) -> dict[str, object]:
    """Who this request acts as: kind (``token`` or ``anonymous``), name, role, stacks."""
    found = identity_of(request)
    return {
        "kind": found.kind,
        "name": found.name,
        "role": found.role,
        "stacks": list(found.stacks),
    }
