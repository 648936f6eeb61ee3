"""The ``Store`` protocol: what every backend of Kedge's store promises (DESIGN.md, *Data flow*).

Every path into Kedge ends as a row here, so the rules below are the system's rules:

- versions are immutable; equal digests map to the same version; new digests get the next
  number with no gap or duplicate; a declared number must be the next one or an existing one
  with the same digest (else ``ConflictError``);
- a newer ``APPLY``/``ROLLBACK``/``RECONCILE`` supersedes the older PENDING ones of its stack
  (only the newest desired state matters, so a RECONCILE should name the desired version);
- a claim takes the oldest PENDING command of a stack that has none RUNNING (commands of one
  stack run in the order they were enqueued), and at most one command per stack is RUNNING;
- only the holder with the current fencing token may heartbeat, log, record a plan or finish
  (else ``FencingError``).

Callers: the controller (sources enqueue, the worker claims and finishes, recovery), the API
(reads and enqueues) and the CLI. The SQLite backend is ``kedge.store.sqlite``; the contract
tests in ``tests/unit/store`` run against this protocol so that another backend can run them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from kedge.specs.commands import Command, CommandReason, CommandStatus, CommandType
from kedge.specs.versions import StackVersion
from kedge.store.records import (
    AuditEntry,
    CheckReport,
    Finished,
    LogLine,
    MadeToken,
    Page,
    Pruned,
    Recorded,
    RetentionPolicy,
    RetryPolicy,
    StackStatus,
    TokenInfo,
)

__all__ = [
    "KEEP",
    "AuditStore",
    "CommandStore",
    "Keep",
    "StackStore",
    "Store",
    "TokenStore",
    "VersionStore",
]


class Keep:
    """The marker for "leave this field as it is" in partial updates."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = Keep()


class StackStore(Protocol):
    """Stacks and their status. A stack exists once a version or a command names it."""

    def get(self, stack: str) -> StackStatus:
        """The stack's status; ``NotFoundError`` when no version or command names it."""
        ...

    def list(self, *, limit: int = 50, cursor: str | None = None) -> Page[StackStatus]:
        """Stacks by name."""
        ...

    def set_status(
        self,
        stack: str,
        *,
        sync: str | Keep = KEEP,
        health: str | Keep = KEEP,
        applied_version: int | Keep | None = KEEP,
        desired_version: int | Keep | None = KEEP,
        last_error: str | Keep | None = KEEP,
    ) -> StackStatus:
        """Change the given fields of the stack's status (creating the stack if needed)."""
        ...


class VersionStore(Protocol):
    """The immutable, numbered versions of each stack. There is no update path."""

    def record(
        self,
        stack: str,
        document: Mapping[str, Any],
        *,
        digest: str,
        declared: int | None = None,
        source: str,
        created_by: str = "",
        commit: str | None = None,
        apply: CommandReason | None = None,
        apply_options: Mapping[str, Any] | None = None,
        desired: bool = False,
    ) -> Recorded:
        """Map a spec to its version: the existing one with this digest, or the next number.

        The one verb of record-and-apply: with ``desired``, that version becomes the stack's
        ``desired_version``; with ``apply``, an APPLY of it (new or not) is enqueued for that
        reason (``apply_options`` its options). All of it happens in one transaction, so that
        the order of versions and of their APPLYs cannot cross between two writers, and a
        crash keeps all of it or none."""
        ...

    def get(self, stack: str, number: int) -> StackVersion:
        """One version; ``NotFoundError`` when it does not exist."""
        ...

    def latest(self, stack: str) -> StackVersion | None:
        """The highest-numbered version of the stack, if any."""
        ...

    def find(self, stack: str, digest: str) -> StackVersion | None:
        """The version of the stack with this digest, if any."""
        ...

    def list(self, stack: str, *, limit: int = 50, cursor: str | None = None) -> Page[StackVersion]:
        """Versions of the stack, newest first."""
        ...


class CommandStore(Protocol):
    """The durable command queue and its log lines."""

    def enqueue(
        self,
        stack: str,
        type: CommandType,
        *,
        reason: CommandReason,
        version: int | None = None,
        created_by: str = "",
        options: Mapping[str, Any] | None = None,
        not_before: datetime | None = None,
        desired: bool = False,
    ) -> Command:
        """Add a PENDING command; a newer APPLY/ROLLBACK/RECONCILE supersedes older PENDING ones
        of its stack ("superseded by #N"). ``NotFoundError`` when ``version`` does not exist.
        ``desired``: also make ``version`` (None for a DELETE) the stack's desired version, in
        the same transaction (a rollback, a delete)."""
        ...

    def enqueue_repair(
        self,
        stack: str,
        *,
        version: int,
        reason: CommandReason,
        created_by: str = "",
        not_before: datetime | None = None,
    ) -> Command | None:
        """Enqueue a ``RECONCILE`` that repairs drift towards ``version``, checked in the same
        transaction: None when the stack has a PENDING or RUNNING command (that pass converges
        it anyway) or its applied version is no longer ``version`` (a repair towards it would
        undo what was applied meanwhile)."""
        ...

    def claim(self, worker: str) -> Command | None:
        """Take the oldest PENDING command that may run now; it becomes RUNNING with a new
        fencing token. None when there is nothing to do."""
        ...

    def heartbeat(self, command_id: int, *, token: int) -> Command:
        """Extend the holder's lease; the returned command says whether a cancel was asked."""
        ...

    def log(
        self,
        command_id: int,
        *,
        token: int,
        message: str,
        level: str = "info",
        fields: Mapping[str, Any] | None = None,
    ) -> LogLine:
        """Append a line to a RUNNING command's log."""
        ...

    def record_plan(self, command_id: int, *, token: int, plan: str) -> Command:
        """Keep the rendered plan of a RUNNING command."""
        ...

    def finish(
        self,
        command_id: int,
        *,
        token: int,
        status: CommandStatus,
        error: str | None = None,
        outcome: str | None = None,
        actions: int | None = None,
        retry: RetryPolicy | None = None,
    ) -> Finished:
        """End a RUNNING command as DONE, FAILED or CANCELLED; a FAILED one gets a retry
        enqueued in the same transaction when ``retry`` allows it."""
        ...

    def cancel(self, command_id: int, *, by: str = "") -> Command:
        """PENDING becomes CANCELLED; RUNNING gets a cancel request; a final one is a
        ``ConflictError``."""
        ...

    def recover(
        self, *, lease: timedelta, policy: RetryPolicy, converge: RetryPolicy | None = None
    ) -> list[Finished]:
        """Fail RUNNING commands whose heartbeat is older than ``lease`` ("worker lost") and
        enqueue their retries under ``policy`` (``converge``, when given, for the commands
        that carry a stack's desired state: APPLY, ROLLBACK, RECONCILE)."""
        ...

    def prune(self, policy: RetentionPolicy) -> Pruned:
        """Remove old log lines and old RECONCILE commands that changed nothing."""
        ...

    def get(self, command_id: int) -> Command:
        """One command; ``NotFoundError`` when it does not exist."""
        ...

    def logs(self, command_id: int, *, after: int = 0, limit: int = 1000) -> list[LogLine]:
        """The command's log lines with a sequence number above ``after``, in order."""
        ...

    def latest(self, stacks: Sequence[str]) -> dict[str, Command]:
        """The newest command of each of ``stacks`` that has one, in one query (the API's
        list of stacks shows it for a whole page at once)."""
        ...

    def list(
        self,
        *,
        stack: str | None = None,
        status: CommandStatus | None = None,
        type: CommandType | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Command]:
        """Commands newest first, filtered by stack, status, type and creation time
        (``since`` inclusive, ``until`` exclusive)."""
        ...


class TokenStore(Protocol):
    """Kedge's own API tokens (``kedge.store.tokens`` owns what a token is): only the digest
    of a secret is kept; a name is never reused."""

    #: counts this process's writes of tokens (the API's cache of "identity configured")
    generation: int

    def create(
        self, name: str, *, role: str, stacks: tuple[str, ...], lifetime: timedelta | None
    ) -> MadeToken:
        """Make a token and answer it with its secret, the only time the secret is seen."""
        ...

    def list(self) -> list[TokenInfo]:
        """Every token by name, revoked ones too; never a secret."""
        ...

    def revoke(self, name: str) -> TokenInfo:
        """Revoke a token for good; ``NotFoundError`` when none has that name."""
        ...

    def any_active(self) -> bool:
        """Whether some token is not revoked: then every request must authenticate."""
        ...

    def authenticate(self, secret: str) -> TokenInfo | None:
        """The active token whose secret this is, or None."""
        ...


class AuditStore(Protocol):
    """The audit trail (``kedge.store.audit``): appended per recorded request, listed newest
    first with keyset pagination; bounded to its newest rows."""

    def append(self, entry: AuditEntry) -> AuditEntry:
        """Record one request; the answer has the store's ``id`` and ``at``."""
        ...

    def list(
        self,
        *,
        stack: str | None = None,
        identity: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[AuditEntry]:
        """Rows newest first, filtered by stack, identity, outcome and time (``since``)."""
        ...


class Store(Protocol):
    """Kedge's store: stacks, versions, commands and tokens, plus backup and check."""

    @property
    def stacks(self) -> StackStore: ...

    @property
    def versions(self) -> VersionStore: ...

    @property
    def commands(self) -> CommandStore: ...

    @property
    def tokens(self) -> TokenStore: ...

    @property
    def audit(self) -> AuditStore: ...

    def backup(self, path: Path) -> None:
        """Copy the whole store to ``path`` consistently, while others keep writing."""
        ...

    def check(self) -> CheckReport:
        """Check the store's integrity and schema version."""
        ...

    def close(self) -> None: ...
