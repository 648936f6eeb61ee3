"""Per-stack backoff: a stack that keeps failing, or keeps being repaired, waits longer.

controller-runtime's rule: failures back off exponentially per key and a success resets it.
Repairs count too: a container that dies again right after each repair would otherwise make
the controller loop, so passes that had to repair the stack within ``window`` seconds of each
other grow the delay of the next repair the same way (a look that found nothing to do does
not count: one ``docker rm -f`` sends both ``die`` and ``destroy``).
Callers: the worker (records outcomes) and the sources (ask for the delay before enqueueing).
Thread-safe; time comes from the caller so that tests are exact.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["StackBackoff"]


@dataclass(slots=True)
class _Streak:
    count: int = 0
    last: float = 0.0


class StackBackoff:
    """Delays per stack: ``base * 2**(n-1)`` after ``n`` failures or quick repairs, capped."""

    def __init__(self, *, base: float = 1.0, cap: float = 60.0, window: float = 30.0) -> None:
        self._base, self._cap, self._window = base, cap, window
        self._lock = threading.Lock()
        self._failures: dict[str, _Streak] = {}
        self._repairs: dict[str, _Streak] = {}

    def _delay(self, streak: _Streak | None) -> float:
        if streak is None or streak.count == 0:
            return 0.0
        return float(min(self._cap, self._base * 2 ** (streak.count - 1)))

    def failed(self, stack: str, *, now: float) -> float:
        """Record a failed pass; returns how long the stack should wait now."""
        with self._lock:
            streak = self._failures.setdefault(stack, _Streak())
            streak.count, streak.last = streak.count + 1, now
            return self._delay(streak)

    def succeeded(self, stack: str) -> None:
        with self._lock:
            self._failures.pop(stack, None)

    def repaired(self, stack: str, *, now: float) -> None:
        """Record a pass that had to repair the stack (a RECONCILE that acted)."""
        with self._lock:
            streak = self._repairs.setdefault(stack, _Streak())
            if now - streak.last > self._window:
                streak.count = 0
            streak.count, streak.last = streak.count + 1, now

    def repair_delay(self, stack: str, *, now: float) -> float:
        """How long a new repair of the stack waits: 0 unless it was repaired lately."""
        with self._lock:
            streak = self._repairs.get(stack)
            if streak is None or now - streak.last > self._window:
                return 0.0
            return self._delay(streak)

    def delay(self, stack: str, *, now: float) -> float:
        """How long from ``now`` the stack still waits because of its failures."""
        with self._lock:
            streak = self._failures.get(stack)
            if streak is None:
                return 0.0
            return max(0.0, streak.last + self._delay(streak) - now)

    def forget(self, stack: str) -> None:
        with self._lock:
            self._failures.pop(stack, None)
            self._repairs.pop(stack, None)
