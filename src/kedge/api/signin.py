"""The dashboard's token sign-in (issue #16: "a token form for installations without an
issuer"): ``GET /signin`` shows a form, ``POST /signin`` trades a good token for a session
cookie, ``POST /signout`` ends it.

The token is checked by the API's own authentication (``identity.Authenticator.verify``, so
``store.tokens.authenticate``); a wrong one answers the form again, 401, with no cookie. A
good one opens a session (``api.sessions``) and sets its id in the cookie ``kedge_session``:
``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page sends it),
``Path=/``, ``Secure`` when the request came over HTTPS; then 303 to the stacks.

Both forms are plain HTML forms: the edge lets them be form-encoded and leaves their CSRF
token, a ``csrf`` field, to be checked here against the one the edge binds to the request's
session cookie (``edge.csrf_token``); a missing or wrong one is 403 and changes nothing.
Callers: ``api.app`` (``include_router``); the dashboard's pages link here.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kedge.api import dashboard, edge, identity, sessions

__all__ = ["MAX_TOKEN", "router"]

#: the longest token read from the form (a Kedge token has 49 characters)
MAX_TOKEN = 256
_MAX_FIELDS = 10

router = APIRouter(tags=["dashboard"], include_in_schema=False)


def _form(request: Request, *, message: str = "", status: int = 200) -> HTMLResponse:
    return dashboard.render_page(
        request, "signin.html", message=message, max_token=MAX_TOKEN, status=status
    )


def _authenticator(request: Request) -> identity.Authenticator:
    found = request.app.state.identities
    assert isinstance(found, identity.Authenticator)
    return found


async def _fields(request: Request) -> dict[str, str]:
    """The form's fields (the edge capped the body), the first value of each."""
    body = (await request.body()).decode("utf-8", "replace")
    try:
        found = parse_qs(body, max_num_fields=_MAX_FIELDS)
    except ValueError:  # more fields than a sign-in form has: none is read (then 403)
        return {}
    return {name: values[0] for name, values in found.items()}


def _csrf_ok(request: Request, fields: dict[str, str]) -> bool:
    sent = fields.get("csrf", "")
    return hmac.compare_digest(sent.encode(), edge.csrf_token(request).encode())


@router.get("/signin")
def signin_page(request: Request) -> HTMLResponse:
    """The token form."""
    return _form(request)


@router.post("/signin")
async def signin(request: Request) -> Response:
    """Check the token of the form; a good one opens a session and goes to the stacks."""
    fields = await _fields(request)
    if not _csrf_ok(request, fields):
        return _form(request, message="The form expired; sign in again.", status=403)
    secret = fields.get("token", "").strip()[: MAX_TOKEN + 1]
    authenticator = _authenticator(request)
    token = await anyio.to_thread.run_sync(authenticator.verify, secret)
    if token is None:
        return _form(request, message="That token is unknown, revoked or expired.", status=401)
    authenticator.sessions.end(identity.session_id(request.headers))
    session = authenticator.sessions.open(secret, token.name)
    answer = RedirectResponse("/", status_code=303)
    answer.set_cookie(
        sessions.COOKIE,
        session,
        max_age=int(authenticator.sessions.lifetime),
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return answer


@router.post("/signout")
async def signout(request: Request) -> Response:
    """End this browser's session and clear its cookie."""
    if not _csrf_ok(request, await _fields(request)):
        return _form(request, message="The form expired; sign out again.", status=403)
    _authenticator(request).sessions.end(identity.session_id(request.headers))
    answer = RedirectResponse("/signin", status_code=303)
    answer.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="strict")
    return answer
