"""Docker create parameters from the compose model: the bodies of the Engine API calls.

A ``Service`` in canonical form becomes a container create body (``Config`` with
``HostConfig`` and ``NetworkingConfig``), a top-level ``Network`` a network create body and a
``Volume`` a volume create body, each carrying Kedge's labels (DESIGN.md, *Labels*). Docker
API 1.41 attaches a container to one network at create time, so the others are returned as
``ContainerParams.connect`` for the container reconciler to attach before the start.

Resource settings and other host-side keys live in ``parameters_host``. Keys that the model
accepts but Kedge does not carry out yet raise ``PlanError`` naming the key.

Compose's own ``com.docker.compose.*`` labels are deliberately not added: with them, a
``docker compose`` project of the same name would adopt (and recreate or remove) Kedge's
containers, and two controllers would fight over one stack.

Callers: ``reconcilers.executor`` (create actions); tests of the mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kedge.errors import PlanError
from kedge.planning import desired, waves
from kedge.reconcilers import parameters_host
from kedge.specs import labels
from kedge.specs.compose import Healthcheck, Service, ServiceNetwork
from kedge.specs.stack import StackSpec

__all__ = [
    "ContainerParams",
    "container_params",
    "endpoints_of",
    "image_reference",
    "network_body",
    "object_labels",
    "volume_body",
]

NANOS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ContainerParams:
    """What creating one container takes: its create body and the networks to attach after."""

    name: str
    body: dict[str, Any]
    connect: tuple[tuple[str, dict[str, Any]], ...] = field(default=())
    platform: str | None = None


def object_labels(
    stack: str, *, version: int | None, command: int | None, config_hash: str | None
) -> dict[str, str]:
    """The labels every object Kedge creates carries."""
    found = {labels.MANAGED: "true", labels.STACK: stack}
    if version is not None:
        found[labels.VERSION] = str(version)
    if command is not None:
        found[labels.COMMAND] = str(command)
    if config_hash:
        found[labels.CONFIG_HASH] = config_hash
    return found


def image_reference(spec: StackSpec, service: str) -> str:
    """The image a service runs: its ``image``, else compose's ``<stack>-<service>`` build tag."""
    declared = spec.services[service].image
    return declared or f"{spec.name}-{service}"


def container_params(
    spec: StackSpec,
    service: str,
    *,
    number: int,
    name: str,
    kedge_labels: Mapping[str, str],
    aliases: bool = True,
    all_networks: bool = False,
) -> ContainerParams:
    """The create body of replica ``number`` of ``service``, named ``name``.

    ``all_networks`` (Docker API 1.44+) puts every network in the create body, as compose
    does; older daemons take one, and ``ContainerParams.connect`` lists the others.
    ``aliases=False`` leaves the service's network aliases out, so that Docker's DNS does not
    name the container by its service yet (the new copy of a start-first update, until it is
    healthy; ``endpoints`` gives them for the re-attachment).
    """
    svc = spec.services[service]
    must_be_carried_out(svc, service=service)
    own = {
        **kedge_labels,
        labels.SERVICE: service,
        labels.NUMBER: str(number),
        waves.DEPENDS_ON_LABEL: desired.depends_on_label(spec, service),
    }
    body: dict[str, Any] = {
        "Image": image_reference(spec, service),
        "Labels": {**{k: v or "" for k, v in svc.labels.items()}, **own},
        # a name without a value (unset where the spec was loaded) goes as a bare name, as
        # compose sends it: Docker then removes the image's value, not keeps it
        "Env": [k if v is None else f"{k}={v}" for k, v in sorted(svc.environment.items())],
        "ExposedPorts": _exposed_ports(svc),
        "Tty": svc.tty,
        "OpenStdin": svc.stdin_open,
        "HostConfig": parameters_host.host_config(spec, svc, service=service),
    }
    body.update(_optional_config(svc))
    endpoints = endpoints_of(spec, service)
    if endpoints:  # on user networks, links live in each endpoint (endpoints_of)
        body["HostConfig"].pop("Links", None)
    if not aliases:
        endpoints = [(net, {**e, "Aliases": []}) for net, e in endpoints]
    if endpoints and all_networks:  # Docker API 1.44+ takes every network at create
        body["NetworkingConfig"] = {"EndpointsConfig": dict(endpoints)}
        body["HostConfig"]["NetworkMode"] = endpoints[0][0]
        return ContainerParams(name, body, platform=svc.platform)
    if endpoints:
        first, *rest = endpoints
        body["NetworkingConfig"] = {"EndpointsConfig": {first[0]: first[1]}}
        body["HostConfig"]["NetworkMode"] = first[0]
        return ContainerParams(name, body, connect=tuple(rest), platform=svc.platform)
    return ContainerParams(name, body, platform=svc.platform)


def _optional_config(svc: Service) -> dict[str, Any]:
    found: dict[str, Any] = {
        "Cmd": svc.command,
        "Entrypoint": svc.entrypoint,
        "WorkingDir": svc.working_dir,
        "User": svc.user,
        "Hostname": svc.hostname,
        "Domainname": svc.domainname,
        "MacAddress": svc.mac_address,
        "StopSignal": svc.stop_signal,
        "StopTimeout": (
            int(svc.stop_grace_period.total_seconds()) if svc.stop_grace_period else None
        ),
        "Healthcheck": _healthcheck(svc.healthcheck) if svc.healthcheck else None,
    }
    return {k: v for k, v in found.items() if v is not None}


def _healthcheck(check: Healthcheck) -> dict[str, Any]:
    found: dict[str, Any] = {"Test": list(check.test)}
    for key, value in (
        ("Interval", check.interval),
        ("Timeout", check.timeout),
        ("StartPeriod", check.start_period),
        ("StartInterval", check.start_interval),
    ):
        if value is not None:
            found[key] = int(value.total_seconds() * NANOS)
    if check.retries is not None:
        found["Retries"] = check.retries
    return found


def _exposed_ports(svc: Service) -> dict[str, dict[str, Any]]:
    ports: dict[str, dict[str, Any]] = {}
    for port in svc.ports:
        ports[f"{port.target}/{port.protocol}"] = {}
    for text in svc.expose:
        number, _, protocol = str(text).partition("/")
        first, _, last = number.partition("-")
        for value in range(int(first), int(last or first) + 1):
            ports[f"{value}/{protocol or 'tcp'}"] = {}
    return ports


def endpoints_of(spec: StackSpec, service: str) -> list[tuple[str, dict[str, Any]]]:
    """The service's networks as (Docker name, EndpointSettings), the primary one first.

    Each endpoint carries the service's links: Docker reads ``HostConfig.Links`` on the
    default bridge only.
    """
    svc = spec.services[service]
    if svc.network_mode is not None:
        return []
    ordered = sorted(svc.networks.items(), key=lambda kv: (-(kv[1].priority or 0), kv[0]))
    found = [(spec.network_name(key), _endpoint(net, service=service)) for key, net in ordered]
    linked = parameters_host.links(spec, svc)
    return [(name, {**e, "Links": linked}) for name, e in found] if linked else found


def _endpoint(net: ServiceNetwork, *, service: str) -> dict[str, Any]:
    found: dict[str, Any] = {"Aliases": [service, *(a for a in net.aliases if a != service)]}
    ipam = {
        "IPv4Address": net.ipv4_address,
        "IPv6Address": net.ipv6_address,
        "LinkLocalIPs": list(net.link_local_ips) or None,
    }
    ipam = {k: v for k, v in ipam.items() if v}
    if ipam:
        found["IPAMConfig"] = ipam
    if net.mac_address:
        found["MacAddress"] = net.mac_address
    if net.driver_opts:
        found["DriverOpts"] = {k: v or "" for k, v in net.driver_opts.items()}
    return found


def network_body(spec: StackSpec, key: str, *, kedge_labels: Mapping[str, str]) -> dict[str, Any]:
    """The create body of network ``key`` of the stack."""
    net = spec.networks[key]
    if net.enable_ipv4 is False:
        raise PlanError(f"networks.{key}.enable_ipv4: false is not carried out by Kedge yet")
    body: dict[str, Any] = {
        "Driver": net.driver or "bridge",
        "Options": {k: v or "" for k, v in net.driver_opts.items()},
        "Internal": net.internal,
        "EnableIPv6": bool(net.enable_ipv6),
        "Attachable": net.attachable,
        "Labels": {**{k: v or "" for k, v in net.labels.items()}, **kedge_labels},
    }
    if net.ipam is not None:
        body["IPAM"] = {
            "Driver": net.ipam.driver or "default",
            "Config": [
                {
                    k: v
                    for k, v in {
                        "Subnet": pool.subnet,
                        "IPRange": pool.ip_range,
                        "Gateway": pool.gateway,
                        "AuxiliaryAddresses": pool.aux_addresses or None,
                    }.items()
                    if v
                }
                for pool in net.ipam.config
            ],
            "Options": dict(net.ipam.options),
        }
    return body


def volume_body(spec: StackSpec, key: str, *, kedge_labels: Mapping[str, str]) -> dict[str, Any]:
    """The create body of volume ``key`` of the stack."""
    vol = spec.volumes[key]
    return {
        "Driver": vol.driver or "local",
        "DriverOpts": {k: v or "" for k, v in vol.driver_opts.items()},
        "Labels": {**{k: v or "" for k, v in vol.labels.items()}, **kedge_labels},
    }


_NOT_YET = {
    "post_start": "lifecycle hooks (post_start) are not carried out by Kedge yet",
    "pre_stop": "lifecycle hooks (pre_stop) are not carried out by Kedge yet",
}


def must_be_carried_out(svc: Service, *, service: str) -> None:
    """Raise ``PlanError`` naming the first key of the service Kedge cannot carry out yet."""
    for key, why in _NOT_YET.items():
        if getattr(svc, key):
            raise PlanError(f"services.{service}.{key}: {why}; remove it")
    parameters_host.must_be_carried_out(svc, service=service)
