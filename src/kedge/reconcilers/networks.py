"""The network reconciler: create and remove one network per action (one Docker call each).

Idempotent: removing a network that is gone is done. Called by ``reconcilers.executor``.

Docker (seen with 20.10) can keep an endpoint of a container it has already removed, and then
refuses to remove the network: "has active endpoints". Such endpoints — of containers that
no longer exist — are force-disconnected and the removal tried again; an endpoint of a
container that exists still refuses it, as it should.
"""

from __future__ import annotations

import contextlib
import time

from kedge import errors
from kedge.planning.actions import Action
from kedge.reconcilers import parameters
from kedge.reconcilers.desired import Desired
from kedge.reconcilers.engine import Engine

__all__ = ["create_network", "remove_network"]

_ATTEMPTS = 4
_SETTLE = 0.5  # seconds between attempts when no endpoint could be freed


def create_network(engine: Engine, action: Action, *, desired: Desired) -> None:
    spec = desired.must_spec(action.target)
    key = action.key or ""
    body = parameters.network_body(spec, key, kedge_labels=desired.labels(action.config_hash))
    engine.create_network(action.name, body)


def remove_network(engine: Engine, action: Action, *, desired: Desired) -> None:
    ref = action.object_id or action.name
    for attempt in range(_ATTEMPTS):
        try:
            engine.remove_network(ref)
        except errors.EngineNotFound:
            return
        except errors.EngineConflict as exc:
            if "active endpoints" not in str(exc) or attempt == _ATTEMPTS - 1:
                raise
            if not _disconnect_stale(engine, ref):
                time.sleep(_SETTLE)  # the daemon may still be freeing a removed container's
        else:
            return


def _disconnect_stale(engine: Engine, ref: str) -> bool:
    """Force-disconnect the endpoints of containers that are gone; whether any was."""
    try:
        attached = engine.inspect_network(ref).get("Containers") or {}
    except errors.EngineNotFound:
        return True
    stale = []
    for container in attached:
        try:
            engine.inspect_container(container)
        except errors.EngineNotFound:
            stale.append(container)
    for container in stale:
        with contextlib.suppress(errors.EngineNotFound):
            engine.disconnect_network(ref, container, force=True)
    return bool(stale)
