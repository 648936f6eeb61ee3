"""Published ports: the short syntax (``"127.0.0.1:8080-8081:80-81/udp"``) and the long form,
normalised to a list of ``PortMapping`` (one per container port), as compose-go does with
docker's ``nat.ParsePortSpec``. Used by ``compose_service.Service.ports``; read by the container
reconciler (port bindings) and by ``validation`` (host ports published twice).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from pydantic import field_validator

from kedge.specs.compose_base import ComposeModel, Int, dedupe_items

__all__ = ["PortMapping", "expand_ports", "parse_port_spec"]

_PROTOCOLS = ("tcp", "udp", "sctp")


class PortMapping(ComposeModel):
    """One container port, published or not (compose's long syntax)."""

    target: Int
    published: str | None = None  # a host port ("8080") or a host range ("8000-8010")
    host_ip: str | None = None
    protocol: str = "tcp"
    mode: str = "ingress"
    name: str | None = None
    app_protocol: str | None = None

    @field_validator("target")
    @classmethod
    def _check_target(cls, value: int) -> int:
        # compose checks the range of a short-syntax port only; Docker checks the rest
        if value < 0:
            raise ValueError(f"container port {value} is out of range 0-65535")
        return value

    @field_validator("published", mode="before")
    @classmethod
    def _check_published(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"published must be a port number or range, got {value!r}")
        text = str(value).strip()
        if text == "":
            return None
        _parse_range(text, what="published port")
        return text

    @field_validator("protocol", mode="before")
    @classmethod
    def _check_protocol(cls, value: Any) -> Any:
        # compose passes the long syntax's protocol through (Docker judges it)
        return value.lower() if isinstance(value, str) else value

    @field_validator("host_ip")
    @classmethod
    def _check_host_ip(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        _parse_ip(value.strip("[]") if value else "", spec=value or "")
        return value

    def host_ports(self) -> range:
        """The host ports this mapping binds (empty when none is published)."""
        if self.published is None:
            return range(0)
        start, end = _parse_range(self.published, what="published port")
        return range(start, end + 1)


def expand_ports(value: Any) -> Any:
    """Turn a ``ports:`` list of numbers, short strings and mappings into long-form mappings."""
    if not isinstance(value, list):
        return value
    expanded: list[Any] = []
    for item in value:
        if isinstance(item, bool):
            raise ValueError(f"a port must be a number, a string or a mapping, got {item!r}")
        if isinstance(item, int):
            expanded.append({"target": item})
        elif isinstance(item, float):
            raise ValueError(f"a port must be a whole number, got {item!r}")
        elif isinstance(item, str):
            expanded.extend(parse_port_spec(item))
        else:
            expanded.append(item)
    # compose drops exact repeats (EnforceUnicity), e.g. after extends merged two lists
    return dedupe_items(expanded)


def parse_port_spec(spec: str) -> list[dict[str, Any]]:
    """Parse ``[[ip:]host:]container[/protocol]`` with ranges, as ``nat.ParsePortSpec`` does."""
    rest, _, protocol = spec.partition("/")
    protocol = protocol or "tcp"
    if protocol.lower() not in _PROTOCOLS:
        raise ValueError(f"invalid port {spec!r}: unknown protocol {protocol!r}; use tcp or udp")
    ip, host, container = _split_parts(rest)
    if ip.startswith("["):
        ip = ip[1:].rstrip("]") if ip.endswith("]") else ip
    if ip:
        _parse_ip(ip, spec=spec)
    if container == "":
        raise ValueError(f"invalid port {spec!r}: no container port; write e.g. '8080:80'")
    start, end = _parse_range(container, what=f"container port in {spec!r}")
    if start == 0:
        raise ValueError(f"invalid port {spec!r}: container port 0; write e.g. '8080:80'")
    host_start = host_end = 0
    if host:
        host_start, host_end = _parse_range(host, what=f"host port in {spec!r}")
        if end - start != host_end - host_start and end != start:
            raise ValueError(
                f"invalid port {spec!r}: the host range and the container range differ in size"
            )
    mappings: list[dict[str, Any]] = []
    for offset in range(end - start + 1):
        published: str | None = None
        if host:
            published = str(host_start + offset)
            if start == end and host_start != host_end:
                published = f"{host_start}-{host_end}"
        mapping: dict[str, Any] = {"target": start + offset, "protocol": protocol.lower()}
        if published is not None:
            mapping["published"] = published
        if ip:
            mapping["host_ip"] = ip
        mappings.append(mapping)
    return mappings


def _split_parts(raw: str) -> tuple[str, str, str]:
    parts = raw.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def _parse_range(text: str, *, what: str) -> tuple[int, int]:
    first, dash, last = text.partition("-")
    try:
        start = _parse_port(first)
        end = _parse_port(last) if dash else start
    except ValueError:
        raise ValueError(f"invalid {what}: {text!r}; write a number 0-65535 or a range") from None
    if end < start:
        raise ValueError(f"invalid {what}: {text!r}; a range must go upwards")
    return start, end


def _parse_port(text: str) -> int:
    if not text.isdigit():
        raise ValueError(text)
    number = int(text)
    if number > 65535:
        raise ValueError(text)
    return number


def _parse_ip(text: str, *, spec: str) -> None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"invalid port {spec!r}: {text!r} is not an IP address") from None
