"""Kedge's own options: the ``x-kedge`` keys of a spec file (DESIGN.md, *Spec files*).

``StackMeta`` is the top-level ``x-kedge`` (stack metadata), ``ServiceOptions`` the ``x-kedge``
inside a service. ``x-kedge`` is Kedge's namespace, so an unknown key there is an error, not an
extension. Re-exported by ``kedge.specs.stack``; read by the store (version rules), the
controller (``on_failure``, ``drift``) and the executor (``update``, ``health_timeout``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, StrictInt, field_validator

from kedge.specs.compose_base import Duration, ListOrDict, StrictModel

__all__ = ["MAX_VERSION", "ServiceOptions", "StackMeta"]


#: the largest version number a stack may have (one bound for specs, the store and the API)
MAX_VERSION = 1_000_000_000


class StackMeta(StrictModel):
    """The top-level ``x-kedge``: what Kedge needs to know about a stack beyond compose."""

    description: str = ""
    labels: ListOrDict = Field(default_factory=dict)
    # a declared version number: accepted only if it is the next one (DESIGN.md, version rules)
    version: StrictInt | None = None
    on_failure: Literal["stay", "rollback"] = "stay"
    drift: Literal["heal", "warn", "off"] = "heal"
    # compose profiles to enable (services with other profiles do not run); "*" enables all.
    # The loader adds those of COMPOSE_PROFILES, as compose does.
    profiles: list[str] = Field(default_factory=list)

    @field_validator("version")
    @classmethod
    def _positive(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(f"version must be 1 or more, got {value}")
        if value is not None and value > MAX_VERSION:
            raise ValueError(f"version must be {MAX_VERSION:,} at most, got {value}")
        return value


class ServiceOptions(StrictModel):
    """The ``x-kedge`` of one service: how Kedge updates it and how long it waits for health."""

    update: Literal["stop-first", "start-first"] = "stop-first"
    health_timeout: Duration = timedelta(seconds=120)

    @field_validator("health_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("health_timeout must be longer than 0s")
        return value
