"""The volume reconciler: create and remove one volume per action (one Docker call each).

Idempotent: removing a volume that is gone is done. Volumes are only removed when the plan
says so (a delete with ``--volumes``, or a changed volume with data loss allowed). Called by
``reconcilers.executor``.
"""

from __future__ import annotations

import contextlib

from kedge import errors
from kedge.planning.actions import Action
from kedge.reconcilers import parameters
from kedge.reconcilers.desired import Desired
from kedge.reconcilers.engine import Engine

__all__ = ["create_volume", "remove_volume"]


def create_volume(engine: Engine, action: Action, *, desired: Desired) -> None:
    spec = desired.must_spec(action.target)
    key = action.key or ""
    body = parameters.volume_body(spec, key, kedge_labels=desired.labels(action.config_hash))
    engine.create_volume(action.name, body)


def remove_volume(engine: Engine, action: Action, *, desired: Desired) -> None:
    with contextlib.suppress(errors.EngineNotFound):
        engine.remove_volume(action.name)
