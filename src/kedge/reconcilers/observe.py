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

``observe_all`` snapshots many stacks in one set of list calls (by Kedge's managed label) and
gives each stack the snapshot ``observe_desired`` would: the resync's constant cost.

Callers: ``reconcilers.preview`` (observe → plan, for a pass and every look), the controller's
status and drift checks (``observe_all``: the resync), tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, cast

from kedge.planning import observed
from kedge.reconcilers import engine as engine_module
from kedge.reconcilers import listing, parameters
from kedge.specs import labels
from kedge.specs.stack import StackSpec

__all__ = [
    "Lister",
    "observe_all",
    "observe_desired",
    "observe_stack",
    "parse_container",
    "probe_of",
]

_HEALTH = (
    ("(healthy)", "healthy"),
    ("(unhealthy)", "unhealthy"),
    ("(health: starting)", "starting"),
)
_STATES = frozenset({"created", "running", "restarting", "paused", "exited", "dead", "removing"})


def observe_stack(
    engine: Lister,
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
    engine: Lister, container: observed.ObservedContainer
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


def observe_desired(engine: Lister, stack: str, spec: StackSpec | None) -> observed.ObservedStack:
    """Observe ``stack`` with the images and external objects its desired spec names, so that
    a plan made from it is the one a pass makes. Callers: ``reconcilers.preview``.
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


class Lister(Protocol):
    """The engine's calls an observation makes: ``Engine``, or the lists of ``observe_all``."""

    def list_containers(self, filters: engine_module.Filters) -> list[dict[str, Any]]: ...
    def list_networks(self, filters: engine_module.Filters) -> list[dict[str, Any]]: ...
    def list_volumes(self, filters: engine_module.Filters) -> list[dict[str, Any]]: ...
    def list_images(self) -> list[dict[str, Any]]: ...
    def inspect_container(self, ref: str) -> dict[str, Any]: ...


def observe_all(
    engine: Lister, specs: Mapping[str, StackSpec | None]
) -> dict[str, observed.ObservedStack]:
    """Snapshot many stacks at once, each as ``observe_desired`` would (the same snapshot), in
    a constant number of calls: one list per kind of labelled object by Kedge's managed label,
    one image list, one list per kind of external object any spec names. A resync of a hundred
    stacks asks Docker six things, not four hundred. Caller: ``controller.resync``."""
    lists = _Listed(engine, specs.values())
    return {stack: observe_desired(lists, stack, spec) for stack, spec in specs.items()}


class _Listed:
    """Docker's lists of every managed object, made once and answered per stack: a label
    query for one stack gets its objects, a name query gets the one list by every name asked
    (``listing.existing`` keeps the exact names), the image list is made on first need."""

    def __init__(self, engine: Lister, specs: Iterable[StackSpec | None]) -> None:
        managed = {"label": labels.managed_filter()}
        self._engine = engine
        self._containers = _by_stack(engine.list_containers(managed))
        self._networks = _by_stack(engine.list_networks(managed))
        self._volumes = _by_stack(engine.list_volumes(managed))
        probes = [probe_of(spec) for spec in specs if spec is not None]
        self._names = {
            kind: sorted({name for probe in probes for name in probe[kind]})
            for kind in ("networks", "volumes")
        }
        self._found: dict[str, list[dict[str, Any]]] = {}

    def list_containers(self, filters: engine_module.Filters) -> list[dict[str, Any]]:
        return self._containers.get(_stack_of(filters), [])

    def list_networks(self, filters: engine_module.Filters) -> list[dict[str, Any]]:
        if "name" in filters:
            return self._once(
                "networks", lambda: self._engine.list_networks(self._by_name("networks"))
            )
        return self._networks.get(_stack_of(filters), [])

    def list_volumes(self, filters: engine_module.Filters) -> list[dict[str, Any]]:
        if "name" in filters:
            return self._once(
                "volumes", lambda: self._engine.list_volumes(self._by_name("volumes"))
            )
        return self._volumes.get(_stack_of(filters), [])

    def list_images(self) -> list[dict[str, Any]]:
        return self._once("images", self._engine.list_images)

    def inspect_container(self, ref: str) -> dict[str, Any]:
        return self._engine.inspect_container(ref)

    def _by_name(self, kind: str) -> engine_module.Filters:
        return {"name": self._names[kind]}

    def _once(self, kind: str, call: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        if kind not in self._found:
            self._found[kind] = call()
        return self._found[kind]


def _by_stack(summaries: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Docker's list entries grouped by their ``kedge.stack`` label, in Docker's order."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for summary in summaries:
        stack = (summary.get("Labels") or {}).get(labels.STACK)
        if stack is not None:
            grouped.setdefault(str(stack), []).append(dict(summary))
    return grouped


def _stack_of(filters: engine_module.Filters) -> str:
    """The stack a ``labels.stack_filter`` query names."""
    prefix = f"{labels.STACK}="
    return next(f.removeprefix(prefix) for f in filters["label"] if f.startswith(prefix))
