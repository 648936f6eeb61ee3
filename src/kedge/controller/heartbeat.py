"""The heartbeat: renews a worker's hold on its running command until the pass ends.

A pass may wait minutes on a health gate, with no action (and so no write) in between; the
heartbeat thread keeps the command's lease fresh meanwhile so that recovery never takes the
command from a live worker. A ``FencingError`` means the command was taken over (this worker
was presumed dead): the heartbeat stops and says so in ``lost``; the pass's own writes are
then refused by the store as well. Callers: the worker.
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
    """``with Heartbeat(store, command, every=2.0):`` renews the hold while the block runs."""

    def __init__(self, store: Store, command: Command, *, every: float) -> None:
        self._store, self._command, self._every = store, command, every
        self._done = threading.Event()
        self.lost = False
        self.beats = 0
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

    def _run(self) -> None:
        while not self._done.wait(self._every):
            try:
                self._store.commands.heartbeat(self._command.id, token=self._command.token)
                self.beats += 1
            except errors.FencingError as exc:
                self.lost = True
                log.warning("hold lost", reason=str(exc))
                return
            except errors.StoreError as exc:  # temporary: try again on the next beat
                log.warning("heartbeat failed", reason=str(exc))
