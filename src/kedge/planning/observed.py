"""Observed state: what Docker has for one stack, as frozen snapshots (DESIGN.md, *Words*).

``reconcilers.observe`` builds an ``ObservedStack`` from a constant number of list calls
filtered by ``kedge.stack`` (containers, networks, volumes, images); the planner reads it and
never calls Docker. Everything here is data: no I/O, no defaults taken from the daemon.

Fields hold what Kedge's labels and Docker's list calls say, already parsed (``number`` and
``version`` as ints, ``state`` and ``health`` as closed literals), so the planner needs no
string handling beyond comparing config hashes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ContainerHealth",
    "ContainerState",
    "ObservedContainer",
    "ObservedNetwork",
    "ObservedStack",
    "ObservedVolume",
]

#: Docker's container states (``State.Status``)
ContainerState = Literal["created", "running", "restarting", "paused", "exited", "dead", "removing"]
#: Docker's health states, with "none" for a container without a healthcheck
ContainerHealth = Literal["none", "starting", "healthy", "unhealthy"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ObservedContainer(BaseModel):
    """One container that carries ``kedge.stack=<stack>``."""

    model_config = _FROZEN

    id: str
    name: str  # without the leading "/"
    stack: str
    service: str  # the kedge.service label
    number: int  # the replica number (kedge.container-number label)
    version: int | None = None  # the kedge.version label, None if absent or not a number
    config_hash: str = ""  # the kedge.config-hash label
    state: ContainerState
    exit_code: int | None = None
    health: ContainerHealth = "none"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    restart_count: int = 0
    image: str = ""  # the image reference the container was created from (Config.Image)
    image_id: str = ""  # the image id the container runs ("sha256:…")
    labels: Mapping[str, str] = Field(default_factory=dict)
    networks: tuple[str, ...] = ()  # names of the networks it is attached to
    volumes: tuple[str, ...] = ()  # names of the named volumes it mounts
    #: (target, volume name) of the anonymous volumes it mounts, which a container that
    #: replaces it mounts again (as compose does)
    anonymous: tuple[tuple[str, str], ...] = ()

    @property
    def is_running(self) -> bool:
        return self.state in ("running", "restarting")


class ObservedNetwork(BaseModel):
    """One network that carries ``kedge.stack=<stack>``."""

    model_config = _FROZEN

    id: str
    name: str
    config_hash: str = ""  # the kedge.config-hash label
    labels: Mapping[str, str] = Field(default_factory=dict)


class ObservedVolume(BaseModel):
    """One volume that carries ``kedge.stack=<stack>``."""

    model_config = _FROZEN

    name: str
    config_hash: str = ""  # the kedge.config-hash label
    labels: Mapping[str, str] = Field(default_factory=dict)


class ObservedStack(BaseModel):
    """Everything Docker has of one stack, taken before planning starts.

    ``images`` maps each image reference the stack uses (desired or observed) to the id of
    the local image it resolves to now; a reference missing from it is not present locally.
    That is how the planner sees that a tag now points to another image. ``built`` says what
    the images Kedge built were built from, so a changed build context is rebuilt.

    ``external_networks`` / ``external_volumes`` are the names of the external objects the
    desired state declares that exist (observe lists them by name, as they carry no label);
    ``None`` means they were not checked, and the planner then takes them on trust.
    """

    model_config = _FROZEN

    stack: str
    containers: tuple[ObservedContainer, ...] = ()
    networks: tuple[ObservedNetwork, ...] = ()
    volumes: tuple[ObservedVolume, ...] = ()
    images: Mapping[str, str] = Field(default_factory=dict)
    #: for each image reference above whose image Kedge built, its ``kedge.build-hash`` label
    built: Mapping[str, str] = Field(default_factory=dict)
    external_networks: frozenset[str] | None = None
    external_volumes: frozenset[str] | None = None
    #: ``reconcilers.listing.fingerprint`` of what was listed ("" when not made by observe)
    fingerprint: str = ""

    def containers_of(self, service: str) -> tuple[ObservedContainer, ...]:
        """The containers of one service, by replica number then id."""
        found = [c for c in self.containers if c.service == service]
        return tuple(sorted(found, key=lambda c: (c.number, c.id)))

    def network_named(self, name: str) -> ObservedNetwork | None:
        return next((n for n in self.networks if n.name == name), None)

    def volume_named(self, name: str) -> ObservedVolume | None:
        return next((v for v in self.volumes if v.name == name), None)
