"""The label keys Kedge puts on every Docker object it creates (DESIGN.md, *Labels*).

Observed state is read from these labels alone: never from names, never from the store.
"""

from __future__ import annotations

__all__ = [
    "BUILD_HASH",
    "COMMAND",
    "CONFIG_HASH",
    "MANAGED",
    "NUMBER",
    "PREFIX",
    "SERVICE",
    "STACK",
    "VERSION",
    "managed_filter",
    "stack_filter",
]

PREFIX = "kedge."
MANAGED = "kedge.managed"
STACK = "kedge.stack"
VERSION = "kedge.version"
COMMAND = "kedge.command"
SERVICE = "kedge.service"
CONFIG_HASH = "kedge.config-hash"
# the replica number, as compose's com.docker.compose.container-number
NUMBER = "kedge.container-number"
# on an image Kedge built: ``digests.build_hash`` of what it was built from
BUILD_HASH = "kedge.build-hash"


def managed_filter() -> list[str]:
    """Label filters for every object Kedge manages."""
    return [f"{MANAGED}=true"]


def stack_filter(stack: str) -> list[str]:
    """Label filters for the objects of one stack."""
    return [f"{MANAGED}=true", f"{STACK}={stack}"]
