"""The top-level compose objects: networks, volumes, secrets, configs (and models).

``external`` is a boolean in canonical form; the obsolete ``external: {name: x}`` becomes
``external: true`` with ``name: x``. A ``null`` entry (``networks: {front: }``) is an object with
every default. File paths are resolved against the project folder. Used by
``kedge.specs.stack.StackSpec``; read by the network and volume reconcilers.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationInfo, field_validator, model_validator

from kedge.specs.compose_base import (
    Bool,
    ComposeModel,
    ListOrDict,
    resolve_path,
    to_bool,
    to_dict,
)

__all__ = ["Config", "IpamConfig", "IpamPool", "Model", "Network", "Secret", "Volume"]


def _driver_opts(value: Any) -> Any:
    if isinstance(value, list):
        raise ValueError("driver_opts must be a mapping of option names to values")
    if isinstance(value, dict):
        for key, option in value.items():
            if isinstance(option, bool):  # compose's schema: a string or a number
                raise ValueError(f"driver_opts.{key} must be a string or a number, not {option}")
        return to_dict(value)
    return value


class _External(ComposeModel):
    """Shared handling of ``external`` and ``name`` for top-level objects."""

    name: str | None = None
    external: Bool = False
    labels: ListOrDict = {}

    #: compose's schema closes the ``external`` mapping of networks and volumes only
    open_external: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _external_object(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("external"), dict):
            data = dict(data)
            external = dict(data.pop("external"))
            old_name = external.pop("name", None)
            unknown = [k for k in external if not str(k).startswith("x-")]
            if unknown and not cls.open_external:
                raise ValueError(f"unknown key {unknown[0]!r} under external; use 'name'")
            if old_name is not None:
                if data.get("name") not in (None, old_name):
                    raise ValueError(
                        f"external.name {old_name!r} and name {data['name']!r} differ; keep 'name'"
                    )
                data["name"] = old_name
            data["external"] = True
        return data

    @field_validator("external", mode="before")
    @classmethod
    def _external_bool(cls, value: Any) -> Any:
        return to_bool(value)


class IpamPool(ComposeModel):
    subnet: str | None = None
    ip_range: str | None = None
    gateway: str | None = None
    aux_addresses: dict[str, str] = {}


class IpamConfig(ComposeModel):
    driver: str | None = None
    config: list[IpamPool] = []
    options: dict[str, str] = {}


class Network(_External):
    driver: str | None = None
    driver_opts: ListOrDict = {}
    ipam: IpamConfig | None = None
    internal: Bool = False
    enable_ipv4: Bool | None = None
    enable_ipv6: Bool | None = None
    attachable: Bool = False

    @field_validator("driver_opts", mode="before")
    @classmethod
    def _opts(cls, value: Any) -> Any:
        return _driver_opts(value)


class Volume(_External):
    driver: str | None = None
    driver_opts: ListOrDict = {}

    @field_validator("driver_opts", mode="before")
    @classmethod
    def _opts(cls, value: Any) -> Any:
        return _driver_opts(value)


class Secret(_External):
    """A secret: from a ``file`` (resolved against the project folder) or an ``environment``
    variable, or ``external``. The content's digest is recorded by the loader (StackSpec.sources).
    """

    open_external = True

    file: str | None = None
    environment: str | None = None
    driver: str | None = None
    driver_opts: ListOrDict = {}
    template_driver: str | None = None

    @field_validator("driver_opts", mode="before")
    @classmethod
    def _driver_opts(cls, value: Any) -> Any:
        return _driver_opts(value)

    @field_validator("file")
    @classmethod
    def _resolve(cls, value: str | None, info: ValidationInfo) -> str | None:
        return resolve_path(value, info) if value else value


class Config(_External):
    """A config: from a ``file``, an ``environment`` variable, inline ``content``, or external."""

    open_external = True

    file: str | None = None
    environment: str | None = None
    content: str | None = None
    template_driver: str | None = None

    @field_validator("file")
    @classmethod
    def _resolve(cls, value: str | None, info: ValidationInfo) -> str | None:
        return resolve_path(value, info) if value else value


class Model(ComposeModel):
    """A top-level AI model (compose's ``models``); Kedge rejects them in validation."""

    model: str
    name: str | None = None
    context_size: int | None = None
    runtime_flags: list[str] = []
