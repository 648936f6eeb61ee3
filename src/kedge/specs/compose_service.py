"""A compose service in canonical form: every short syntax turned into its long form.

``command``/``entrypoint`` are argument lists (a string is split as a shell would),
``environment``/``labels``/``sysctls`` are mappings, ``ports`` and ``volumes`` long-form lists,
``depends_on`` and ``networks`` mappings (a service without ``networks`` or ``network_mode``
joins ``default``, as in compose), ``healthcheck.test`` a list starting with ``CMD``,
``CMD-SHELL`` or ``NONE``, ``scale`` folded into ``deploy.replicas``, durations ``timedelta``
and sizes bytes. Which keys the reconcilers carry out is listed in ``kedge.specs.compose``.
Used by ``compose_top.ComposeDocument`` and read by the planner and the container reconciler.
"""

from __future__ import annotations

import re
import shlex
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from kedge.specs.compose_base import (
    Bool,
    Bytes,
    ComposeModel,
    Duration,
    Float,
    Int,
    ListOrDict,
    StrictModel,
    StringList,
    StringOrNumber,
    UniqueList,
    resolve_path,
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
_PULL_POLICY = re.compile(r"always|never|build|if_not_present|missing|refresh|daily|weekly|every_")


def to_command(value: Any) -> Any:
    """A string command is split as compose does (shell words); a list is kept."""
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split command {value!r}: {exc}; check the quotes") from exc
    return value


Command = Annotated[list[str] | None, BeforeValidator(to_command)]


class Healthcheck(ComposeModel):
    test: list[str] = []
    interval: Duration | None = None
    timeout: Duration | None = None
    retries: Int | None = None
    start_period: Duration | None = None
    start_interval: Duration | None = None
    disable: Bool = False

    @field_validator("test", mode="before")
    @classmethod
    def _test(cls, value: Any) -> Any:
        if isinstance(value, str):
            return ["CMD-SHELL", value]
        return value

    @field_validator("test")
    @classmethod
    def _check_test(cls, value: list[str]) -> list[str]:
        if value and value[0] not in ("CMD", "CMD-SHELL", "NONE"):
            raise ValueError(
                f"healthcheck.test must start with CMD, CMD-SHELL or NONE, got {value[0]!r}"
            )
        return value

    @model_validator(mode="after")
    def _disable(self) -> Healthcheck:
        if self.disable:
            return self.model_copy(update={"test": ["NONE"], "disable": False})
        return self

    @property
    def is_disabled(self) -> bool:
        return self.test[:1] == ["NONE"]


class DependsOn(ComposeModel):
    condition: Literal["service_started", "service_healthy", "service_completed_successfully"]
    restart: Bool = False
    required: Bool = True


class ServiceNetwork(ComposeModel):
    aliases: UniqueList = []
    interface_name: str | None = None
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    link_local_ips: UniqueList = []
    mac_address: str | None = None
    driver_opts: ListOrDict = {}
    priority: Int | None = None
    gw_priority: Int | None = None


class Logging(ComposeModel):
    driver: str | None = None
    options: ListOrDict = {}


class EnvFile(StrictModel):
    """An ``env_file`` entry; the loader has already merged its values into ``environment``."""

    path: str
    required: Bool = True
    format: str | None = None

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        return resolve_path(value, info)


class DeviceMapping(ComposeModel):
    source: str
    target: str | None = None
    permissions: str | None = None


class BlkioLimit(StrictModel):
    path: str
    rate: Bytes


class BlkioWeight(StrictModel):
    path: str
    weight: Int


class BlkioConfig(StrictModel):
    device_read_bps: list[BlkioLimit] = []
    device_read_iops: list[BlkioLimit] = []
    device_write_bps: list[BlkioLimit] = []
    device_write_iops: list[BlkioLimit] = []
    weight: Int | None = None
    weight_device: list[BlkioWeight] = []


class CredentialSpec(ComposeModel):
    config: str | None = None
    file: str | None = None
    registry: str | None = None


class ServiceHook(ComposeModel):
    command: Command
    user: str | None = None
    privileged: Bool = False
    working_dir: str | None = None
    environment: ListOrDict = {}


class WatchRule(ComposeModel):
    path: str
    action: Literal["rebuild", "sync", "restart", "sync+restart", "sync+exec"]
    target: str | None = None
    ignore: StringList = []
    include: StringList = []
    exec: ServiceHook | None = None


class Develop(ComposeModel):
    watch: list[WatchRule] = []


class Provider(ComposeModel):
    type: str
    options: dict[str, Any] = {}


class ModelUse(ComposeModel):
    endpoint_var: str | None = None
    model_var: str | None = None


class Service(ComposeModel):
    """One service of a stack, in canonical form (see the module docstring)."""

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
    scale: Int | None = None
    mem_limit: Bytes | None = None
    mem_reservation: Bytes | None = None
    mem_swappiness: Int | None = None
    memswap_limit: Bytes | None = None
    shm_size: Bytes | None = None
    cpus: Float | None = None
    cpu_count: Int | None = None
    cpu_percent: Int | None = None
    cpu_shares: Int | None = None
    cpu_quota: Int | None = None
    cpu_period: Int | None = None
    cpu_rt_period: StringOrNumber | None = None
    cpu_rt_runtime: StringOrNumber | None = None
    cpuset: str | None = None
    pids_limit: Int | None = None
    blkio_config: BlkioConfig | None = None
    cap_add: UniqueList = []
    cap_drop: UniqueList = []
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
    dns_opt: UniqueList = []
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
    links: UniqueList = []
    external_links: UniqueList = []
    credential_spec: CredentialSpec | None = None
    secrets: list[ServiceReference] = []
    configs: list[ServiceReference] = []
    profiles: UniqueList = []
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
        return expand_ports(unique_items(value))

    @field_validator("volumes", mode="before")
    @classmethod
    def _volumes(cls, value: Any) -> Any:
        return expand_mounts(unique_items(value))

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

    @field_validator("expose", "group_add", mode="before")
    @classmethod
    def _unique(cls, value: Any) -> Any:
        return unique_items(value)

    @field_validator("networks", "models", mode="before")
    @classmethod
    def _named_list(cls, value: Any) -> Any:
        if isinstance(value, list):
            unique_items(value)
            return {name: {} for name in value}
        if isinstance(value, dict):
            return {k: {} if v is None else v for k, v in value.items()}
        return value

    @field_validator("depends_on", mode="before")
    @classmethod
    def _depends_on(cls, value: Any) -> Any:
        if isinstance(value, list):
            unique_items(value)
            return {name: {"condition": "service_started"} for name in value}
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
            return [_parse_device(v) if isinstance(v, str) else v for v in value]
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
        if not self.networks and self.network_mode is None:
            update["networks"] = {"default": ServiceNetwork()}
        return self.model_copy(update=update) if update else self

    @property
    def replicas(self) -> int:
        """How many containers this service runs (``deploy.replicas``, else 1)."""
        if self.deploy is not None and self.deploy.replicas is not None:
            return self.deploy.replicas
        return 1


def _parse_device(spec: str) -> dict[str, Any]:
    parts = spec.split(":")
    device: dict[str, Any] = {"source": parts[0]}
    if len(parts) > 1:
        device["target"] = parts[1]
    if len(parts) > 2:
        device["permissions"] = parts[2]
    if len(parts) > 3 or not parts[0]:
        raise ValueError(f"invalid device {spec!r}; write '/dev/host[:/dev/container[:rwm]]'")
    return device
