"""Observe: what Docker has of one stack, as an ``ObservedStack`` (DESIGN.md, *Data flow*).

Everything is found through Kedge's labels in a constant number of list calls filtered by
``kedge.stack`` — containers, networks, volumes — plus one call for the images the stack
names and one per kind of external object it declares. Never looked up by name, never read
from the store. Containers without a ``kedge.service`` label are not Kedge's and are left out.

Docker's container list carries state, health (in its ``Status`` text), image id and labels
but not the start time or restart count; ``inspect=True`` adds those with one inspect per
container, for callers that show status rather than plan (the planner needs neither).

The parsing of the list answers, and the stack's fingerprint, are ``reconcilers.listing``'s,
shared with ``kedge up``'s fast path (``reconcilers.peek``).

Callers: ``controller.passes.run_command`` (observe → plan → execute), the controller's
status and drift checks, tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from kedge.planning import observed
from kedge.reconcilers import engine as engine_module
from kedge.reconcilers import listing, parameters
from kedge.reconcilers.engine import Engine
from kedge.specs import labels
from kedge.specs.stack import StackSpec

__all__ = ["observe_desired", "observe_stack", "parse_container", "probe_of"]

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
    found = [(s, f) for s in engine.list_containers(by_label) if (f := listing.container_facts(s))]
    raw = [facts for _, facts in found]
    networks = engine.list_networks(by_label)
    volumes = engine.list_volumes(by_label)
    refs = listing.wanted_images(images, raw)
    resolved, built = listing.resolve_images(engine.list_images(), refs) if refs else ({}, {})
    found_networks = _existing(engine.list_networks, external_networks)
    found_volumes = _existing(engine.list_volumes, external_volumes)
    containers = [_container(facts, _health(summary)) for summary, facts in found]
    if inspect:
        containers = [_with_details(engine, c) for c in containers]
    return observed.ObservedStack(
        stack=stack,
        containers=tuple(sorted(containers, key=lambda c: (c.service, c.number, c.id))),
        networks=tuple(_parse_network(n) for n in networks),
        volumes=tuple(_parse_volume(v) for v in volumes),
        images=resolved,
        built=built,
        external_networks=found_networks,
        external_volumes=found_volumes,
        fingerprint=listing.fingerprint(
            raw,
            networks,
            volumes,
            resolved,
            built=built,
            external_networks=found_networks,
            external_volumes=found_volumes,
        ),
    )


def parse_container(summary: Mapping[str, Any]) -> observed.ObservedContainer | None:
    """One entry of Docker's container list as an ``ObservedContainer`` (None if not Kedge's)."""
    facts = listing.container_facts(summary)
    if facts is None:
        return None
    return _container(facts, _health(summary))


def _health(summary: Mapping[str, Any]) -> observed.ContainerHealth:
    """The health Docker's list gives in its ``Status`` text ("none" without a check)."""
    status = str(summary.get("Status") or "")
    return cast(observed.ContainerHealth, next((h for t, h in _HEALTH if t in status), "none"))


def _container(
    facts: Mapping[str, Any], health: observed.ContainerHealth
) -> observed.ObservedContainer:
    found = facts["labels"]
    state = facts["state"]
    return observed.ObservedContainer(
        id=facts["id"],
        name=facts["name"],
        stack=found[labels.STACK],
        service=found[labels.SERVICE],
        number=_as_int(found.get(labels.NUMBER)) or 1,
        version=_as_int(found.get(labels.VERSION)),
        config_hash=found.get(labels.CONFIG_HASH, ""),
        state=cast(observed.ContainerState, state if state in _STATES else "dead"),
        exit_code=facts["exit_code"],
        health=health,
        image=facts["image"],
        image_id=facts["image_id"],
        labels=found,
        networks=tuple(facts["networks"]),
        volumes=tuple(facts["volumes"]),
        anonymous=tuple((target, name) for target, name in facts["anonymous"]),
    )


def _existing(
    list_call: Callable[[engine_module.Filters], list[dict[str, Any]]],
    names: Iterable[str] | None,
) -> frozenset[str] | None:
    if names is None:
        return None
    wanted = set(names)
    if not wanted:
        return frozenset()
    return listing.existing(list_call({"name": sorted(wanted)}), wanted)


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
            "started_at": listing.as_time(state.get("StartedAt")),
            "finished_at": listing.as_time(state.get("FinishedAt")),
            "restart_count": int(details.get("RestartCount") or 0),
        }
    )


def _as_int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def probe_of(spec: StackSpec) -> dict[str, list[str]]:
    """What observing ``spec``'s stack asks besides its labelled objects: the image references
    of its services and its external networks and volumes (``listing.Probe``)."""
    return {
        "images": [parameters.image_reference(spec, name) for name in sorted(spec.active_services)],
        "networks": [spec.network_name(k) for k, n in spec.networks.items() if n.external],
        "volumes": [spec.volume_name(k) for k, v in spec.volumes.items() if v.external],
    }


def observe_desired(engine: Engine, stack: str, spec: StackSpec | None) -> observed.ObservedStack:
    """Observe ``stack`` with the images and external objects its desired spec names, so that
    a plan made from it is the one a pass makes. Callers: ``controller.passes``, ``api.posted``.
    """
    if spec is None:
        return observe_stack(engine, stack)
    probe = probe_of(spec)
    return observe_stack(
        engine,
        stack,
        images=probe["images"],
        external_networks=probe["networks"],
        external_volumes=probe["volumes"],
    )
