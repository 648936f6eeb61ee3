"""A compose service in canonical form: every short syntax turned into its long form.

``command``/``entrypoint`` are argument lists (a string is split as a shell would),
``environment``/``labels``/``sysctls`` are mappings, ``ports`` and ``volumes`` long-form lists,
``depends_on`` and ``networks`` mappings (a service without ``networks`` or ``network_mode``
joins ``default``, as in compose), ``healthcheck.test`` a list starting with ``CMD``,
``CMD-SHELL`` or ``NONE``, ``scale`` folded into ``deploy.replicas``, durations ``timedelta``
and sizes bytes. Which keys the reconcilers carry out is listed in ``kedge.specs.compose``.
Its parts live in ``compose_parts``. Used by ``kedge.specs.stack.StackSpec``; read by the
planner and the container reconciler.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from kedge.specs.compose_base import (
    NAME_PATTERN,
    Bool,
    Bytes,
    ComposeModel,
    DedupedList,
    Duration,
    Float,
    Int,
    ListOrDict,
    StringList,
    StringOrNumber,
    UniqueList,
    dedupe_items,
    unique_items,
)
from kedge.specs.compose_deploy import (
    Build,
    Deploy,
    DeviceRequest,
    ServiceReference,
    Ulimit,
    expand_references,
    to_extra_hosts,
    to_ulimits,
)
from kedge.specs.compose_parts import (
    BlkioConfig,
    Command,
    CredentialSpec,
    DependsOn,
    Develop,
    DeviceMapping,
    EnvFile,
    Healthcheck,
    Logging,
    ModelUse,
    Provider,
    ServiceHook,
    ServiceNetwork,
    parse_device,
)
from kedge.specs.compose_ports import PortMapping, expand_ports
from kedge.specs.compose_volumes import ServiceMount, expand_mounts
from kedge.specs.options import ServiceOptions

__all__ = [
    "DependsOn",
    "Healthcheck",
    "Logging",
    "Service",
    "ServiceNetwork",
]

_CONTAINER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
_PULL_POLICY = re.compile(
    r"always|never|build|if_not_present|missing|refresh|daily|weekly|every_([0-9]+[wdhms])+"
)


class Service(ComposeModel):
    """One service of a stack, in canonical form (see the module docstring)."""

    nullable = frozenset({"command", "entrypoint", "pid", "deploy", "develop"})

    image: str | None = None
    build: Build | None = None
    command: Command = None
    entrypoint: Command = None
    environment: ListOrDict = {}
    env_file: list[EnvFile] = []
    label_file: StringList = []
    ports: list[PortMapping] = []
    expose: list[StringOrNumber] = []
    volumes: list[ServiceMount] = []
    volumes_from: UniqueList = []
    tmpfs: StringList = []
    networks: dict[str, ServiceNetwork] = {}
    network_mode: str | None = None
    depends_on: dict[str, DependsOn] = {}
    healthcheck: Healthcheck | None = None
    restart: str | None = None
    labels: ListOrDict = {}
    annotations: ListOrDict = {}
    working_dir: str | None = None
    user: str | None = None
    hostname: str | None = None
    domainname: str | None = None
    mac_address: str | None = None
    extra_hosts: dict[str, list[str]] = {}
    container_name: str | None = None
    deploy: Deploy | None = None
    scale: Int | None = Field(default=None, ge=0)
    mem_limit: Bytes | None = None
    mem_reservation: Bytes | None = None
    mem_swappiness: Int | None = None
    memswap_limit: Bytes | None = None
    shm_size: Bytes | None = None
    cpus: Float | None = None
    cpu_count: Int | None = Field(default=None, ge=0)
    cpu_percent: Int | None = Field(default=None, ge=0, le=100)
    cpu_shares: Int | None = None
    cpu_quota: Int | None = None
    cpu_period: Int | None = None
    cpu_rt_period: StringOrNumber | None = None
    cpu_rt_runtime: StringOrNumber | None = None
    cpuset: str | None = None
    pids_limit: Int | None = None
    blkio_config: BlkioConfig | None = None
    cap_add: DedupedList = []
    cap_drop: DedupedList = []
    cgroup: Literal["host", "private"] | None = None
    cgroup_parent: str | None = None
    devices: list[DeviceMapping] = []
    device_cgroup_rules: UniqueList = []
    gpus: Literal["all"] | list[DeviceRequest] | None = None
    sysctls: ListOrDict = {}
    ulimits: dict[str, Ulimit] = {}
    read_only: Bool = False
    init: Bool | None = None
    privileged: Bool = False
    stdin_open: Bool = False
    tty: Bool = False
    platform: str | None = None
    stop_signal: str | None = None
    stop_grace_period: Duration | None = None
    logging: Logging | None = None
    dns: StringList = []
    dns_opt: DedupedList = []
    dns_search: StringList = []
    ipc: str | None = None
    pid: str | None = None
    uts: str | None = None
    userns_mode: str | None = None
    isolation: str | None = None
    runtime: str | None = None
    security_opt: UniqueList = []
    storage_opt: dict[str, Any] = {}
    oom_kill_disable: Bool | None = None
    oom_score_adj: Int | None = None
    group_add: list[StringOrNumber] = []
    links: DedupedList = []
    external_links: UniqueList = []
    credential_spec: CredentialSpec | None = None
    secrets: list[ServiceReference] = []
    configs: list[ServiceReference] = []
    profiles: DedupedList = []
    pull_policy: str | None = None
    pull_refresh_after: str | None = None
    post_start: list[ServiceHook] = []
    pre_stop: list[ServiceHook] = []
    attach: Bool = True
    develop: Develop | None = None
    use_api_socket: Bool = False
    provider: Provider | None = None
    models: dict[str, ModelUse] = {}
    x_kedge: ServiceOptions = Field(default_factory=ServiceOptions, alias="x-kedge")

    @field_validator("ports", mode="before")
    @classmethod
    def _ports(cls, value: Any) -> Any:
        return expand_ports(dedupe_items(value))

    @field_validator("volumes", mode="before")
    @classmethod
    def _volumes(cls, value: Any) -> Any:
        return expand_mounts(dedupe_items(value))

    @field_validator("secrets", "configs", mode="before")
    @classmethod
    def _references(cls, value: Any) -> Any:
        return expand_references(value)

    @field_validator("env_file", mode="before")
    @classmethod
    def _env_file(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            return [{"path": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("group_add", mode="before")
    @classmethod
    def _unique(cls, value: Any) -> Any:
        return unique_items(value)

    @field_validator("expose", mode="before")
    @classmethod
    def _deduped(cls, value: Any) -> Any:
        return dedupe_items(value)

    @field_validator("networks", "models", mode="before")
    @classmethod
    def _named_list(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {name: {} for name in _names(value)}
        if isinstance(value, dict):
            _check_names(value)
            return {k: {} if v is None else v for k, v in value.items()}
        return value

    @field_validator("depends_on", mode="before")
    @classmethod
    def _depends_on(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {name: {"condition": "service_started"} for name in _names(value)}
        return value

    @field_validator("extra_hosts", mode="before")
    @classmethod
    def _extra_hosts(cls, value: Any) -> Any:
        return to_extra_hosts(unique_items(value))

    @field_validator("ulimits", mode="before")
    @classmethod
    def _ulimits(cls, value: Any) -> Any:
        return to_ulimits(value)

    @field_validator("devices", mode="before")
    @classmethod
    def _devices(cls, value: Any) -> Any:
        if isinstance(value, list):
            if any(isinstance(v, dict) and "target" not in v for v in value):
                raise ValueError("a device in long form needs 'target' (and 'source')")
            return [parse_device(v) if isinstance(v, str) else v for v in value]
        return value

    @field_validator("mem_reservation", mode="before")
    @classmethod
    def _mem_reservation(cls, value: Any) -> Any:
        if isinstance(value, float):  # compose's schema: an integer or a string
            raise ValueError(f"mem_reservation must be an integer or a string, got {value!r}")
        return value

    @field_validator("container_name")
    @classmethod
    def _container_name(cls, value: str | None) -> str | None:
        if value is not None and not _CONTAINER_NAME.search(value):
            raise ValueError(f"invalid container_name {value!r}; use letters, digits, '_.-'")
        return value

    @field_validator("pull_policy")
    @classmethod
    def _pull_policy(cls, value: str | None) -> str | None:
        if value is not None and not _PULL_POLICY.search(value):
            raise ValueError(f"unknown pull_policy {value!r}; use always, never, missing, build")
        return value

    @field_validator("cpu_rt_period", "cpu_rt_runtime")
    @classmethod
    def _microseconds(cls, value: str | None) -> str | None:
        # compose-go casts these to integers when it interpolates: "400ms" is refused
        if value is not None and not value.lstrip("-").isdigit():
            raise ValueError(f"{value!r} is not a whole number of microseconds")
        return value

    @field_validator("oom_score_adj")
    @classmethod
    def _oom_score_adj(cls, value: int | None) -> int | None:
        if value is not None and not -1000 <= value <= 1000:
            raise ValueError(f"oom_score_adj must be between -1000 and 1000, got {value}")
        return value

    @model_validator(mode="after")
    def _canonical(self) -> Service:
        update: dict[str, Any] = {}
        if self.scale is not None:
            replicas = self.deploy.replicas if self.deploy else None
            if replicas is not None and replicas != self.scale:
                raise ValueError(
                    f"scale ({self.scale}) and deploy.replicas ({replicas}) differ; keep one"
                )
            deploy = self.deploy or Deploy()
            update["deploy"] = deploy.model_copy(update={"replicas": self.scale})
            update["scale"] = None
        if not self.networks and self.network_mode is None and self.provider is None:
            update["networks"] = {"default": ServiceNetwork()}
        implied = self._implied_dependencies()
        if implied:
            update["depends_on"] = {**self.depends_on, **implied}
        return self.model_copy(update=update) if update else self

    def _implied_dependencies(self) -> dict[str, DependsOn]:
        """Services this one needs started first without saying so, as compose-go normalises:
        ``links``, ``network_mode``/``ipc``/``pid``/``uts: service:x`` and ``volumes_from``.
        """
        implied: dict[str, DependsOn] = {}
        for link in self.links:
            implied[link.split(":")[0]] = DependsOn(condition="service_started", restart=True)
        for mode in (self.network_mode, self.ipc, self.pid, self.uts):
            if mode and mode.startswith("service:"):
                name = mode.removeprefix("service:")
                implied[name] = DependsOn(condition="service_started", restart=True)
        for source in self.volumes_from:
            if not source.startswith("container:"):
                implied[source.split(":")[0]] = DependsOn(condition="service_started")
        return {k: v for k, v in implied.items() if k not in self.depends_on}

    @property
    def replicas(self) -> int:
        """How many containers this service runs (``deploy.replicas``, else 1)."""
        if self.deploy is not None and self.deploy.replicas is not None:
            return self.deploy.replicas
        return 1


def _names(value: list[Any]) -> list[str]:
    """A list of names (the short form of ``networks``, ``depends_on``): strings, each once."""
    for item in value:
        if not isinstance(item, str):
            raise ValueError(f"expected a list of names, found {item!r}")
    return list(unique_items(value))


def _check_names(value: dict[Any, Any]) -> None:
    for key in value:
        if not isinstance(key, str) or not NAME_PATTERN.match(key):
            raise ValueError(f"invalid name {key!r}: use letters, digits, '.', '_', '-'")
