"""The network reconciler: create and remove one network per action (one Docker call each).

Idempotent: removing a network that is gone is done. Called by ``reconcilers.executor``.
"""

from __future__ import annotations

import contextlib

from kedge import errors
from kedge.planning.actions import Action
from kedge.reconcilers import parameters
from kedge.reconcilers.desired import Desired
from kedge.reconcilers.engine import Engine

__all__ = ["create_network", "remove_network"]


def create_network(engine: Engine, action: Action, *, desired: Desired) -> None:
    spec = desired.must_spec(action.target)
    key = action.key or ""
    body = parameters.network_body(spec, key, kedge_labels=desired.labels(action.config_hash))
    engine.create_network(action.name, body)


def remove_network(engine: Engine, action: Action, *, desired: Desired) -> None:
    with contextlib.suppress(errors.EngineNotFound):
        engine.remove_network(action.object_id or action.name)
