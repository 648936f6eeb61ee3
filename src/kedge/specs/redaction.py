"""Redaction: values that come from variables and secrets never leave through an answer,
an error, a log line, an event or a metric.

Two places could show them, and each has one function here:

- an error: a ``${SECRET}`` that makes a field invalid would be quoted by the message
  (``invalid size 'sup3rs3cret'``). ``Recording`` wraps the environment that interpolation
  reads and keeps the values it handed out; ``redact_error`` rewrites a ``SpecError`` (and
  each of ``SpecErrors``) with every such value replaced by ``MASK``. The loader does both,
  so no caller (the folder source, the API, the CLI, the logs and events they feed) ever
  holds the raw message;
- a version's document: the store keeps ``environment`` values, ``build.args`` and config
  ``content`` because a pass needs them to create a container or build an image, and they
  may come from variables or env files. ``redact_document`` masks them in what the API and
  the dashboard show (version details, diffs).

An env file's syntax errors say where and what is wrong but elide the quoted text
(``unquoted``): the file may hold secrets. Secrets and configs read from a file or a
variable are never in a document: only a salted digest is (``digests.value_digest``).
Values shorter than ``MIN_LENGTH`` are left in errors: masking every ``1`` or ``on`` would
garble messages and hides no secret.
Pure; called by ``loader``, ``api.stacks`` and ``api.dashboard``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from kedge.errors import SpecError, SpecErrors

__all__ = [
    "MASK",
    "MIN_LENGTH",
    "Recording",
    "redact_document",
    "redact_error",
    "redact_text",
    "unquoted",
]

MASK = "<redacted>"
_QUOTED = re.compile(r"'[^'\n]*'")
MIN_LENGTH = 4


class Recording(Mapping[str, str]):
    """A read-only view of an environment that remembers the values read through it."""

    def __init__(self, env: Mapping[str, str], read: set[str]) -> None:
        self._env = env
        self.read = read

    def __getitem__(self, key: str) -> str:
        value = self._env[key]
        self.read.add(value)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)


def redact_text(text: str, values: Iterable[str]) -> str:
    """``text`` with each of ``values`` (long enough to matter) replaced by ``MASK``."""
    for value in sorted({v for v in values if len(v) >= MIN_LENGTH}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def unquoted(text: str) -> str:
    """``text`` with each quoted fragment (``'...'``) elided: how an error about a file's
    content says what is wrong without saying what the file holds."""
    return _QUOTED.sub("'…'", text)


def redact_error(error: SpecError, values: Iterable[str]) -> SpecError:
    """``error`` with ``values`` masked in its messages and hints (itself when none shows)."""
    values = [v for v in values if len(v) >= MIN_LENGTH]
    if not values or not any(v in error.render() for v in values):
        return error
    if isinstance(error, SpecErrors):
        return SpecErrors([redact_error(e, values) for e in error.errors])
    return SpecError(
        redact_text(error.message, values),
        location=error.location,
        hint=redact_text(error.hint, values),
    )


def redact_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """A version's canonical document with environment values, build args and inline config
    contents masked (the keys stay, so a reader sees what is set)."""
    redacted = dict(document)
    services = redacted.get("services")
    if isinstance(services, dict):
        redacted["services"] = {name: _service(s) for name, s in services.items()}
    configs = redacted.get("configs")
    if isinstance(configs, dict):
        redacted["configs"] = {
            name: {**c, "content": MASK} if isinstance(c, dict) and "content" in c else c
            for name, c in configs.items()
        }
    return redacted


def _service(service: Any) -> Any:
    if not isinstance(service, dict):
        return service
    service = dict(service)
    if isinstance(service.get("environment"), dict):
        service["environment"] = _masked(service["environment"])
    build = service.get("build")
    if isinstance(build, dict) and isinstance(build.get("args"), dict):
        service["build"] = {**build, "args": _masked(build["args"])}
    return service


def _masked(values: dict[str, Any]) -> dict[str, Any]:
    return {key: None if value is None else MASK for key, value in values.items()}
