"""The dashboard's sign-in sessions (issue #16: "a token form for installations without an
issuer; an HttpOnly, SameSite=Strict session cookie").

A browser cannot send ``Authorization: Bearer``, so ``POST /signin`` (``api.signin``) trades
a good token for a session: a random id (``secrets.token_urlsafe``) sent back in the cookie
``COOKIE`` and kept here, in this process's memory only, with the token it stands for and
when it ends (``LIFETIME`` after sign-in). The cookie never carries the token. The token is
kept beside the id (never on disk, never in an answer) so that every request re-runs the
one authentication (``store.tokens.authenticate``, via ``api.identity``): a token revoked or
expired since sign-in ends its sessions on the next request, by the store's own clock.

At most ``MAX_SESSIONS`` are kept; a new one pushes out the oldest. A restart ends them all
(the browser signs in again). Callers: ``api.identity`` (``Authenticator.sessions``: finds a
request's session) and ``api.signin`` (opens and ends them).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

__all__ = [
    "COOKIE",
    "LIFETIME",
    "MAX_ID",
    "MAX_SESSIONS",
    "Session",
    "Sessions",
    "is_page",
    "reaches",
]

#: the cookie's name
COOKIE = "kedge_session"
#: how long a session lasts after sign-in, in seconds (a working day)
LIFETIME = 12 * 3600.0
#: how many sessions the process keeps at most
MAX_SESSIONS = 1024
#: the longest cookie value read; an id has 43 characters
MAX_ID = 64


@dataclass(frozen=True)
class Session:
    """One signed-in browser: the token it signed in with, and when it ends (monotonic)."""

    token: str = field(repr=False)
    name: str
    ends: float


class Sessions:
    """The sessions of this process (see the module docstring); one per app."""

    def __init__(self, *, lifetime: float = LIFETIME, limit: int = MAX_SESSIONS) -> None:
        self.lifetime, self.limit = lifetime, limit
        self._open: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, token: str, name: str) -> str:
        """A new session for a token just authenticated; answers its id."""
        found = secrets.token_urlsafe(32)
        with self._lock:
            self._open[found] = Session(token, name, time.monotonic() + self.lifetime)
            while len(self._open) > self.limit:
                self._open.popitem(last=False)
        return found

    def get(self, session_id: str) -> Session | None:
        """The live session of this id, or None (unknown, ended, or too long to be one)."""
        if not session_id or len(session_id) > MAX_ID:
            return None
        with self._lock:
            found = self._open.get(session_id)
            if found is not None and found.ends <= time.monotonic():
                del self._open[session_id]
                return None
        return found

    def end(self, session_id: str) -> None:
        """Forget a session (sign-out, or its token no longer authenticates)."""
        with self._lock:
            self._open.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._open)


#: the dashboard's pages: a browser that asks for one without a session is sent to sign in
_PAGE_PREFIXES = ("/stacks/",)
#: what else the dashboard's pages fetch (live fragments, the event stream), by GET
_FETCHED_PREFIXES = ("/ui/", "/api/v1/events")
#: the API writes the dashboard's buttons call (``static/kedge.js``), by POST
_BUTTONS = re.compile(r"^/api/v1/(stacks/[^/]+/(apply|rollback)|commands/[^/]+/cancel)$")


def is_page(path: str) -> bool:
    """Whether ``path`` is a dashboard page (``/`` or ``/stacks/{name}``)."""
    return path == "/" or path.startswith(_PAGE_PREFIXES)


def reaches(method: str, path: str) -> bool:
    """Whether a session cookie may authenticate this request: the dashboard's pages, what
    they fetch, and the writes of their buttons. Every other route needs a bearer token."""
    if method in ("GET", "HEAD"):
        return is_page(path) or path.startswith(_FETCHED_PREFIXES)
    return method == "POST" and _BUTTONS.match(path) is not None
