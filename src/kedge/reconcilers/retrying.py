"""Retrying: an action tried again when the error of its attempt says when and how.

A reconciler makes one attempt and never sleeps. When Docker refuses for a cause that passes
within seconds by itself — a network whose endpoints the daemon is still freeing after its
containers were removed (``networks.remove_network``) — the reconciler raises a temporary
error that carries ``retry_after`` (seconds) and ``retry`` (the next attempt, with what the
reconciler has learnt so far: its patience, its next pause). ``attempt`` waits and calls it,
until an attempt succeeds or fails without saying when to try again; the reconciler bounds
how long by its own patience. Any other error is raised at once, for the pass's retry
policy (``store.RetryPolicy``) to weigh.

Callers: ``reconcilers.executor`` (every action but a wait), tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kedge import errors

__all__ = ["attempt"]


def attempt(first: Callable[[], None], *, pause: Callable[[float], None] = time.sleep) -> None:
    """Call ``first``, then each ``retry`` its error names after its ``retry_after``."""
    call = first
    while True:
        try:
            call()
        except errors.KedgeError as exc:
            if exc.retry is None or exc.retry_after is None:
                raise
            pause(exc.retry_after)
            call = exc.retry
        else:
            return
