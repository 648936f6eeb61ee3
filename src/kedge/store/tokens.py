"""Kedge's own API tokens in SQLite: the ``TokenStore`` of ``kedge.store.sqlite``, and the one
owner of what a token is (issue #16, *Authentication*).

A token is ``kedge_`` followed by 43 characters of ``secrets.token_urlsafe(32)``; it is shown
once, when made (``create``), and the store keeps only its SHA-256 (``digest``), so that a
copy of the database does not hand out access. ``authenticate`` finds the row by that digest
and compares it again with ``hmac.compare_digest``; a revoked or expired token answers None.
A token carries a role (``ROLES``; what each may do is a later slice of #16) and the stack
name patterns it is scoped to (``fnmatch`` patterns, ``*`` for all).

``generation`` counts this process's writes, so that the API's cache of "is any identity
configured" (``api.identity``) sees a token made or revoked here at once; a token made by
another process (``kedge token create --db`` while the server runs) is seen within the
cache's short TTL. Callers: ``kedge.store.sqlite`` (``store.tokens``), ``kedge token``
(``cli.tokens``) and the API's authentication (``api.identity``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from kedge import errors
from kedge.store.database import Database, parse_time, query_all, query_one, render_time
from kedge.store.records import Clock, MadeToken, TokenInfo

__all__ = [
    "PREFIX",
    "ROLES",
    "SqliteTokens",
    "digest",
    "looks_like_token",
    "parse_expiry",
]

#: what every Kedge token starts with, so that a leaked one is recognised (secret scanners)
PREFIX = "kedge_"
#: the built-in roles; their rules are enforced by a later slice of #16
ROLES = ("viewer", "operator", "admin")
#: a token's name: what it is listed, revoked and audited by (``token:<name>``)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_STACKS = re.compile(r"^[A-Za-z0-9_.*?\[\]-]{1,128}$")
_SECRET_LENGTH = 43  # token_urlsafe(32)
_EXPIRY = re.compile(r"^(\d{1,6})([mhdw])$")
_EXPIRY_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
#: last_used_at is written at most this often per token: a request must not be a write
_USE_GRAIN = timedelta(minutes=1)


def digest(secret: str) -> str:
    """What the store keeps of a token: its SHA-256, hex (a token has 256 random bits, so a
    slow hash would add nothing)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def looks_like_token(text: str) -> bool:
    """Whether ``text`` has a Kedge token's shape (checked before any lookup)."""
    body = text.removeprefix(PREFIX)
    return (
        text.startswith(PREFIX)
        and len(body) == _SECRET_LENGTH
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in body)
    )


def parse_expiry(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w``: how long a token lives; ``ValueError`` else."""
    found = _EXPIRY.match(text.strip())
    if found is None or int(found.group(1)) == 0:
        raise ValueError(f"an expiry is a positive number and a unit (m, h, d, w), not {text!r}")
    return timedelta(**{_EXPIRY_UNITS[found.group(2)]: int(found.group(1))})


def _check(name: str, role: str, stacks: tuple[str, ...]) -> None:
    if not _NAME.match(name):
        raise errors.ConflictError(
            f"a token's name is lowercase letters, digits and - _ . (at most 63), not {name!r}"
        )
    if role not in ROLES:
        raise errors.ConflictError(f"a token's role is one of {', '.join(ROLES)}, not {role!r}")
    if not stacks:
        raise errors.ConflictError("a token names the stacks it may reach ('*' for all)")
    for pattern in stacks:
        if not _STACKS.match(pattern):
            raise errors.ConflictError(
                f"a stack pattern is a name with * ? [] wildcards, not {pattern!r}"
            )


def _info(row: dict[str, Any]) -> TokenInfo:
    return TokenInfo(
        name=row["name"],
        role=row["role"],
        stacks=tuple(row["stacks"].split(",")),
        created_at=row["created_at"],
        expires_at=parse_time(row["expires_at"]),
        revoked_at=parse_time(row["revoked_at"]),
        last_used_at=parse_time(row["last_used_at"]),
    )


class SqliteTokens:
    """Kedge's tokens: made, listed, revoked, and a presented one authenticated."""

    def __init__(self, database: Database, *, clock: Clock) -> None:
        self._database = database
        self._clock = clock
        self.generation = 0

    def create(
        self, name: str, *, role: str, stacks: tuple[str, ...], lifetime: timedelta | None
    ) -> MadeToken:
        """Make a token; ``ConflictError`` when the name is taken (even by a revoked one, so
        that the audit trail's ``token:<name>`` names one token) or a field is invalid."""
        _check(name, role, stacks)
        secret = PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        expires = None if lifetime is None else render_time(now + lifetime)
        if self._database.read(lambda db: _row(db, name)) is not None:
            raise errors.ConflictError(f"a token named {name!r} exists; pick another name")
        row = self._database.write(
            lambda db: query_one(
                db,
                "INSERT INTO tokens (name, role, stacks, digest, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
                [name, role, ",".join(stacks), digest(secret), render_time(now), expires],
            )
        )
        self.generation += 1
        assert row is not None
        return MadeToken(info=_info(row), secret=secret)

    def list(self) -> list[TokenInfo]:
        """Every token, by name, revoked ones too."""
        rows = self._database.read(lambda db: query_all(db, "SELECT * FROM tokens ORDER BY name"))
        return [_info(row) for row in rows]

    def revoke(self, name: str) -> TokenInfo:
        """Revoke a token for good (``NotFoundError`` when none has that name); revoking a
        revoked one keeps its first revocation time."""
        now = render_time(self._clock())
        row = self._database.write(
            lambda db: query_one(
                db,
                "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE name = ? RETURNING *",
                [now, name],
            )
        )
        if row is None:
            raise errors.NotFoundError(f"no token named {name!r}")
        self.generation += 1
        return _info(row)

    def any_active(self) -> bool:
        """Whether some token is not revoked (an expired one counts: authentication stays on
        once it was configured)."""
        row = self._database.read(
            lambda db: query_one(db, "SELECT 1 AS found FROM tokens WHERE revoked_at IS NULL")
        )
        return row is not None

    def authenticate(self, secret: str) -> TokenInfo | None:
        """The active token whose secret this is, or None (unknown, revoked, expired)."""
        if not looks_like_token(secret):
            return None
        wanted = digest(secret)
        row = self._database.read(
            lambda db: query_one(db, "SELECT * FROM tokens WHERE digest = ?", [wanted])
        )
        if row is None or not hmac.compare_digest(str(row["digest"]), wanted):
            return None
        info = _info(row)
        now = self._clock()
        if not info.active(now):
            return None
        if info.last_used_at is None or now - info.last_used_at >= _USE_GRAIN:
            self._used(info.name, now)
        return info

    def _used(self, name: str, now: datetime) -> None:
        self._database.write(
            lambda db: db.execute(
                "UPDATE tokens SET last_used_at = ? WHERE name = ?", [render_time(now), name]
            )
        )


def _row(db: Any, name: str) -> dict[str, Any] | None:
    return query_one(db, "SELECT * FROM tokens WHERE name = ?", [name])
