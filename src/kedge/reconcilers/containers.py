"""The container reconciler: create, start, stop, remove and rename one container per action.

A create builds the Engine API body from the desired spec (``reconcilers.parameters``) and
attaches the service's other networks before the container is first started (Docker API
1.41 takes one network at create). Stops use the container's own ``StopTimeout``, set at
create from ``stop_grace_period``; the old copy of a start-first update leaves its networks
first, so that Docker's DNS no longer names it while it stops, and the new copy gets its
service's aliases only once it is healthy (``reveal_container``): zero downtime for clients
that find the service through Docker's DNS. Idempotent: stopping or removing a container
that is gone is done. Called by ``reconcilers.executor``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from kedge import errors
from kedge.planning.actions import Action
from kedge.reconcilers import copies, parameters
from kedge.reconcilers.desired import Desired
from kedge.reconcilers.engine import Engine

__all__ = [
    "create_container",
    "remove_container",
    "rename_container",
    "resume_container",
    "reveal_container",
    "start_container",
    "stop_container",
]


def create_container(engine: Engine, action: Action, *, desired: Desired) -> None:
    spec = desired.must_spec(action.target)
    params = parameters.container_params(
        spec,
        action.service or "",
        number=action.number or 1,
        name=action.name,
        kedge_labels=desired.labels(action.config_hash),
        aliases=action.name not in desired.withheld,
        all_networks=engine.supports("1.44"),
    )
    _inherit(engine, params.body, action.inherit)
    copied = copies.copies_of(spec, action.service or "")
    created = engine.create_container(params.name, params.body, platform=params.platform)
    try:
        for network, endpoint in params.connect:
            engine.connect_network(network, created, endpoint=endpoint)
        if copied:
            engine.put_archive(created, "/", copies.render_archive(copied))
    except errors.EngineError:
        # a half-made container would be taken for a finished one by the next observe
        engine.remove_container(created, force=True)
        raise


def _inherit(engine: Engine, body: dict[str, Any], inherit: tuple[tuple[str, str], ...]) -> None:
    """Mount the anonymous volumes of the container this one replaces where it would get fresh
    ones: the spec's anonymous volumes (``- /path``) and the image's ``VOLUME``s, as compose
    does (so a database's data in its image's volume outlives a recreate)."""
    if not inherit:
        return
    host = body["HostConfig"]
    mounts: list[dict[str, Any]] = host.setdefault("Mounts", [])
    fresh = {m["Target"]: m for m in mounts if m["Type"] == "volume" and not m.get("Source")}
    taken = {m["Target"] for m in mounts} | set(host.get("Tmpfs") or {})
    taken |= {bind.split(":")[1] for bind in host.get("Binds") or [] if ":" in bind}
    declared: set[str] | None = None
    for target, name in inherit:
        if target in fresh:
            fresh[target]["Source"] = name
            continue
        if target in taken:
            continue
        if declared is None:  # one image inspect, only when it is needed
            image = engine.inspect_image(body["Image"]) or {}
            declared = set((image.get("Config") or {}).get("Volumes") or {})
        if target in declared:
            mounts.append({"Type": "volume", "Source": name, "Target": target})


def reveal_container(engine: Engine, name: str, *, desired: Desired, service: str) -> None:
    """Give a healthy new copy its service's network aliases (start-first, after its wait).

    Docker cannot add aliases to an endpoint, so the container leaves each network and joins
    it again with them; until then Docker's DNS names only the old copy.
    """
    spec = desired.must_spec(name)
    for network, endpoint in parameters.endpoints_of(spec, service):
        engine.disconnect_network(network, name)
        engine.connect_network(network, name, endpoint=endpoint)


def start_container(engine: Engine, action: Action, *, desired: Desired) -> None:
    engine.start_container(action.object_id or action.name)


def resume_container(engine: Engine, action: Action, *, desired: Desired) -> None:
    engine.unpause_container(action.object_id or action.name)


def stop_container(engine: Engine, action: Action, *, desired: Desired) -> None:
    ref = action.object_id or action.name
    with contextlib.suppress(errors.EngineNotFound):
        if _is_retired(action) and desired.spec is not None:
            _leave_networks(engine, ref, desired=desired, service=action.service or "")
        engine.stop_container(ref)


def _is_retired(action: Action) -> bool:
    """Whether the container is the old copy of a start-first update (``<id12>_<name>``)."""
    prefix = (action.object_id or "")[:12]
    return bool(prefix) and action.name.startswith(f"{prefix}_")


def _leave_networks(engine: Engine, ref: str, *, desired: Desired, service: str) -> None:
    """Take the old copy out of Docker's DNS before it stops, so no new client finds it."""
    spec = desired.must_spec(ref)
    if service not in spec.services or spec.services[service].network_mode is not None:
        return
    for key in sorted(spec.services[service].networks):
        with contextlib.suppress(errors.EngineNotFound, errors.EngineRejected):
            engine.disconnect_network(spec.network_name(key), ref)


def remove_container(engine: Engine, action: Action, *, desired: Desired) -> None:
    try:
        engine.remove_container(
            action.object_id or action.name, force=True, volumes=bool(action.anonymous_volumes)
        )
    except errors.EngineNotFound:
        pass  # gone already: done
    except errors.RemovalInProgress:
        pass  # the daemon is removing it already: done
    for name in action.anonymous_volumes:  # Docker keeps those a recreate carried over
        with contextlib.suppress(errors.EngineNotFound, errors.EngineConflict):
            engine.remove_volume(name)


def rename_container(engine: Engine, action: Action, *, desired: Desired) -> None:
    engine.rename_container(action.object_id or action.name, action.new_name or action.name)
