"""The controller's settings: workers, timers, leases and the retry policy, with defaults.

Read by ``controller.Controller`` and its parts; ``kedge controller`` and ``kedge serve`` build
one from their options. Times are in seconds.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from kedge.specs.policy import Policy
from kedge.store.records import RetryPolicy

__all__ = ["ControllerSettings"]


class ControllerSettings(BaseModel):
    """How the controller runs; the defaults are those of ``kedge controller``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workers: int = Field(default=2, ge=1)
    #: how often every stack is observed for drift
    resync: float = Field(default=60.0, gt=0)
    #: delete a stack whose spec file was removed (subject to the prune guard)
    prune: bool = True
    #: watchfiles' debounce: changes within this window arrive as one batch
    debounce_ms: int = Field(default=50, ge=1)
    #: a file modified less than this ago may still be being written
    settle: float = Field(default=0.1, ge=0)
    #: how often a worker renews its hold on a running command
    heartbeat: float = Field(default=2.0, gt=0)
    #: a RUNNING command without a heartbeat for this long lost its worker
    lease: float = Field(default=10.0, gt=0)
    #: how long an idle worker waits before looking at the queue again without being woken
    poll: float = Field(default=1.0, gt=0)
    #: how often queue metrics are refreshed and stale commands recovered
    housekeeping: float = Field(default=1.0, gt=0)
    #: follow Docker's events about managed containers
    events: bool = True
    #: transient failures of DELETE and DEPLOY, and of an APPLY that rolls back when it fails:
    #: attempts in all, and the capped exponential backoff between them
    retry: RetryPolicy = RetryPolicy(
        max_attempts=4, backoff=timedelta(seconds=1), backoff_cap=timedelta(seconds=30)
    )
    #: transient failures of APPLY, ROLLBACK and RECONCILE: retried until the stack converges
    #: or a newer version replaces it (``controller.retries``)
    converge: RetryPolicy = RetryPolicy(
        max_attempts=None, backoff=timedelta(seconds=10), backoff_cap=timedelta(minutes=5)
    )
    #: a stack whose passes keep failing (or keep being repaired) waits up to this long
    stack_backoff_cap: float = Field(default=60.0, gt=0)
    #: the longest wait before the events stream is re-opened
    events_backoff_cap: float = Field(default=30.0, gt=0)
    #: the operator's host-safety policy, enforced on every spec of the folder
    policy: Policy = Policy()

    @property
    def lease_delta(self) -> timedelta:
        return timedelta(seconds=self.lease)
