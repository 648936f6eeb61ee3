"""Cross-field rules of a stack: what one model alone cannot see.

The rules are compose-go's consistency checks (``checkConsistency``: image or build, undefined
services, networks, volumes, secrets and configs, ``depends_on`` cycles, ``network_mode`` vs
``networks``, ``container_name`` with several replicas, values set twice that differ), plus
Kedge's own: a host port published twice, and keys Kedge cannot carry out
(``compose.REJECTED_KEYS``). As in compose, services disabled by ``profiles`` are not checked.
``check`` is pure; the loader locates each problem in the file. Called by
``kedge.specs.loader``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from kedge.errors import Location, SpecError
from kedge.specs import labels as labels_module
from kedge.specs.compose import REJECTED_KEYS
from kedge.specs.compose_ports import PortMapping
from kedge.specs.compose_service import Service
from kedge.specs.stack import StackSpec

__all__ = ["Problem", "check", "find_cycle"]

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule: where (a field path), what, and how to fix it.

    ``related`` is the path of another node the problem involves (the first of two that clash);
    the error names its file:line:column too.
    """

    path: Path
    message: str
    hint: str = ""
    related: Path | None = field(default=None, kw_only=True)

    def to_error(self, locate: Callable[[Sequence[str | int]], Location]) -> SpecError:
        message = self.message
        if self.related is not None:
            other = locate(self.related)
            message += f" at {other.render()} ({other.path})"
        return SpecError(message, location=locate(self.path), hint=self.hint)


def check(spec: StackSpec) -> list[Problem]:
    """Every broken rule of ``spec``, services in file order."""
    problems: list[Problem] = []
    active = spec.active_services
    suggest = _Suggestions(known_services=list(active))
    for name, service in active.items():
        problems.extend(_check_service(spec, name, service, suggest=suggest))
    problems.extend(_check_secrets(spec))
    problems.extend(_check_ports(active))
    problems.extend(_check_container_names(active))
    cycle = find_cycle({n: list(s.depends_on) for n, s in active.items()})
    if cycle:
        problems.append(
            Problem(
                ("services", cycle[0], "depends_on"),
                f"dependency cycle detected: {' -> '.join(cycle)}",
                "remove one of these depends_on entries",
            )
        )
    if spec.models:
        problems.append(Problem(("models",), "'models' is not supported", REJECTED_KEYS["models"]))
    return problems


def _check_container_names(services: dict[str, Service]) -> Iterator[Problem]:
    owners: dict[str, str] = {}
    for name, service in services.items():
        if not service.container_name:
            continue
        owner = owners.setdefault(service.container_name, name)
        if owner != name:
            yield Problem(
                ("services", name, "container_name"),
                f"container name {service.container_name!r} is already used by service {owner!r}",
                "give each service its own container_name",
            )


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A depends_on cycle as a path that ends where it starts (``a -> b -> a``), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in graph:
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(graph.get(start, [])))]
        if state.get(start):
            continue
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                path = [n for n, _ in stack]
                return [*path[path.index(child) :], child]
            elif child in graph and not state.get(child):
                state[child] = 1
                stack.append((child, iter(graph[child])))
    return None


def _check_service(
    spec: StackSpec, name: str, service: Service, *, suggest: _Suggestions
) -> Iterator[Problem]:
    at: Path = ("services", name)
    if not service.image and service.build is None:
        yield Problem(
            at,
            f"service {name!r} has neither an image nor a build context",
            "add 'image:' or 'build:'",
        )
    yield from _check_references(spec, name, service, suggest=suggest)
    deploy_labels = service.deploy.labels if service.deploy else {}
    yield from _check_labels((*at, "labels"), service.labels)
    yield from _check_labels((*at, "deploy", "labels"), deploy_labels)
    yield from _check_twice_set(name, service)
    yield from _check_rejected(name, service)
    if service.build is not None:
        build = service.build
        yield from _check_labels((*at, "build", "labels"), build.labels)
        if build.dockerfile and build.dockerfile_inline:
            yield Problem(
                (*at, "build"),
                "dockerfile and dockerfile_inline are mutually exclusive",
                "keep one of them",
            )
        if build.platforms and service.platform and service.platform not in build.platforms:
            yield Problem(
                (*at, "build", "platforms"),
                f"build.platforms must include the service's platform {service.platform!r}",
                "add it to build.platforms",
            )
    if service.container_name and service.replicas > 1:
        yield Problem(
            (*at, "container_name"),
            f"container_name is set but the service runs {service.replicas} replicas",
            "a container name must be unique: remove container_name or run one replica",
        )
    if service.develop is not None:
        for index, rule in enumerate(service.develop.watch):
            if not rule.path:
                yield Problem(
                    (*at, "develop", "watch", index, "path"),
                    "develop.watch: path can't be blank",
                    "name a folder or file to watch",
                )
            if rule.action != "rebuild" and not rule.target:
                yield Problem(
                    (*at, "develop", "watch", index),
                    "develop.watch: target is required for non-rebuild actions",
                    "add 'target:'",
                )


def _check_references(
    spec: StackSpec, name: str, service: Service, *, suggest: _Suggestions
) -> Iterator[Problem]:
    at: Path = ("services", name)
    for dependency, condition in service.depends_on.items():
        target = spec.services.get(dependency)
        if target is None or (target.profiles and condition.required):
            yield Problem(
                (*at, "depends_on", dependency),
                f"service {name!r} depends on undefined service {dependency!r}",
                suggest(dependency, suggest.known_services) or "define it under 'services'",
            )
    if service.network_mode and service.networks:
        yield Problem(
            (*at, "network_mode"),
            f"service {name!r} declares mutually exclusive 'network_mode' and 'networks'",
            "remove one of them",
        )
    mode = service.network_mode or ""
    if mode.startswith("service:") and mode.removeprefix("service:") not in spec.services:
        yield Problem(
            (*at, "network_mode"),
            f"service {mode.removeprefix('service:')!r} not found for network_mode {mode!r}",
            "name a service of this stack",
        )
    for network in service.networks:
        if network not in spec.networks:
            yield Problem(
                (*at, "networks", network),
                f"service {name!r} refers to undefined network {network!r}",
                suggest(network, spec.networks) or "define it under top-level 'networks'",
            )
    for index, mount in enumerate(service.volumes):
        if mount.type == "volume" and mount.source and mount.source not in spec.volumes:
            yield Problem(
                (*at, "volumes", index),
                f"service {name!r} refers to undefined volume {mount.source!r}",
                suggest(mount.source, spec.volumes)
                or "define it under top-level 'volumes', or use './path' for a bind mount",
            )
    for kind, refs, defined in (
        ("secret", service.secrets, spec.secrets),
        ("config", service.configs, spec.configs),
        ("build secret", service.build.secrets if service.build else [], spec.secrets),
    ):
        for index, ref in enumerate(refs):
            if ref.source not in defined:
                key = "configs" if kind == "config" else "secrets"
                where = (
                    (*at, "build", key, index) if kind.startswith("build") else (*at, key, index)
                )
                yield Problem(
                    where,
                    f"service {name!r} refers to undefined {kind} {ref.source!r}",
                    suggest(ref.source, defined) or f"define it under top-level '{key}'",
                )


def _check_twice_set(name: str, service: Service) -> Iterator[Problem]:
    """Values compose lets you write twice, which must then agree."""
    limits = service.deploy.resources.limits if service.deploy else None
    reservations = service.deploy.resources.reservations if service.deploy else None
    pairs = (
        ("cpus", service.cpus, "deploy.resources.limits.cpus", limits and limits.cpus),
        (
            "mem_limit",
            service.mem_limit,
            "deploy.resources.limits.memory",
            limits and limits.memory,
        ),
        ("pids_limit", service.pids_limit, "deploy.resources.limits.pids", limits and limits.pids),
        (
            "mem_reservation",
            service.mem_reservation,
            "deploy.resources.reservations.memory",
            reservations and reservations.memory,
        ),
    )
    for key, value, other, other_value in pairs:
        if value and other_value is not None and value != other_value:
            yield Problem(
                ("services", name, key),
                f"'{key}' and '{other}' are set to different values",
                "keep one of them",
            )


def _check_rejected(name: str, service: Service) -> Iterator[Problem]:
    at: Path = ("services", name)
    if service.provider is not None:
        yield Problem((*at, "provider"), "'provider' is not supported", REJECTED_KEYS["provider"])
    if service.models:
        yield Problem((*at, "models"), "'models' is not supported", REJECTED_KEYS["models"])
    if service.use_api_socket:
        yield Problem(
            (*at, "use_api_socket"),
            "'use_api_socket' is not supported",
            REJECTED_KEYS["use_api_socket"],
        )


def _check_labels(at: Path, labels: dict[str, str | None]) -> Iterator[Problem]:
    """Kedge's rule: ``kedge.*`` labels are Kedge's; observed state is read from them."""
    reserved = sorted(k for k in labels if k.startswith(labels_module.PREFIX))
    if reserved:
        yield Problem(
            at,
            f"the label {reserved[0]!r} is reserved for Kedge",
            f"rename it: Kedge finds the objects it manages by their '{labels_module.PREFIX}*'"
            " labels",
        )


def _check_secrets(spec: StackSpec) -> Iterator[Problem]:
    """Secrets, configs and external volumes, as compose-go's ``validation`` package."""
    for name, secret in spec.secrets.items():
        sources = [k for k in ("file", "environment") if getattr(secret, k)]
        if len(sources) > 1:
            yield Problem(
                ("secrets", name),
                "file|environment attributes are mutually exclusive",
                "keep one of them",
            )
        elif not sources and not secret.external:
            yield Problem(
                ("secrets", name),
                f"secret {name!r} must declare either 'file' or 'environment'",
                "add 'file: ./path' or 'environment: VAR', or mark it 'external: true'",
            )
    for name, config in spec.configs.items():
        sources = [k for k in ("file", "environment", "content") if getattr(config, k) is not None]
        if len(sources) > 1:
            yield Problem(
                ("configs", name),
                "file|environment|content attributes are mutually exclusive",
                "keep one of them",
            )
        elif not sources and not config.external:
            yield Problem(
                ("configs", name),
                f"config {name!r}: one of file|environment|content must be set",
                "add 'file: ./path', 'content: ...' or 'environment: VAR'",
            )
    for kind, objects in (("networks", spec.networks), ("volumes", spec.volumes)):
        for name, obj in objects.items():
            yield from _check_labels((kind, name, "labels"), obj.labels)
    for name, volume in spec.volumes.items():
        conflicts = [k for k in ("driver", "driver_opts", "labels") if getattr(volume, k)]
        if volume.external and conflicts:
            yield Problem(
                ("volumes", name, conflicts[0]),
                f'volumes.{name}: conflicting parameters "external" and "{conflicts[0]}" specified',
                "an external volume exists already: remove the other keys or 'external'",
            )


def _check_ports(services: dict[str, Service]) -> Iterator[Problem]:
    """Kedge's rule: one host port (per host IP and protocol) is published once in a stack.

    Each published port is looked up in an index of the ports seen before it, keyed by
    (protocol, host port), so the check is linear in the number of ports. A duplicate is
    reported once, naming the first mapping it clashes with.
    """
    seen: dict[tuple[str, int], _PortOwners] = {}
    order = 0
    for name, service in services.items():
        for index, port in enumerate(service.ports):
            host_port = _single_host_port(port)
            if host_port is None:
                continue
            path: Path = ("services", name, "ports", index)
            owners = seen.setdefault((port.protocol, host_port), _PortOwners())
            first = owners.clash(port.host_ip)
            if first is not None:
                yield Problem(
                    path,
                    f"host port {host_port}/{port.protocol} is published twice, also by service"
                    f" {first[1]!r}",
                    "publish a different host port, or leave 'published' out for a random one",
                    related=first,
                )
            order += 1
            owners.add(port.host_ip, (order, path))


_WILDCARD = (None, "0.0.0.0", "::")

_Owner = tuple[int, Path]  # (order in the file, path)


@dataclass(slots=True)
class _PortOwners:
    """The first mappings that published one (protocol, host port): the first of all, the
    first on every address (a wildcard host IP), and the first on each host IP."""

    first: _Owner | None = None
    wildcard: _Owner | None = None
    by_ip: dict[str, _Owner] = field(default_factory=dict)

    def clash(self, host_ip: str | None) -> Path | None:
        """The first earlier mapping that binds the port on an address ``host_ip`` shares."""
        if host_ip in _WILDCARD:
            found = self.first
        else:
            candidates = [o for o in (self.wildcard, self.by_ip.get(host_ip or "")) if o]
            found = min(candidates) if candidates else None
        return found[1] if found else None

    def add(self, host_ip: str | None, owner: _Owner) -> None:
        self.first = self.first or owner
        if host_ip in _WILDCARD:
            self.wildcard = self.wildcard or owner
        else:
            self.by_ip.setdefault(host_ip or "", owner)


def _single_host_port(port: PortMapping) -> int | None:
    """The one host port a mapping binds; None when it publishes none, a random one (0), or
    picks one free port of a host range."""
    ports = port.host_ports()
    if len(ports) != 1 or ports[0] == 0:
        return None
    return ports[0]


class _Suggestions:
    """'did you mean' hints for the first few unknown names of a stack only: each compares the
    name with every known one, so hints for hundreds of typos would take quadratic time."""

    def __init__(self, *, known_services: list[str], budget: int = 20) -> None:
        self.known_services = known_services
        self.left = budget

    def __call__(self, name: str, known: Iterable[str]) -> str:
        if self.left <= 0:
            return ""
        self.left -= 1
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
        return f"did you mean {close[0]!r}?" if close else ""
