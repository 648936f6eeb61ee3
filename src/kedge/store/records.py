"""The small records the store hands out beside versions and commands.

A page of a listing, a log line, a stack's status, the retry and retention policies, and the
results of writes that do more than one thing. Callers: the controller (status, policies),
the API (pages, log lines) and ``kedge db`` (the check report).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from kedge.specs.commands import Command
from kedge.specs.versions import StackVersion

__all__ = [
    "AuditEntry",
    "CheckReport",
    "Clock",
    "Durability",
    "Finished",
    "LogLine",
    "MadeToken",
    "Page",
    "Pruned",
    "Recorded",
    "RetentionPolicy",
    "RetryPolicy",
    "StackStatus",
    "TokenInfo",
    "utc_now",
]

T = TypeVar("T")

#: Where the store reads the time: a callable returning an aware UTC datetime. Tests move it.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock: the system's time in UTC."""
    return datetime.now(UTC)


class Durability(StrEnum):
    """How hard a commit waits for the disk (SQLite's ``synchronous`` in WAL mode).

    ``NORMAL`` (the default): a commit is safe once the call returns against a crash or a
    ``kill -9`` of any Kedge process, because the write-ahead log is in the operating
    system's cache; a power loss or kernel crash may roll back the last commits, never
    corrupt the database. ``FULL``: each commit is also synced to the disk, so it survives a
    power loss too, at the cost of one fsync per write.
    """

    NORMAL = "NORMAL"
    FULL = "FULL"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Page(_Record, Generic[T]):
    """One page of a listing, newest or first first; pass ``next_cursor`` to get the next."""

    items: list[T]
    next_cursor: str | None = None


class LogLine(_Record):
    """One line of a command's log; ``seq`` counts from 1 within the command."""

    command_id: int
    seq: int
    at: datetime
    level: str = "info"
    message: str
    fields: dict[str, Any] = Field(default_factory=dict)


class StackStatus(_Record):
    """What the controller last found about a stack. The controller owns the words of
    ``sync`` and ``health``; the store keeps them as given."""

    stack: str
    sync: str = "unknown"
    health: str = "unknown"
    applied_version: int | None = None
    desired_version: int | None = None
    last_error: str | None = None
    created_at: datetime
    updated_at: datetime


class RetryPolicy(_Record):
    """When a failed command is tried again: up to ``max_attempts`` attempts in all (None: until
    it succeeds or a newer command replaces it), each retry delayed by ``backoff`` doubled per
    attempt, never more than ``backoff_cap``."""

    max_attempts: int | None = Field(default=3, ge=1)
    backoff: timedelta = timedelta(seconds=5)
    backoff_cap: timedelta = timedelta(minutes=5)

    def allows_retry(self, attempt: int) -> bool:
        """Whether a command that failed on ``attempt`` gets another one."""
        return self.max_attempts is None or attempt < self.max_attempts

    def delay(self, attempt: int) -> timedelta:
        """How long the retry of a command that failed on ``attempt`` waits."""
        doublings = min(max(attempt - 1, 0), 64)  # past the cap long before; no overflow
        seconds = self.backoff.total_seconds() * 2.0**doublings
        return min(self.backoff_cap, timedelta(seconds=min(seconds, 1e9)))


class RetentionPolicy(_Record):
    """What pruning removes: log lines of commands finished longer ago than ``logs_for``, and
    ``RECONCILE`` commands that changed nothing and finished longer ago than
    ``noop_reconciles_for``."""

    logs_for: timedelta = timedelta(days=14)
    noop_reconciles_for: timedelta = timedelta(days=1)


class Pruned(_Record):
    """How much one pruning pass removed."""

    log_lines: int
    commands: int


class Recorded(_Record):
    """The result of recording a spec: its version, whether that version is new, and the
    APPLY enqueued with it in the same transaction, when one was asked for."""

    version: StackVersion
    created: bool
    command: Command | None = None


class Finished(_Record):
    """A command that ended, and the retry the policy enqueued for it, if any."""

    command: Command
    retry: Command | None = None


class CheckReport(_Record):
    """What ``kedge db check`` found: integrity problems and the schema version."""

    problems: list[str]
    schema_version: int
    latest_schema_version: int
    pending_migrations: list[str]
    unknown_migrations: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unknown_migrations


class TokenInfo(_Record):
    """One token as listed: never its secret, never its digest."""

    name: str
    role: str
    stacks: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


class MadeToken(_Record):
    """A token just made: the only time its secret exists outside its holder's hands."""

    info: TokenInfo
    secret: str = Field(repr=False)


class AuditEntry(_Record):
    """One request in the audit trail (``store.audit``): never a query string, body or
    header. ``id`` and ``at`` are the store's (0 and None before it is appended)."""

    id: int = 0
    at: datetime | None = None
    #: ``token:<name>``, or ``anonymous`` (with the unverified ``X-Kedge-User`` text, if any)
    identity: str
    identity_kind: str
    token_name: str | None = None
    role: str | None = None
    client: str = ""
    method: str
    #: the route's template path (``/api/v1/stacks/{name}``), never the raw URL
    route: str
    stack: str | None = None
    verb: str | None = None
    outcome: str
    status: int
    reason: str | None = None
    command_id: int | None = None
    version: int | None = None
