"""kedge.controller: sources, workers and timers that keep every stack converged.

The stable surface for ``kedge controller`` and ``kedge serve``: ``Controller`` (``start``,
``stop(grace=)``, ``wake``, ``metrics``) and ``ControllerSettings``. They are imported on
first use, so that importing one part (``controller.folder``, ``controller.status``) does not
load the Docker adapter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kedge.controller.controller import Controller
    from kedge.controller.settings import ControllerSettings

__all__ = ["Controller", "ControllerSettings"]


def __getattr__(name: str) -> Any:
    if name == "Controller":
        from kedge.controller.controller import Controller

        return Controller
    if name == "ControllerSettings":
        from kedge.controller.settings import ControllerSettings

        return ControllerSettings
    raise AttributeError(f"module 'kedge.controller' has no attribute {name!r}")
