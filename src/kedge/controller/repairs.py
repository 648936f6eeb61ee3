"""Repairs: drift healed by a ``RECONCILE`` of the stack's applied version, written once.

Three sources find drift that a stack heals (``x-kedge.drift: heal``): a Docker event
(``events_source``), the resync timer (``resync``) and the look right after a pass
(``worker``, as ``policy.Reconcile`` says). Each asks ``enqueue_reconcile`` with the delay
of its own backoff rule; the store enqueues it only if no command of the stack is PENDING
or RUNNING (``enqueue_repair``: that pass will observe anyway), and the repair may run
``delay`` seconds from now, when a worker is woken for it. The command is counted where
every command is, from the queue (``resync.count_enqueued``).

Callers: ``controller.worker``, ``controller.events_source``, ``controller.resync``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from kedge.specs.commands import Command, CommandReason, CommandStatus
from kedge.store.protocol import Store

__all__ = ["enqueue_reconcile", "has_active_command"]

log = structlog.get_logger(__name__)


def has_active_command(store: Store, stack: str) -> bool:
    """Whether a command of the stack is PENDING or RUNNING (its pass observes anyway)."""
    for status in (CommandStatus.PENDING, CommandStatus.RUNNING):
        if store.commands.list(stack=stack, status=status, limit=1).items:
            return True
    return False


def enqueue_reconcile(
    store: Store,
    stack: str,
    *,
    version: int,
    reason: CommandReason,
    created_by: str,
    delay: float,
    wake: Callable[[float], None],
    **why: Any,
) -> Command | None:
    """Enqueue a RECONCILE of ``version`` that may run ``delay`` seconds from now, log it
    (with ``why``) and wake a worker for it; None when a command of the stack came first."""
    command = store.commands.enqueue_repair(
        stack,
        version=version,
        reason=reason,
        created_by=created_by,
        not_before=datetime.now(UTC) + timedelta(seconds=delay) if delay else None,
    )
    if command is None:
        return None  # a command came meanwhile: it converges the stack
    log.info(
        "drift: reconcile",
        stack=stack,
        by=created_by,
        command_id=command.id,
        delay=delay,
        **why,
    )
    wake(delay)
    return command
