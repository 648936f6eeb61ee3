"""Deadlines: how long Kedge waits for the Docker daemon's answer to each kind of call.

A daemon can stop answering without closing its socket (moby 20.10's libnetwork deadlock
left ``docker network ls`` hanging for ever), so no call may wait without end. Each call
kind has its own deadline, since a stop waits out the container's own stop timeout and a
build may be silent for minutes, while a list answers in milliseconds:

==========  =====================================================  ==========================
kind        calls                                                   default (environment)
==========  =====================================================  ==========================
``read``    ping, version, list, inspect, logs, events (subscribe)  10 s (``KEDGE_DEADLINE_READ``)
``write``   create, start, remove, connect, disconnect, rename …   30 s (``KEDGE_DEADLINE_WRITE``)
``stop``    a stop: the container's stop timeout plus this margin   15 s (``KEDGE_DEADLINE_STOP``)
``image``   build and pull: the longest silence of their stream     600 s (``KEDGE_DEADLINE_IMAGE``)
==========  =====================================================  ==========================

A deadline is the longest wait for the daemon's next bytes: for a plain call, its answer;
for a streamed one (build, pull), each next piece of it. A long-lived stream (Docker's
events, ``logs --follow``) has a deadline only for its opening. A call past its deadline
raises ``EngineUnavailable`` (temporary: a later pass retries) naming the call and the wait.

Stdlib only, so that ``reconcilers.peek`` (``kedge up``'s fast path) reads the same settings
without importing docker. Callers: ``reconcilers.engine`` and ``reconcilers.peek``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from kedge import errors

__all__ = ["Deadlines", "stopped_answering"]

_PREFIX = "KEDGE_DEADLINE_"


@dataclass(frozen=True, slots=True)
class Deadlines:
    """The deadline of each call kind, in seconds."""

    read: float = 10.0
    write: float = 30.0
    stop: float = 15.0  # beyond the container's own stop timeout
    image: float = 600.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Deadlines:
        """The defaults, with each ``KEDGE_DEADLINE_<KIND>`` that is set taken instead."""
        env = os.environ if env is None else env
        found: dict[str, float] = {}
        for field in fields(cls):
            name = _PREFIX + field.name.upper()
            text = env.get(name, "").strip()
            if text:
                found[field.name] = _seconds(name, text)
        return cls(**found)


def _seconds(name: str, text: str) -> float:
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise errors.SpecError(
            f"{name}={text!r} is not a number of seconds above 0",
            location=errors.Location(file="environment", path=name),
            hint=f"e.g. {name}=10, or unset it for the default",
        )
    return value


def stopped_answering(what: str, seconds: float) -> errors.EngineUnavailable:
    """The error of a call that hit its deadline."""
    return errors.EngineUnavailable(
        f"{what}: the Docker daemon stopped answering (no answer within {seconds:g} s)"
    )
