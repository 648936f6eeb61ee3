"""The API's resources: what each route answers and accepts, as frozen pydantic models.

These are the boundary of the HTTP API (and so of the OpenAPI document): the CLI reads them
back as plain JSON. Commands are answered as the store's ``Command`` model itself, which is
already a frozen boundary model. Callers: ``api.stacks``, ``api.commands``, ``api.probes``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from kedge.specs.commands import Command
from kedge.specs.options import MAX_VERSION

__all__ = [
    "ApplyRequest",
    "Check",
    "CommandCreated",
    "ContainerView",
    "Page",
    "PlanView",
    "Readiness",
    "RetryView",
    "RollbackRequest",
    "ServiceView",
    "StackDetail",
    "StackView",
    "VersionDetail",
    "VersionView",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")

#: what ``wait`` asks of a command (``planning.health``'s ready rule, as ``kedge up --wait``)
WAIT_DESCRIPTION = (
    "The command also waits until every container it started is ready: healthy, running"
    " without a healthcheck, or a one-shot that exited 0; otherwise it fails."
)
T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next one."""

    model_config = _FROZEN

    items: list[T]
    next_cursor: str | None = None


class CommandRef(BaseModel):
    """Enough of a command to name it in a list of stacks."""

    model_config = _FROZEN

    id: int
    type: str
    status: str
    created_at: datetime


class RetryView(BaseModel):
    """The retry a stack waits for: its command, when it may run, and why the last try failed."""

    model_config = _FROZEN

    command: int
    attempt: int
    at: datetime | None = None  # None: as soon as a worker is free
    cause: str | None = None


class StackView(BaseModel):
    """A stack and its status as the controller last recorded it."""

    model_config = _FROZEN

    name: str
    created_at: datetime | None = None  # when a version or command first named it
    sync: str = "Unknown"  # Synced, OutOfSync, Unknown (the controller's words)
    health: str = "Unknown"  # Healthy, Progressing, Degraded, Missing, Unknown
    applied_version: int | None = None
    desired_version: int | None = None
    last_error: str | None = None
    updated_at: datetime | None = None
    last_command: CommandRef | None = None
    ready: int | None = None  # containers running and healthy (when observed)
    containers: int | None = None  # containers observed
    next_retry: RetryView | None = None  # the failed pass that will be tried again


class VersionView(BaseModel):
    """One immutable stack version, without its spec."""

    model_config = _FROZEN

    stack: str
    number: int
    digest: str
    created_at: datetime
    created_by: str = ""
    source: str = ""
    commit: str | None = None
    outcome: str | None = None  # status of the last APPLY/ROLLBACK to this version


class VersionDetail(VersionView):
    """One stack version with its canonical spec."""

    spec: dict[str, Any]


class ContainerView(BaseModel):
    """One observed container of a stack."""

    model_config = _FROZEN

    name: str
    id: str
    service: str
    number: int
    state: str
    health: str
    version: int | None = None
    image: str = ""
    started_at: datetime | None = None
    uptime_seconds: float | None = None
    restart_count: int = 0
    config_hash: str = ""


class ServiceView(BaseModel):
    """One service of a stack: desired replicas and the containers that run it."""

    model_config = _FROZEN

    name: str
    desired: int
    ready: int
    containers: list[ContainerView]


class StackDetail(StackView):
    """A stack with what runs in it (observed from Docker), its versions and recent commands."""

    services: list[ServiceView] = Field(default_factory=list)
    observed: bool = False  # False when Docker could not be asked
    observe_error: str | None = None
    versions: list[VersionView] = Field(default_factory=list)
    commands: list[Command] = Field(default_factory=list)


class CommandCreated(BaseModel):
    """What every write answers: the command it created (follow it by id) and its version."""

    model_config = _FROZEN

    command: Command | None = None  # None only for a version created without apply
    version: VersionView | None = None
    created: bool = False  # whether the version is new (False: an equal version existed)


class PlanView(BaseModel):
    """The plan of a posted spec against what runs, not applied."""

    model_config = _FROZEN

    stack: str
    digest: str
    version: int | None = None  # the existing version with this digest, if any
    changed: bool
    actions: int
    refused: bool = False  # part of the plan needs a consent a command must give
    plan: str


class ApplyRequest(BaseModel):
    """Apply an existing version of a stack."""

    model_config = _FROZEN

    version: int = Field(ge=1, le=MAX_VERSION)
    wait: bool = Field(default=False, description=WAIT_DESCRIPTION)


class RollbackRequest(BaseModel):
    """Roll back to a version, or to the one applied before the current one when omitted."""

    model_config = _FROZEN

    to: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    wait: bool = Field(default=False, description=WAIT_DESCRIPTION)


class Check(BaseModel):
    """One dependency of readiness."""

    model_config = _FROZEN

    ok: bool
    detail: str = ""


class Readiness(BaseModel):
    """Whether the database and the Docker daemon answer."""

    model_config = _FROZEN

    ready: bool
    checks: dict[str, Check]
