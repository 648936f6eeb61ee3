"""The network reconciler: create and remove one network per action (one Docker call each).

Idempotent: removing a network that is gone is done. Called by ``reconcilers.executor``.

Docker (seen with 20.10) can keep an endpoint of a container it has already removed, and then
refuses to remove the network: "has active endpoints". Such endpoints — of containers that
no longer exist — are force-disconnected and the removal tried again, for up to ``PATIENCE``
seconds while the daemon may still be freeing them. An endpoint of a container that exists
refuses it at once, naming the container, as it should.

The daemon can also lose count for good (moby/moby#42119: no container attached, and the
network refused until dockerd restarts); seen here a few times an hour under load, after
deletes of 50-container stacks by Kedge and by ``docker compose down`` alike. No client can
remove such a network; the error says so and how to free it. An apply that keeps the network
is not hindered: it still works for new containers.
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

#: how long a removal waits for the daemon to free the endpoints of removed containers
PATIENCE = 10.0
_SETTLE = (0.1, 2.0)  # the first and the longest pause between attempts, in seconds


def create_network(engine: Engine, action: Action, *, desired: Desired) -> None:
    spec = desired.must_spec(action.target)
    key = action.key or ""
    body = parameters.network_body(spec, key, kedge_labels=desired.labels(action.config_hash))
    engine.create_network(action.name, body)


def remove_network(engine: Engine, action: Action, *, desired: Desired) -> None:
    ref = action.object_id or action.name
    deadline = time.monotonic() + PATIENCE
    pause, longest = _SETTLE
    while True:
        try:
            engine.remove_network(ref)
        except errors.EngineNotFound:
            return
        except errors.EngineConflict as exc:
            if "active endpoints" not in str(exc):
                raise
            live = _detach_removed(engine, ref)
            if live:  # not Kedge's to take away: say whose
                raise errors.EngineConflict(f"{exc} (attached: {', '.join(live)})") from exc
            if time.monotonic() >= deadline:
                raise errors.EngineConflict(
                    f"{exc}, though no container is attached: the daemon lost count of its"
                    " endpoints (moby/moby#42119); restarting dockerd frees the network, and"
                    " the next pass removes it"
                ) from exc
            # the daemon may still be freeing a removed container's endpoint
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, longest)
        else:
            return


def _detach_removed(engine: Engine, ref: str) -> list[str]:
    """Force-disconnect the endpoints of containers that are gone; the names of the attached
    containers that exist (and are not being removed)."""
    try:
        attached = engine.inspect_network(ref).get("Containers") or {}
    except errors.EngineNotFound:
        return []
    live, stale = [], []
    for container, endpoint in sorted(attached.items()):
        try:
            state = engine.inspect_container(container).get("State") or {}
        except errors.EngineNotFound:
            stale.append(container)
            continue
        if state.get("Status") not in ("removing", "dead"):  # those are on their way out
            live.append(str(endpoint.get("Name") or container[:12]))
    for container in stale:
        with contextlib.suppress(errors.EngineNotFound):
            engine.disconnect_network(ref, container, force=True)
    return live
