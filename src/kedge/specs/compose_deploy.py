"""``deploy`` and ``build`` of a service, in compose's long form.

``deploy``: Kedge carries out ``replicas``, ``resources`` (limits and reservations of cpus,
memory, pids, devices), ``restart_policy`` and ``labels``; ``mode``, ``endpoint_mode``,
``placement``, ``update_config`` and ``rollback_config`` are swarm keys that Docker Compose
accepts and ignores, and so does Kedge (update order is ``x-kedge.update``).
``build``: the short form (a context path) becomes ``Build(context=...)``; a relative context
is resolved against the project folder unless it is a URL. Used by ``compose_service``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kedge.specs.compose_base import (
    Bool,
    Bytes,
    ComposeModel,
    Duration,
    Float,
    Int,
    ListOrDict,
    StringOrNumber,
    resolve_path,
    to_dict,
)

__all__ = ["Build", "Deploy", "ServiceReference", "Ulimit", "expand_references", "to_ulimits"]


class DeviceRequest(ComposeModel):
    """A request for devices: a ``gpus`` entry, or (``DeviceReservation``) a reserved device."""

    capabilities: list[str] = []
    count: StringOrNumber | None = None  # a number or "all"
    device_ids: list[str] = []
    driver: str | None = None
    options: ListOrDict = {}

    @field_validator("count", mode="before")
    @classmethod
    def _count(cls, value: Any) -> Any:
        if isinstance(value, bool) or (
            isinstance(value, str) and value != "all" and not value.isdigit()
        ):
            raise ValueError(f"count must be a number or 'all', got {value!r}")
        return value


class DeviceReservation(DeviceRequest):
    """A device of ``deploy.resources.reservations``: compose requires its ``capabilities``."""

    capabilities: list[str]


def _memory(value: Any) -> Any:
    # compose's schema takes only a string here ("512M"), unlike mem_limit
    if not isinstance(value, str):
        raise ValueError(f"memory must be a string such as '512M', got {value!r}")
    return value


MemoryString = Annotated[Bytes, BeforeValidator(_memory), PlainSerializer(str, return_type=str)]


class DiscreteResource(ComposeModel):
    kind: str | None = None
    value: Float | None = None


class GenericResource(ComposeModel):
    discrete_resource_spec: DiscreteResource | None = None


class ResourceLimits(ComposeModel):
    cpus: Float | None = None
    memory: MemoryString | None = None
    pids: Int | None = None


class ResourceReservations(ComposeModel):
    cpus: Float | None = None
    memory: MemoryString | None = None
    generic_resources: list[GenericResource] = []
    devices: list[DeviceReservation] = []


class Resources(ComposeModel):
    limits: ResourceLimits | None = None
    reservations: ResourceReservations | None = None


class RestartPolicy(ComposeModel):
    condition: str | None = None  # none | on-failure | any
    delay: Duration | None = None
    max_attempts: Int | None = None
    window: Duration | None = None


class UpdateConfig(ComposeModel):
    parallelism: Int | None = None
    delay: Duration | None = None
    failure_action: str | None = None
    monitor: Duration | None = None
    max_failure_ratio: Float | None = None
    order: Literal["start-first", "stop-first"] | None = None


class PlacementPreference(ComposeModel):
    spread: str | None = None


class Placement(ComposeModel):
    constraints: list[str] = []
    preferences: list[PlacementPreference] = []
    max_replicas_per_node: Int | None = None


class Deploy(ComposeModel):
    mode: str | None = None
    endpoint_mode: str | None = None
    replicas: Int | None = None
    labels: ListOrDict = {}
    rollback_config: UpdateConfig | None = None
    update_config: UpdateConfig | None = None
    resources: Resources = Resources()
    restart_policy: RestartPolicy | None = None
    placement: Placement | None = None

    @field_validator("replicas")
    @classmethod
    def _check_replicas(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise ValueError(f"replicas must be 0 or more, got {value}")
        return value


class ServiceReference(ComposeModel):
    """A service's use of a secret or config (the long form; a bare name is ``source``)."""

    source: str
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None

    @field_validator("mode", mode="before")
    @classmethod
    def _octal(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"mode must be an octal number such as 0440, got {value}")
        if isinstance(value, str):
            try:
                return int(value, 8)
            except ValueError as exc:
                raise ValueError(f"mode {value!r} is not an octal number such as '0440'") from exc
        return value


def expand_references(value: Any) -> Any:
    """``secrets:``/``configs:`` of a service: bare names become ``{source: name}``."""
    if isinstance(value, list):
        return [{"source": v} if isinstance(v, str) else v for v in value]
    return value


class Ulimit(ComposeModel):
    soft: Int
    hard: Int


def to_ulimits(value: Any) -> Any:
    """A single number means the same soft and hard limit."""
    if isinstance(value, dict):
        return {
            k: {"soft": v, "hard": v} if isinstance(v, int | str) and not isinstance(v, bool) else v
            for k, v in value.items()
        }
    return value


class Build(ComposeModel):
    context: str = "."
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    args: ListOrDict = {}
    ssh: list[str] = []
    labels: ListOrDict = {}
    cache_from: list[str] = []
    cache_to: list[str] = []
    no_cache: Bool = False
    additional_contexts: ListOrDict = {}
    network: str | None = None
    provenance: StringOrNumber | None = None
    sbom: StringOrNumber | None = None
    pull: Bool = False
    target: str | None = None
    shm_size: Bytes | None = None
    extra_hosts: dict[str, list[str]] = {}
    isolation: str | None = None
    privileged: Bool = False
    secrets: list[ServiceReference] = []
    tags: list[str] = []
    ulimits: dict[str, Ulimit] = {}
    platforms: list[str] = []
    entitlements: list[str] = []

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"context": data}
        return data

    @field_validator("context")
    @classmethod
    def _resolve_context(cls, value: str, info: ValidationInfo) -> str:
        return value if is_remote(value) else resolve_path(value, info)

    @field_validator("ssh", mode="before")
    @classmethod
    def _ssh(cls, value: Any) -> Any:
        if isinstance(value, dict):
            value = [k if v is None else f"{k}={v}" for k, v in to_dict(value).items()]
        for item in value if isinstance(value, list) else ():
            if isinstance(item, str) and item != "default" and "=" not in item:
                raise ValueError(f"invalid ssh key {item!r}; write 'default' or 'ID=PATH'")
        return value

    @field_validator("additional_contexts", mode="before")
    @classmethod
    def _contexts(cls, value: Any) -> Any:
        for item in value if isinstance(value, list) else ():
            if isinstance(item, str) and "=" not in item:
                raise ValueError(f"invalid additional context {item!r}; write 'NAME=PATH'")
        return value

    @field_validator("provenance", "sbom", mode="before")
    @classmethod
    def _attestation(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"expected true, false or a string, got {value!r}")
        return value

    @field_validator("secrets", mode="before")
    @classmethod
    def _secrets(cls, value: Any) -> Any:
        return expand_references(value)

    @field_validator("ulimits", mode="before")
    @classmethod
    def _ulimits(cls, value: Any) -> Any:
        return to_ulimits(value)

    @field_validator("extra_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: Any) -> Any:
        return to_extra_hosts(value)


def is_remote(context: str) -> bool:
    """Whether a build context is a URL (git or http) rather than a local folder."""
    prefixes = ("http://", "https://", "git://", "github.com/", "git@", "ssh://")
    return context.startswith(prefixes) or ".git#" in context or context.endswith(".git")


def to_extra_hosts(value: Any) -> Any:
    """``extra_hosts`` as ``{host: [ip, ...]}`` from ``host:ip``/``host=ip`` items or a mapping."""
    if isinstance(value, list):
        hosts: dict[str, list[str]] = {}
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"extra_hosts items must be 'host:ip' strings, got {item!r}")
            separator = "=" if "=" in item else ":"
            host, found, ip = item.partition(separator)
            if not found or not host or not ip:
                raise ValueError(f"invalid extra host {item!r}; write 'host=ip' or 'host:ip'")
            hosts.setdefault(host, []).append(ip.strip("[]"))
        return hosts
    if isinstance(value, dict):
        return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
    return value
