"""Compose's merge of the documents of one file: later documents override earlier ones.

A compose file may hold several YAML documents (``---``); compose-go loads them in order and
merges each onto what came before with its override rules, the same rules as for override
files. A service is merged with ``extends.merge_service`` (mappings merged, lists appended,
``command`` replaced…), other mappings key by key, anything else replaced. Before a document
is merged, the paths it tags ``!reset`` or ``!override`` are removed from what came before, so
that ``!reset`` drops a value and ``!override`` replaces it instead of merging. Called by
``kedge.specs.yamlsource.load_yaml``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from kedge.specs.extends import merge_service

__all__ = ["merge_document"]


def merge_document(
    base: dict[str, Any], document: dict[str, Any], *, removed: Iterable[Sequence[str | int]]
) -> dict[str, Any]:
    """``document`` merged onto ``base`` (neither is changed), after dropping ``removed``."""
    merged = _without(base, removed)
    for key, value in document.items():
        old = merged.get(key)
        if key == "services" and isinstance(old, dict) and isinstance(value, dict):
            merged[key] = _merge_services(old, value)
        elif isinstance(old, dict) and isinstance(value, dict):
            merged[key] = _merge_mappings(old, value)
        else:
            merged[key] = value
    return merged


def _merge_services(base: dict[str, Any], services: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for name, service in services.items():
        old = merged.get(name)
        if isinstance(old, dict) and isinstance(service, dict):
            merged[name] = merge_service(old, service)
        elif service is not None or name not in merged:  # a null adds nothing
            merged[name] = service
    return merged


def _merge_mappings(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merged[key] = _merge_mappings(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            merged[key] = [*old, *value]
        elif value is not None or key not in merged:
            merged[key] = value
    return merged


def _without(data: dict[str, Any], paths: Iterable[Sequence[str | int]]) -> dict[str, Any]:
    result = dict(data)
    for path in paths:
        result = _drop(result, list(path))
    return result


def _drop(data: dict[str, Any], path: list[str | int]) -> dict[str, Any]:
    head, rest = path[0], path[1:]
    if not isinstance(head, str) or head not in data:
        return data
    result = dict(data)
    if not rest:
        del result[head]
    elif isinstance(result[head], dict):
        result[head] = _drop(result[head], rest)
    return result
