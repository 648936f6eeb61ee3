"""Commands: the durable record of one reconcile pass or operation (DESIGN.md, *Words*).

Only data lives here; the store persists commands and the controller executes them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "Command",
    "CommandReason",
    "CommandStatus",
    "CommandType",
]


class CommandType(StrEnum):
    APPLY = "APPLY"
    ROLLBACK = "ROLLBACK"
    DELETE = "DELETE"
    DEPLOY = "DEPLOY"
    RECONCILE = "RECONCILE"


class CommandStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


FINAL_STATUSES = frozenset({CommandStatus.DONE, CommandStatus.FAILED, CommandStatus.CANCELLED})
ACTIVE_STATUSES = frozenset({CommandStatus.PENDING, CommandStatus.RUNNING})


class CommandReason(StrEnum):
    """Why a command was created."""

    FILE = "file"  # a spec file appeared or changed in the watched folder
    API = "api"  # a REST call
    CLI = "cli"  # a local CLI verb (kedge up / down / rollback)
    DRIFT = "drift"  # observed state differed from desired
    EVENT = "event"  # a Docker event about a managed object
    RETRY = "retry"  # the retry policy re-enqueued a failed command
    AUTO_ROLLBACK = "auto-rollback"  # an APPLY failed under on_failure: rollback
    PRUNE = "prune"  # a spec file was removed from the watched folder


class Command(BaseModel):
    """One command as the store keeps it. Immutable: the store returns a new one per change."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    stack: str
    type: CommandType
    status: CommandStatus
    version: int | None = None  # the target stack version (None for DELETE)
    reason: CommandReason
    created_by: str = ""
    options: dict[str, Any] = Field(default_factory=dict)  # e.g. allow_data_loss, volumes
    attempt: int = 1
    retry_of: int | None = None
    created_at: datetime
    not_before: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    worker: str | None = None
    token: int = 0  # the fencing token of the current holder
    cancel_requested: bool = False
    error: str | None = None
    plan: str | None = None  # Plan.render() of the pass
    outcome: str | None = None  # a one-line summary of what the pass did
    actions: int | None = None  # how many actions the pass carried out; 0: nothing changed

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES
