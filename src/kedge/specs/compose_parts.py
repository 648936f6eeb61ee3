"""The parts of a compose service: healthcheck, depends_on entries, network attachments, logging,
env files, devices, blkio, hooks, develop, provider — each in canonical form.

Used by ``compose_service.Service``; ``Command`` (a string is split as a shell would) is also
used for hooks.
"""

from __future__ import annotations

import shlex
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kedge.specs.compose_base import (
    Bool,
    Bytes,
    ComposeModel,
    DedupedList,
    Duration,
    Int,
    ListOrDict,
    Options,
    StrictModel,
    StringList,
    UniqueList,
    resolve_path,
)

__all__ = [
    "BlkioConfig",
    "Command",
    "CredentialSpec",
    "DependsOn",
    "Develop",
    "DeviceMapping",
    "EnvFile",
    "Healthcheck",
    "Logging",
    "ModelUse",
    "Provider",
    "ServiceHook",
    "ServiceNetwork",
    "WatchRule",
    "parse_device",
]


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
    retries: Int | None = Field(default=None, ge=0)
    start_period: Duration | None = None
    start_interval: Duration | None = None
    disable: Bool = False

    @field_validator("retries", mode="before")
    @classmethod
    def _retries(cls, value: Any) -> Any:
        # compose's schema says number: 2.5 is accepted (and truncated)
        return int(value) if isinstance(value, float) else value

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
    aliases: DedupedList = []
    interface_name: str | None = None
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    link_local_ips: UniqueList = []
    mac_address: str | None = None
    driver_opts: Options = {}
    priority: Int | None = None
    gw_priority: Int | None = None


class Logging(ComposeModel):
    driver: str | None = None
    options: Options = {}


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
    # compose's schema: a boolean only ("true" is refused, unlike most booleans)
    initial_sync: StrictBool = False


class Develop(ComposeModel):
    watch: list[WatchRule] = []


class Provider(ComposeModel):
    type: str
    options: dict[str, Any] = {}


class ModelUse(ComposeModel):
    endpoint_var: str | None = None
    model_var: str | None = None


def parse_device(spec: str) -> dict[str, Any]:
    parts = spec.split(":")
    device: dict[str, Any] = {"source": parts[0]}
    if len(parts) > 1:
        device["target"] = parts[1]
    if len(parts) > 2:
        device["permissions"] = parts[2]
    if len(parts) > 3 or not parts[0]:
        raise ValueError(f"invalid device {spec!r}; write '/dev/host[:/dev/container[:rwm]]'")
    return device
