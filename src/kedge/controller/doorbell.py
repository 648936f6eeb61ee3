"""The doorbell: wakes idle workers as soon as a command is enqueued in this process.

Workers also poll the queue (commands may come from another process: the CLI, a second
API), but an in-process enqueue rings the bell so that a pass starts within milliseconds.
A counter instead of a flag: a ring between a worker's look at the queue and its wait is
never lost. Callers: the sources and the API (``Controller.wake``), the workers.
"""

from __future__ import annotations

import threading

__all__ = ["Doorbell"]


class Doorbell:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._rings = 0

    @property
    def rings(self) -> int:
        with self._cond:
            return self._rings

    def ring(self) -> None:
        with self._cond:
            self._rings += 1
            self._cond.notify_all()

    def ring_in(self, seconds: float) -> None:
        """Ring once ``seconds`` from now: a command enqueued with a not-before time is
        claimed when it may run, not at the next poll."""
        if seconds <= 0:
            self.ring()
            return
        timer = threading.Timer(seconds, self.ring)
        timer.daemon = True
        timer.start()

    def wait(self, seen: int, *, timeout: float) -> int:
        """Wait until the bell rang after ``seen`` rings, or ``timeout``; returns the count."""
        with self._cond:
            self._cond.wait_for(lambda: self._rings != seen, timeout=timeout)
            return self._rings
