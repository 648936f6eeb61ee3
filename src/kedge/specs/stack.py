"""``StackSpec``: one stack's desired state — its name, Kedge metadata and compose document.

A ``StackSpec`` is what the loader (``kedge.specs.loader.parse``) returns and what the store
keeps per version (through ``loader.canonical``/``loader.from_canonical``). It is the compose
model in canonical form (see ``kedge.specs.compose``) plus:

- ``name``: the stack, from the top-level ``name`` or the file's stem, in compose's project-name
  alphabet (lowercase letters, digits, ``-`` and ``_``, starting with a letter or digit);
- ``meta``: the top-level ``x-kedge`` (``StackMeta``);
- ``sources``: digests of what the stack reads beyond its spec — sha256 of secret and config
  files and build contexts, a salted scrypt of the value of a secret or config read from an
  environment variable — keyed ``secrets.NAME``, ``configs.NAME``, ``build.SERVICE``; recorded
  by the loader so that a changed secret changes the digest and the service's config hash.

Compose's implicit ``default`` network is declared here when a service joins it. Services with
``profiles`` are inactive unless ``x-kedge.profiles`` (or ``COMPOSE_PROFILES``) enables one of
them, as in compose: ``active_services``.
Read by the planner, the reconcilers, the store and the controller.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from kedge.specs.compose_base import NAME_PATTERN, ComposeModel
from kedge.specs.compose_service import Service
from kedge.specs.compose_top import Config, Model, Network, Secret, Volume
from kedge.specs.options import ServiceOptions, StackMeta

__all__ = [
    "STACK_NAME_MAX",
    "STACK_NAME_PATTERN",
    "ServiceOptions",
    "StackMeta",
    "StackSpec",
    "is_stack_name",
    "normalize_stack_name",
]

#: the stack-name rule, owned here: the loader, the folder source and every API route that
#: takes a stack name (path or filter) use these two, so a stack that can be created can also
#: be read and deleted
STACK_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
STACK_NAME_MAX = 200
_STACK_NAME = re.compile(STACK_NAME_PATTERN)


def is_stack_name(name: str) -> bool:
    """Whether ``name`` is a valid stack name (compose's project-name rule, at most
    ``STACK_NAME_MAX`` characters)."""
    return len(name) <= STACK_NAME_MAX and bool(_STACK_NAME.match(name))


def normalize_stack_name(text: str) -> str:
    """A stack name made from a file stem, as compose makes project names from folder names."""
    lowered = re.sub(r"[^a-z0-9_-]", "", text.lower())
    return lowered.lstrip("_-")


class StackSpec(ComposeModel):
    """The desired state of one stack (see the module docstring)."""

    name: str
    meta: StackMeta = Field(default_factory=StackMeta, alias="x-kedge")
    services: dict[str, Service] = {}
    networks: dict[str, Network] = {}
    volumes: dict[str, Volume] = {}
    secrets: dict[str, Secret] = {}
    configs: dict[str, Config] = {}
    models: dict[str, Model] = {}
    sources: dict[str, str] = {}

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if len(value) > STACK_NAME_MAX:
            raise ValueError(
                f"the stack name has {len(value)} characters, over the limit of"
                f" {STACK_NAME_MAX}: shorten it"
            )
        if not is_stack_name(value):
            raise ValueError(
                f"invalid stack name {value!r}: use lowercase letters, digits, '-' and '_',"
                " starting with a letter or digit"
            )
        return value

    # compose's schema leaves the names of top-level networks free
    @field_validator("services", "volumes", "secrets", "configs", "models", mode="before")
    @classmethod
    def _check_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key in value:
                if not isinstance(key, str) or not NAME_PATTERN.match(key):
                    raise ValueError(f"invalid name {key!r}: use letters, digits, '.', '_', '-'")
        return value

    @field_validator("networks", "volumes", mode="before")
    @classmethod
    def _null_entries(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {} if v is None else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _default_network(self) -> StackSpec:
        joins_default = any("default" in s.networks for s in self.services.values())
        if joins_default and "default" not in self.networks:
            networks = {**self.networks, "default": Network()}
            return self.model_copy(update={"networks": networks})
        return self

    @property
    def active_services(self) -> dict[str, Service]:
        """The services compose would run: those without ``profiles``, and those with a profile
        enabled in ``x-kedge.profiles`` (``*`` enables every profile).
        """
        enabled = set(self.meta.profiles)
        return {
            name: s
            for name, s in self.services.items()
            if not s.profiles or "*" in enabled or enabled & set(s.profiles)
        }

    def network_name(self, key: str) -> str:
        """The Docker name of network ``key``: its ``name``, else ``<stack>_<key>``."""
        network = self.networks[key]
        if network.name:
            return network.name
        return key if network.external else f"{self.name}_{key}"

    def volume_name(self, key: str) -> str:
        """The Docker name of volume ``key``: its ``name``, else ``<stack>_<key>``."""
        volume = self.volumes[key]
        if volume.name:
            return volume.name
        return key if volume.external else f"{self.name}_{key}"

    def container_name(self, service: str, number: int = 1) -> str:
        """The Docker name of replica ``number`` of ``service``: ``container_name`` or compose's."""
        declared = self.services[service].container_name
        return declared or f"{self.name}-{service}-{number}"
