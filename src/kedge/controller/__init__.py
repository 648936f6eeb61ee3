"""kedge.controller: sources, workers and timers that keep every stack converged.

The stable surface for ``kedge controller`` and ``kedge serve``: ``Controller`` (``start``,
``stop(grace=)``, ``wake``, ``metrics``) and ``ControllerSettings``.
"""

from kedge.controller.controller import Controller
from kedge.controller.settings import ControllerSettings

__all__ = ["Controller", "ControllerSettings"]
