"""Compose's ``extends``: a service built on another one, merged with compose's merge rules.

``apply_extends`` works on the plain data of a document after interpolation and before
validation, so that Kedge and compose agree on what a service that extends another one is.
The base service comes from the same document or, with ``extends.file``, from another file
that the loader reads (``read_service``) and returns in canonical form (absolute paths), so the
base's relative paths keep meaning what they meant in its own folder. ``merge_service`` is also
how ``include`` conflicts are judged. Called by ``kedge.specs.loader``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kedge.errors import Location, SpecError
from kedge.specs.compose_base import hashable, to_dict

__all__ = ["apply_extends", "merge_service", "resolve_service"]

# (file, service, where the extends is) → that service's data, canonical, its extends applied
ReadService = Callable[[str, str, Location], dict[str, Any]]
Locate = Callable[[Sequence[str | int]], Location]

_MAPPING_KEYS = {"environment", "labels", "annotations", "sysctls", "extra_hosts_map"}
_REPLACE_KEYS = {"command", "entrypoint"}
_NAMED_KEYS = {"networks", "depends_on", "models"}


def apply_extends(
    services: dict[str, Any], *, read_service: ReadService, locate: Locate
) -> dict[str, Any]:
    """Return ``services`` with every ``extends`` carried out (and the key removed)."""
    done: dict[str, Any] = {}
    for name in services:
        done[name] = _resolve(name, services, done, read_service, locate, chain=())
    return done


def resolve_service(
    name: str, services: dict[str, Any], *, read_service: ReadService, locate: Locate
) -> Any:
    """One service of ``services`` with its ``extends`` carried out (the others untouched)."""
    return _resolve(name, services, {}, read_service, locate, chain=())


def _resolve(
    name: str,
    services: dict[str, Any],
    done: dict[str, Any],
    read_service: ReadService,
    locate: Locate,
    *,
    chain: tuple[str, ...],
) -> Any:
    if name in done:
        return done[name]
    service = services[name]
    if not isinstance(service, dict) or "extends" not in service:
        return service
    if name in chain:
        cycle = " -> ".join([*chain, name])
        raise SpecError(
            f"circular extends: {cycle}",
            location=locate(("services", name, "extends")),
            hint="remove one of these extends",
        )
    reference = service["extends"]
    base_name, base_file = _reference(reference, name=name, locate=locate)
    if base_file is not None:
        base = read_service(base_file, base_name, locate(("services", name, "extends")))
    elif base_name not in services:
        raise SpecError(
            f"service {name!r} extends undefined service {base_name!r}",
            location=locate(("services", name, "extends")),
            hint="name a service of this file, or add 'file:' for another file",
        )
    else:
        base = _resolve(base_name, services, done, read_service, locate, chain=(*chain, name))
    own = {k: v for k, v in service.items() if k != "extends"}
    return merge_service(base if isinstance(base, dict) else {}, own)


def _reference(reference: Any, *, name: str, locate: Locate) -> tuple[str, str | None]:
    if isinstance(reference, str):
        return reference, None
    if isinstance(reference, dict) and isinstance(reference.get("service"), str):
        unknown = sorted(set(reference) - {"service", "file"})
        if unknown:
            raise SpecError(
                f"unknown key {unknown[0]!r} under extends",
                location=locate(("services", name, "extends")),
                hint="extends takes 'service' and 'file'",
            )
        file = reference.get("file")
        if file is not None and not isinstance(file, str):
            raise SpecError(
                "extends.file must be a path",
                location=locate(("services", name, "extends", "file")),
            )
        return reference["service"], file
    raise SpecError(
        "extends must be a service name or a mapping with 'service' (and 'file')",
        location=locate(("services", name, "extends")),
        hint="write 'extends: base' or 'extends: {service: base, file: other.yaml}'",
    )


def merge_service(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge ``override`` onto ``base`` the way compose merges services."""
    merged = dict(base)
    for key, value in override.items():
        if key not in merged or key in _REPLACE_KEYS:
            merged[key] = value
        else:
            merged[key] = _merge_value(key, merged[key], value)
    return merged


def _merge_value(key: str, base: Any, override: Any) -> Any:
    if key in _MAPPING_KEYS or (key in ("args",) and isinstance(base, list | dict)):
        return {**to_dict(base), **to_dict(override)}
    if key in _NAMED_KEYS:
        return _merge_mappings(_named(key, base), _named(key, override))
    if key == "build":
        return _merge_mappings(_build(base), _build(override))
    if key == "extra_hosts":
        return _merge_list(_hosts(base), _hosts(override))
    if key == "healthcheck" and isinstance(base, dict) and isinstance(override, dict):
        merged = _merge_mappings(base, {k: v for k, v in override.items() if k != "test"})
        if "test" in override:
            merged["test"] = override["test"]
        return merged
    if isinstance(base, dict) and isinstance(override, dict):
        return _merge_mappings(base, override)
    if isinstance(base, list) and isinstance(override, list):
        return _merge_list(base, override)
    if isinstance(base, str) and isinstance(override, list) and key in ("dns", "dns_search"):
        return _merge_list([base], override)
    return override


def _merge_mappings(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if key in merged and value is not None:
            merged[key] = _merge_value(key, merged[key], value)
        elif key not in merged or value is not None:
            merged[key] = value
    return merged


def _merge_list(base: list[Any], override: list[Any]) -> list[Any]:
    merged = list(base)
    seen = {hashable(item) for item in merged}  # a set: long lists merge in linear time
    for item in override:
        key = hashable(item)
        if key not in seen:
            seen.add(key)
            merged.append(item)
    return merged


def _named(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        if key == "depends_on":
            return {n: {"condition": "service_started"} for n in value}
        return dict.fromkeys(value)
    return dict(value) if isinstance(value, dict) else {}


def _build(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"context": value}
    return dict(value) if isinstance(value, dict) else {}


def _hosts(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [f"{k}={ip}" for k, v in value.items() for ip in (v if isinstance(v, list) else [v])]
    return list(value) if isinstance(value, list) else [value]
