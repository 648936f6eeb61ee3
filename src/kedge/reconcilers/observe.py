"""Observe: what Docker has of one stack, as an ``ObservedStack`` (DESIGN.md, *Data flow*).

Everything is found through Kedge's labels in a constant number of list calls filtered by
``kedge.stack`` — containers, networks, volumes — plus one call for the images the stack
names and one per kind of external object it declares. Never looked up by name, never read
from the store. Containers without a ``kedge.service`` label are not Kedge's and are left out.

Docker's container list carries state, health (in its ``Status`` text), image id and labels
but not the start time or restart count; ``inspect=True`` adds those with one inspect per
container, for callers that show status rather than plan (the planner needs neither).

Callers: ``controller.passes.run_command`` (observe → plan → execute), the controller's
status and drift checks, tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from kedge.planning import observed
from kedge.reconcilers import engine as engine_module
from kedge.reconcilers import parameters
from kedge.reconcilers.engine import Engine
from kedge.specs import labels
from kedge.specs.stack import StackSpec

__all__ = ["familiar_reference", "observe_stack", "parse_container"]

_EXIT = re.compile(r"^Exited \((-?\d+)\)")
_HEALTH = (
    ("(healthy)", "healthy"),
    ("(unhealthy)", "unhealthy"),
    ("(health: starting)", "starting"),
)
_STATES = frozenset({"created", "running", "restarting", "paused", "exited", "dead", "removing"})


def observe_stack(
    engine: Engine,
    stack: str,
    *,
    images: Iterable[str] = (),
    external_networks: Iterable[str] | None = None,
    external_volumes: Iterable[str] | None = None,
    inspect: bool = False,
) -> observed.ObservedStack:
    """Snapshot one stack: its containers, networks and volumes, and the images it names."""
    by_label = {"label": labels.stack_filter(stack)}
    containers = [c for c in map(parse_container, engine.list_containers(by_label)) if c]
    if inspect:
        containers = [_with_details(engine, c) for c in containers]
    refs = sorted({*images, *(c.image for c in containers if c.image)})
    return observed.ObservedStack(
        stack=stack,
        containers=tuple(sorted(containers, key=lambda c: (c.service, c.number, c.id))),
        networks=tuple(_parse_network(n) for n in engine.list_networks(by_label)),
        volumes=tuple(_parse_volume(v) for v in engine.list_volumes(by_label)),
        images=_resolve_images(engine, refs),
        external_networks=_existing(engine.list_networks, external_networks),
        external_volumes=_existing(engine.list_volumes, external_volumes),
    )


def parse_container(summary: Mapping[str, Any]) -> observed.ObservedContainer | None:
    """One entry of Docker's container list as an ``ObservedContainer`` (None if not Kedge's)."""
    found = dict(summary.get("Labels") or {})
    if labels.SERVICE not in found or labels.STACK not in found:
        return None
    status = str(summary.get("Status") or "")
    state = str(summary.get("State") or "created").lower()
    exit_match = _EXIT.match(status)
    mounts = summary.get("Mounts") or []
    return observed.ObservedContainer(
        id=str(summary["Id"]),
        name=str((summary.get("Names") or ["/"])[0]).lstrip("/"),
        stack=found[labels.STACK],
        service=found[labels.SERVICE],
        number=_as_int(found.get(labels.NUMBER)) or 1,
        version=_as_int(found.get(labels.VERSION)),
        config_hash=found.get(labels.CONFIG_HASH, ""),
        state=cast(observed.ContainerState, state if state in _STATES else "dead"),
        exit_code=int(exit_match.group(1)) if exit_match else None,
        health=next((h for text, h in _HEALTH if text in status), "none"),
        image=str(summary.get("Image") or ""),
        image_id=str(summary.get("ImageID") or ""),
        labels=found,
        networks=tuple(sorted((summary.get("NetworkSettings") or {}).get("Networks") or {})),
        volumes=tuple(sorted(m["Name"] for m in mounts if m.get("Type") == "volume")),
    )


def familiar_reference(ref: str) -> str:
    """An image reference as Docker lists it: no ``docker.io/library/``, ``:latest`` added."""
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
            break
    last = ref.rsplit("/", 1)[-1]
    if "@" not in ref and ":" not in last:
        ref += ":latest"
    return ref


def _resolve_images(engine: Engine, refs: list[str]) -> dict[str, str]:
    """Map each reference to the id of the local image it names now (one list call)."""
    wanted = [r for r in refs if not r.startswith("sha256:")]
    if not wanted:
        return {}
    tags: dict[str, str] = {}
    for image in engine.list_images():
        for tag in image.get("RepoTags") or []:
            tags[tag] = str(image["Id"])
        for digest in image.get("RepoDigests") or []:
            tags[digest] = str(image["Id"])
    return {r: tags[familiar_reference(r)] for r in wanted if familiar_reference(r) in tags}


def _existing(
    list_call: Callable[[engine_module.Filters], list[dict[str, Any]]],
    names: Iterable[str] | None,
) -> frozenset[str] | None:
    if names is None:
        return None
    wanted = set(names)
    if not wanted:
        return frozenset()
    # Docker's name filter matches substrings: keep exact names only
    found = {str(o["Name"]) for o in list_call({"name": sorted(wanted)})}
    return frozenset(found & wanted)


def _parse_network(summary: Mapping[str, Any]) -> observed.ObservedNetwork:
    found = dict(summary.get("Labels") or {})
    return observed.ObservedNetwork(
        id=str(summary["Id"]),
        name=str(summary["Name"]),
        config_hash=found.get(labels.CONFIG_HASH, ""),
        labels=found,
    )


def _parse_volume(summary: Mapping[str, Any]) -> observed.ObservedVolume:
    found = dict(summary.get("Labels") or {})
    return observed.ObservedVolume(
        name=str(summary["Name"]),
        config_hash=found.get(labels.CONFIG_HASH, ""),
        labels=found,
    )


def _with_details(
    engine: Engine, container: observed.ObservedContainer
) -> observed.ObservedContainer:
    details = engine.inspect_container(container.id)
    state = details.get("State") or {}
    return container.model_copy(
        update={
            "started_at": _as_time(state.get("StartedAt")),
            "finished_at": _as_time(state.get("FinishedAt")),
            "restart_count": int(details.get("RestartCount") or 0),
        }
    )


def _as_int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _as_time(text: str | None) -> datetime | None:
    if not text or text.startswith("0001-"):
        return None
    # Docker writes nanoseconds; Python's parser takes up to microseconds
    head, _, rest = text.partition(".")
    fraction = rest.rstrip("Z")[:6]
    return datetime.fromisoformat(f"{head}.{fraction or '0'}+00:00")


def observe_desired(engine: Engine, stack: str, spec: StackSpec | None) -> observed.ObservedStack:
    """Observe ``stack`` with the images and external objects its desired spec names, so that
    a plan made from it is the one a pass makes. Callers: ``controller.passes``, ``api.posted``.
    """
    if spec is None:
        return observe_stack(engine, stack)
    refs = [parameters.image_reference(spec, name) for name in sorted(spec.active_services)]
    return observe_stack(
        engine,
        stack,
        images=refs,
        external_networks=[spec.network_name(k) for k, n in spec.networks.items() if n.external],
        external_volumes=[spec.volume_name(k) for k, v in spec.volumes.items() if v.external],
    )
