"""Durations and sizes written the way compose writes them.

Compose parses durations as Go's ``time.ParseDuration`` does, plus days and weeks
(``"1m30s"``, ``"90s"``, ``"1.5h"``, ``"300ms"``, ``"1d"``, ``"2w"``; a bare number other than
``0`` is an error) and sizes with docker's
``units.RAMInBytes`` (``"512m"``, ``"1g"``, ``"1.5GB"``, ``1073741824``). The compose model uses
these through its annotated types; ``kedge.specs.options`` uses them for ``health_timeout``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation

__all__ = ["format_duration", "parse_duration", "parse_size"]

# nanoseconds per Go duration unit
_UNITS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}
_PART = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h|d|w)")
_SIZE = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_SIZE_FACTORS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_DURATION_HINT = "write a Go duration such as '30s', '1m30s', '1.5h' or '500ms'"


def parse_duration(value: object) -> timedelta:
    """Parse a Go duration string (or pass a ``timedelta`` through); raise ``ValueError``."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str) or isinstance(value, bool):
        raise ValueError(f"a duration must be a string, got {value!r}; {_DURATION_HINT}")
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body == "0":
        return timedelta(0)
    if not body:
        raise ValueError(f"invalid duration {value!r}; {_DURATION_HINT}")
    nanoseconds = Decimal(0)
    position = 0
    while position < len(body):
        match = _PART.match(body, position)
        if match is None or match.group(1) in ("", "."):
            raise ValueError(f"invalid duration {value!r}; {_DURATION_HINT}")
        nanoseconds += Decimal(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return timedelta(microseconds=sign * int(nanoseconds) / 1000)


def format_duration(value: timedelta) -> str:
    """Render a duration as Go does (``1m30s``, ``500ms``, ``0s``), for the canonical form."""
    micro = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    if micro == 0:
        return "0s"
    sign = "-" if micro < 0 else ""
    micro = abs(micro)
    if micro < 1_000_000:
        if micro % 1000 == 0:
            return f"{sign}{micro // 1000}ms"
        return f"{sign}{micro}us"
    hours, rest = divmod(micro, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds = Decimal(rest) / 1_000_000
    text = f"{hours}h" if hours else ""
    if hours or minutes:
        text += f"{minutes}m"
    return f"{sign}{text}{_render_decimal(seconds)}s"


def _render_decimal(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".")


def parse_size(value: object) -> int:
    """Parse a size in bytes (``"512m"``, ``"1g"``, ``2048``); raise ``ValueError``."""
    if isinstance(value, bool):
        raise ValueError(f"a size must be a number or a string such as '512m', got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"a size must be a number or a string such as '512m', got {value!r}")
    match = _SIZE.match(value.strip())
    if match is None:
        raise ValueError(f"invalid size {value!r}; write a number of bytes or e.g. '512m', '1g'")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation as exc:
        raise ValueError(f"invalid size {value!r}; write e.g. '512m' or '1g'") from exc
    return int(number * _SIZE_FACTORS[(match.group(2) or "").lower()])
