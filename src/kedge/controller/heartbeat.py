"""The heartbeat: renews a worker's hold on its running command until the pass ends.

A pass may wait minutes on a health gate; the heartbeat thread keeps the command's lease
fresh meanwhile so that recovery never takes it from a live worker, and it brings back the
cancel request the store keeps (``kedge cancel``). A ``FencingError`` means the command was
taken over (this worker was presumed dead): the pass is told to stop. Callers: the worker.
"""

from __future__ import annotations

import contextvars
import threading
from types import TracebackType

import structlog

from kedge import errors
from kedge.specs.commands import Command
from kedge.store.protocol import Store

__all__ = ["Heartbeat"]

log = structlog.get_logger(__name__)


class Heartbeat:
    """``with Heartbeat(store, command, every=2.0) as beat:`` … ``beat.should_stop()``."""

    def __init__(self, store: Store, command: Command, *, every: float) -> None:
        self._store, self._command, self._every = store, command, every
        self._done = threading.Event()
        self._stop_asked = threading.Event()
        self.lost = False
        context = contextvars.copy_context()  # log lines keep the pass's stack and command
        self._thread = threading.Thread(
            target=context.run, args=(self._run,), name=f"heartbeat-{command.id}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()

    def ask_stop(self) -> None:
        """Ask the pass to stop between two actions (the controller is shutting down)."""
        self._stop_asked.set()

    def should_stop(self) -> bool:
        """Whether the pass should stop: cancel requested, shutdown, or the hold was lost."""
        return self._stop_asked.is_set()

    def _run(self) -> None:
        while not self._done.wait(self._every):
            try:
                held = self._store.commands.heartbeat(self._command.id, token=self._command.token)
            except errors.FencingError as exc:
                self.lost = True
                self._stop_asked.set()
                log.warning("hold lost", reason=str(exc))
                return
            except errors.StoreError as exc:  # temporary: try again on the next beat
                log.warning("heartbeat failed", reason=str(exc))
                continue
            if held.cancel_requested and not self._stop_asked.is_set():
                log.info("cancel requested")
                self._stop_asked.set()
