"""The network reconciler: create and remove one network per action (one Docker call each).

Idempotent: removing a network that is gone is done. Called by ``reconcilers.executor``.

Docker (seen with 20.10) refuses to remove a network while it still counts an endpoint of a
container that is being or has just been removed: "has active endpoints"
(``errors.EndpointsActive``). The removal is tried again, with growing pauses, for up to
``PATIENCE`` seconds while the daemon frees them itself: not by sleeping here, but by raising
``EndpointsActive`` with ``retry_after`` and ``retry`` (the next attempt), which the executor
waits out (``reconcilers.retrying``). An endpoint of a container that exists (and is not on
its way out) refuses it at once, naming the container, as it should.

Gently, as ``docker compose down`` does: no endpoint is force-disconnected while the daemon
may still be freeing it. moby 20.10's libnetwork takes its network and controller locks in
opposite orders when a container leaves a network (``sbLeave`` → ``getSvcRecords``) and
when an endpoint is deleted (``processEndpointDelete``), and deadlocks if the two meet on
one network (moby/libnetwork#2649, moby/moby#46661; fixed in 20.10.27): every
force-disconnect is one more endpoint delete racing the leaves still running. Only when
the patience is spent, and the refusal names only endpoints of containers that no longer
exist, are those force-disconnected, once, and the removal tried a last time.

The daemon can also lose count (moby/moby#42119: no container attached, and the network
refused until a later container joins and leaves it, or dockerd restarts); seen here a few
times an hour under load, and in 13 of 20 downs of the teardown soak, after
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
    """The first attempt at removing the network; ``EndpointsActive`` with ``retry`` while
    the daemon may still be freeing endpoints (``reconcilers.retrying`` waits it out)."""
    _Removal(engine, action.object_id or action.name).attempt()


class _Removal:
    """One network's removal across its attempts: when its patience ends, the next pause,
    and whether the endpoints of gone containers were force-disconnected."""

    def __init__(self, engine: Engine, ref: str) -> None:
        self._engine = engine
        self._ref = ref
        self._deadline = time.monotonic() + PATIENCE
        self._pause = _SETTLE[0]
        self._detached = False

    def attempt(self) -> None:
        try:
            self._engine.remove_network(self._ref)
        except errors.EngineNotFound:
            return
        except errors.EndpointsActive as exc:
            self._refused(exc)

    def _refused(self, exc: errors.EndpointsActive) -> None:
        live, stale = _attached(self._engine, self._ref)
        if live:  # not Kedge's to take away: say whose
            raise errors.EndpointsActive(f"{exc} (attached: {', '.join(live)})") from exc
        left = self._deadline - time.monotonic()
        if left > 0:  # the daemon may still be freeing a removed container's endpoint
            wait, self._pause = min(self._pause, left), min(self._pause * 2, _SETTLE[1])
            raise errors.EndpointsActive(str(exc), retry_after=wait, retry=self.attempt) from exc
        if stale and not self._detached:  # the last resort, once the daemon had its time
            _detach(self._engine, self._ref, stale)
            self._detached = True
            self.attempt()
            return
        raise errors.EndpointsActive(
            f"{exc}, though no container is attached: the daemon lost count of its"
            " endpoints (moby/moby#42119); a later pass that uses the network often"
            " frees it, restarting dockerd always does, and the next pass removes it"
        ) from exc


def _attached(engine: Engine, ref: str) -> tuple[list[str], list[str]]:
    """The names of the attached containers that exist (and are not being removed), and the
    ids of the endpoints' containers that are gone."""
    try:
        attached = engine.inspect_network(ref).get("Containers") or {}
    except errors.EngineNotFound:
        return [], []
    live, stale = [], []
    for container, endpoint in sorted(attached.items()):
        try:
            state = engine.inspect_container(container).get("State") or {}
        except errors.EngineNotFound:
            stale.append(container)
            continue
        if state.get("Status") not in ("removing", "dead"):  # those are on their way out
            live.append(str(endpoint.get("Name") or container[:12]))
    return live, stale


def _detach(engine: Engine, ref: str, stale: list[str]) -> None:
    """Force-disconnect endpoints the daemon kept of containers that are gone."""
    for container in stale:
        with contextlib.suppress(errors.EngineNotFound):
            engine.disconnect_network(ref, container, force=True)
