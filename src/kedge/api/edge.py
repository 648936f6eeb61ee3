"""The API's edge: every request passes here before any route sees it, and every answer
leaves through it. It is the one owner of what the server accepts from the network; the
authentication of the next step plugs in here too (``Edge.refusal``).

Per request, in order:

- **Host** must name this server (DNS rebinding): loopback names, the address it was told to
  listen on and each ``--allowed-host`` (``*.example.com`` allows the subdomains). Else 421.
- **Body size**: a ``Content-Length`` over ``max_body`` is answered 413 before a byte is read,
  and a body without one (chunked) is counted while it streams in; reading past the cap raises
  413 on every route, the JSON routes included. No route buffers more than the cap.
- **State-changing methods** (all but GET, HEAD, OPTIONS):
  - ``Sec-Fetch-Site`` other than ``same-origin`` or ``none`` is refused (403): a page of
    another site, or of another port of this host (``same-site``), may not write;
  - an ``Origin`` must be this server's own (its host and port are the ``Host`` header's),
    else 403; ``Origin: null`` (sandboxed frames, some redirects) is refused too;
  - a browser's write (one that sends ``Origin`` or ``Sec-Fetch-Site``, or the dashboard's
    session cookie) must carry the dashboard's CSRF token in ``X-Kedge-CSRF`` (the pages hold
    it; a page of another origin cannot read it), else 403. The token is bound to the session
    cookie the request sends (``EdgeSettings.csrf_token``), so a page's token is worth nothing
    with another session. Clients that are not browsers (the CLI, curl) send none of these
    and need no token. The sign-in forms (``FORM_PATHS``) are plain HTML forms, which cannot
    send a header: they carry the token in a ``csrf`` field, which their route checks
    (``api.signin``), and they alone may be ``application/x-www-form-urlencoded``;
  - a body must be ``application/json`` or ``application/yaml`` (``application/x-yaml``):
    anything else, ``text/plain`` and forms above all (a browser sends those cross-site
    without asking), is 415. Bodyless writes (cancel) need no type.
- **Streams** that stay open (events, log follows, command log streams) are counted: at most
  ``max_streams`` in all and ``max_streams_per_client`` from one client address; a route
  takes a slot with ``admit_stream`` (429 when full) and the edge frees it when the answer
  ends, however it ends.
- **Identity**: once an identity is configured, a request without a good bearer token (or,
  on the dashboard's routes, a live session cookie) is answered 401 (``api.identity`` owns
  the rules; ``--metrics-auth`` closes ``/metrics`` too); a browser that asks for a dashboard
  page (``Accept: text/html``) is sent to ``/signin`` instead (303), and a session cookie
  that ended is cleared. The identity is kept in the scope for the routes.
- **Audit**: every write, and every refusal (401, 403) of any method, is recorded in the
  audit trail once its answer was sent (``api.trail`` owns what a row holds and when).
- **Security headers** on every answer: a Content-Security-Policy that allows only Kedge's own
  scripts (no inline script, no ``eval``) and no framing, ``X-Frame-Options: DENY``,
  ``nosniff``, ``Referrer-Policy: no-referrer`` and same-origin opener/resource policies.

Refusals are problem+json like every other error. Callers: ``api.app`` (wires the middleware
and keeps the settings on ``app.state.edge``), the dashboard (the CSRF token), the stream
routes (``admit_stream``), ``runtime`` (the settings from ``kedge serve``'s flags).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kedge.api import identity, problems, sessions, trail
from kedge.specs import yamlsource

__all__ = [
    "CSRF_HEADER",
    "FORM_PATHS",
    "LOOPBACK_NAMES",
    "MAX_BODY",
    "SECURITY_HEADERS",
    "Edge",
    "EdgeSettings",
    "StreamSlots",
    "admit_stream",
    "csrf_token",
    "default_max_body",
    "settings_of",
]

#: the smallest cap of a request body, any route; a spec is the largest thing a client sends,
#: so the cap grows with the spec reader's limit (``default_max_body``)
MAX_BODY = 1_000_000
#: the header a browser's write carries the CSRF token in
CSRF_HEADER = "x-kedge-csrf"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
#: the plain HTML forms of the sign-in: form-encoded, their CSRF token in a field
FORM_PATHS = frozenset({"/signin", "/signout"})
_SIGNIN = "/signin"

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_BODY_TYPES = frozenset({"application/json", "application/yaml", "application/x-yaml"})
_FORM_TYPE = "application/x-www-form-urlencoded"
_SAME_ORIGIN_FETCH = frozenset({"same-origin", "none"})

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


class StreamSlots:
    """Counts the open streams, in all and per client address (sync routes take slots from
    worker threads, hence the lock)."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total, self.per_client = total, per_client
        self.open: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        return sum(self.open.values())

    def take(self, client: str) -> None:
        with self._lock:
            self._take(client)

    def _take(self, client: str) -> None:
        if self.count >= self.total:
            raise problems.ProblemError(
                429,
                "too-many-streams",
                "Too many open streams",
                f"the server holds {self.total} streams at most; close one and try again",
            )
        if self.open.get(client, 0) >= self.per_client:
            raise problems.ProblemError(
                429,
                "too-many-streams",
                "Too many open streams",
                f"one client may hold {self.per_client} streams at most; close one and try again",
            )
        self.open[client] = self.open.get(client, 0) + 1

    def give_back(self, client: str) -> None:
        with self._lock:
            self._give_back(client)

    def _give_back(self, client: str) -> None:
        left = self.open.get(client, 0) - 1
        if left > 0:
            self.open[client] = left
        else:
            self.open.pop(client, None)


def default_max_body() -> int:
    """The body cap: room for a spec of the spec reader's limit (``KEDGE_MAX_SPEC_BYTES``,
    owned by ``specs.yamlsource``) sent as JSON, which is larger than its YAML; at least
    ``MAX_BODY``."""
    return max(MAX_BODY, 2 * yamlsource.max_spec_bytes())


@dataclass(frozen=True)
class EdgeSettings:
    """What the edge accepts; ``runtime`` makes it from the flags (``for_listener``)."""

    allowed_hosts: frozenset[str] = frozenset(LOOPBACK_NAMES)
    max_body: int = field(default_factory=default_max_body)
    max_streams: int = 256
    max_streams_per_client: int = 64
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    #: whether ``/metrics`` needs a token once an identity is configured (``--metrics-auth``)
    metrics_auth: bool = False
    streams: StreamSlots = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hosts = frozenset(_hostname(h) for h in self.allowed_hosts)
        object.__setattr__(self, "allowed_hosts", hosts)
        object.__setattr__(
            self, "streams", StreamSlots(self.max_streams, self.max_streams_per_client)
        )

    @classmethod
    def for_listener(cls, host: str, allowed: Iterable[str] = (), **limits: Any) -> EdgeSettings:
        """Loopback names, the address the server listens on (unless a wildcard) and
        ``allowed``."""
        names = set(LOOPBACK_NAMES) | set(allowed)
        if host not in ("0.0.0.0", "::", ""):
            names.add(host)
        return cls(allowed_hosts=frozenset(names), **limits)

    def answers_to(self, host: str) -> bool:
        name = _hostname(host)
        if not name:
            return False
        if name in self.allowed_hosts or _is_loopback_ip(name):
            return True
        return any(
            allowed.startswith("*.") and name.endswith(allowed[1:])
            for allowed in self.allowed_hosts
        )

    def csrf_token(self, session: str = "") -> str:
        """The token the dashboard's pages carry and its writes send back, bound to the
        session cookie the request sends (``session``, "" when none)."""
        bound = b"kedge dashboard csrf" + (b"\0" + session.encode() if session else b"")
        return hmac.new(self.secret, bound, "sha256").hexdigest()


def _hostname(host: str) -> str:
    """The name of a ``Host`` header or an address: no port, no brackets, lowercase."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        host = name
    return host.rstrip(".")


def _is_loopback_ip(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def settings_of(request: Request) -> EdgeSettings:
    found = request.app.state.edge
    assert isinstance(found, EdgeSettings)
    return found


def csrf_token(request: Request) -> str:
    """The CSRF token of this request's session (its cookie), for the page to carry."""
    return settings_of(request).csrf_token(identity.session_id(request.headers))


def admit_stream(request: Request) -> None:
    """Take a stream slot for this request (429 when none is free); the edge gives it back
    when the answer ends. A dependency of the routes that keep their answer open."""
    taken = request.scope.get("kedge.streams")
    if taken is None:  # not behind the edge (cannot happen in create_app's apps)
        return
    client = _client(request.scope)
    settings_of(request).streams.take(client)
    taken.append(client)


def _client(scope: Scope) -> str:
    found = scope.get("client")
    return str(found[0]) if found else "-"


class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"a request body may have {limit:,} bytes at most")


def _refuse(status: int, kind: str, title: str, detail: str, path: str) -> problems.Problem:
    return problems.Problem(
        type=problems.TYPE_BASE + kind, title=title, status=status, detail=detail, instance=path
    )


class Edge:
    """The ASGI middleware of the edge (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        settings: EdgeSettings,
        identities: identity.Authenticator | None = None,
        recorder: trail.Recorder | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.identities = identities
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answered: list[int] = []
        send = self._with_headers(send, answered)
        headers = Headers(scope=scope)
        refusal = self.refusal(scope, headers)
        if refusal is not None:
            await problems.answer(refusal)(scope, receive, send)
            await self._record(scope, refusal.status, refusal.detail)
            return
        if self.identities is not None:
            try:
                await self.identities.identify(scope, headers)
            except identity.Refused as exc:
                await _unauthenticated(exc, scope, headers)(scope, receive, send)
                await self._record(scope, 401, exc.problem.detail)
                return
        taken: list[str] = []
        scope["kedge.streams"] = taken
        try:
            await self.app(scope, self._capped(receive), send)
        finally:
            for client in taken:
                self.settings.streams.give_back(client)
            # an answer that never started is the server error the client gets
            await self._record(scope, answered[0] if answered else 500)

    async def _record(self, scope: Scope, status: int, reason: str | None = None) -> None:
        """The request's row in the audit trail, when it is worth one (``api.trail``)."""
        if self.recorder is not None:
            await self.recorder.record(scope, status=status, reason=reason)

    def refusal(self, scope: Scope, headers: Headers) -> problems.Problem | None:
        """Why this request is refused before any route runs, or None."""
        path = str(scope.get("path", ""))
        host = headers.get("host", "")
        if not self.settings.answers_to(host):
            return _refuse(
                421,
                "unknown-host",
                "This server does not answer to that host name",
                f"the Host header names {_hostname(host) or 'nothing'!r}; if this server should"
                " answer to it, start it with --allowed-host NAME",
                path,
            )
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.settings.max_body:
            return _refuse(
                413,
                "too-large",
                "The request body is too large",
                f"a request body may have {self.settings.max_body:,} bytes at most (twice"
                f" the server's {yamlsource.MAX_BYTES_SETTING})",
                path,
            )
        if scope["method"] in _SAFE_METHODS:
            return None
        return self._write_refusal(headers, host, path)

    def _write_refusal(self, headers: Headers, host: str, path: str) -> problems.Problem | None:
        refused = self._origin_refusal(headers, host, path)
        if refused is not None:
            return refused
        has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        allowed = _BODY_TYPES | {_FORM_TYPE} if path in FORM_PATHS else _BODY_TYPES
        if (has_body or media) and media not in allowed:
            return _refuse(
                415,
                "unsupported-media-type",
                "Unsupported media type",
                f"send the body as application/json or application/yaml, not {media or 'untyped'}",
                path,
            )
        return None

    def _origin_refusal(self, headers: Headers, host: str, path: str) -> problems.Problem | None:
        fetch_site = headers.get("sec-fetch-site")
        origin = headers.get("origin")
        if fetch_site is not None and fetch_site.lower() not in _SAME_ORIGIN_FETCH:
            return _cross_site(f"the request came from a page of another site ({fetch_site})", path)
        if origin is not None and not _same_origin(origin, host):
            return _cross_site(f"the request came from a page of {origin[:200]!r}", path)
        session = identity.session_id(headers)
        if path in FORM_PATHS:
            return None  # the token is in the form; its route checks it
        if origin is not None or fetch_site is not None or session:
            sent = headers.get(CSRF_HEADER, "")
            expected = self.settings.csrf_token(session)
            if not hmac.compare_digest(sent.encode(), expected.encode()):
                return _refuse(
                    403,
                    "csrf",
                    "The request lacks the dashboard's token",
                    "a browser's write must send the token of a page of this server in"
                    f" {CSRF_HEADER}; reload the page and try again",
                    path,
                )
        return None

    def _capped(self, receive: Receive) -> Receive:
        limit = self.settings.max_body
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(limit)
            return message

        return capped

    def _with_headers(self, send: Send, answered: list[int]) -> Send:
        """``send`` with the security headers; the status sent is kept in ``answered``."""

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered.append(int(message["status"]))
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        return with_headers


def _unauthenticated(exc: identity.Refused, scope: Scope, headers: Headers) -> ASGIApp:
    """The answer to a request that does not authenticate: a browser asking for a dashboard
    page is sent to sign in (303); anything else gets the 401. A session that ended is
    cleared from the browser."""
    path = str(scope.get("path", ""))
    wants_page = scope["method"] in ("GET", "HEAD") and sessions.is_page(path)
    answer: Response
    if wants_page and "text/html" in headers.get("accept", ""):
        answer = RedirectResponse(_SIGNIN, status_code=303)
    else:
        answer = problems.answer(exc.problem)
        answer.headers["www-authenticate"] = exc.challenge
    if exc.ended_session:
        answer.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="strict")
    return answer


def _cross_site(detail: str, path: str) -> problems.Problem:
    return _refuse(
        403,
        "cross-site",
        "Writes from other sites are refused",
        f"{detail}; only this server's own pages and clients that are not browsers may write",
        path,
    )


def _same_origin(origin: str, host: str) -> bool:
    """Whether ``Origin`` names the server the request reached (by its ``Host``)."""
    try:
        found = urlsplit(origin)
    except ValueError:
        return False
    if found.scheme not in ("http", "https") or not found.netloc:
        return False
    return found.netloc.lower() == host.strip().lower()
