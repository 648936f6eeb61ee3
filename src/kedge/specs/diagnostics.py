"""Turning pydantic's ``ValidationError`` into Kedge's ``SpecError``s: the one place it happens.

Each pydantic error becomes a ``SpecError`` with the file, line and column of the offending
node (found through ``Document.locate``), the field path, a message in compose's words and a
hint — for an unknown key, the closest known key (``did you mean 'image'?``). Called by
``kedge.specs.loader``.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from kedge.errors import Location, SpecError
from kedge.specs.compose_base import Null

__all__ = ["from_validation_error", "raw_path"]

Locate = Callable[[Sequence[str | int]], Location]

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "list_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def from_validation_error(
    exc: ValidationError, *, data: Any, model: type[BaseModel], locate: Locate
) -> list[SpecError]:
    """One ``SpecError`` per distinct problem in ``exc``, located in the source document."""
    found: dict[tuple[str | int, ...], SpecError] = {}
    for error in exc.errors():
        path = _item_path(raw_path(error["loc"], data), error)
        if path in found:  # a union reports each branch at the same place; keep the first
            continue
        message, hint = _describe(error, path=path, model=model)
        location = locate(path)
        found[path] = SpecError(message, location=location, hint=hint)
    return sorted(found.values(), key=_position)


def _position(error: SpecError) -> tuple[int, int]:
    return (error.location.line or 0, error.location.column or 0)


def _item_path(path: tuple[str | int, ...], error: ErrorDetails) -> tuple[str | int, ...]:
    """Point at the list item a list-level check complained about (``ports[1]``, not ``ports``)."""
    value = error.get("input")
    if error["type"] == "value_error" and isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str) and repr(item) in error["msg"]:
                return (*path, index)
    return path


def raw_path(loc: Sequence[str | int], data: Any) -> tuple[str | int, ...]:
    """The part of pydantic's ``loc`` that names nodes of ``data`` (drops union branch tags)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        child = _child(node, part)
        if child is not _MISSING:
            node = child
        elif not isinstance(node, dict | list):
            continue
        elif isinstance(part, str) and ("[" in part or part == "x-*"):
            continue  # a union branch or the extensions alias, not a key
        else:
            node = None
        path.append(part)
    return tuple(path)


_MISSING = object()


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _MISSING


def _describe(
    error: ErrorDetails, *, path: tuple[str | int, ...], model: type[BaseModel]
) -> tuple[str, str]:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        known = _known_keys(model, path[:-1])
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else _allowed(known)
        return f"unknown key {key!r}", hint
    if kind == "missing":
        key = str(path[-1]) if path else "?"
        return f"the key {key!r} is required here", f"add '{key}:'"
    if kind in _EXPECTED:
        return (
            f"expected {_EXPECTED[kind]}, got {_show(value)}",
            f"write {_EXPECTED[kind]} here",
        )
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    hint = ""
    if kind == "literal_error":
        hint = "use one of the values listed"
        message = f"{_show(value)} is not allowed: {message[0].lower()}{message[1:]}"
    elif ";" in message:
        message, _, hint = message.partition("; ")
    return message, hint


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None or isinstance(value, Null):
        return "nothing (null)"
    return f"{value!r} ({type(value).__name__})"


def _allowed(known: list[str]) -> str:
    if not known:
        return "remove it"
    shown = ", ".join(sorted(known)[:12])
    more = ", ..." if len(known) > 12 else ""
    return f"remove it; keys allowed here: {shown}{more} (and x-* extensions)"


def _known_keys(model: type[BaseModel], path: Sequence[str | int]) -> list[str]:
    """The keys the model at ``path`` accepts (by alias), for 'did you mean' hints."""
    current: Any = model
    for part in path:
        current = _step(current, part)
        if current is None:
            return []
    target = _model_in(current)
    if target is None:
        return []
    return [f.alias or name for name, f in target.model_fields.items() if name != "extensions"]


def _step(annotation: Any, part: str | int) -> Any:
    target = _model_in(annotation)
    if target is not None:
        if isinstance(part, int):
            return None
        for name, field in target.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
        return None
    container = _container_in(annotation)
    if container is None:
        return None
    args = get_args(container)
    return args[-1] if args else None


def _unwrap(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [leaf for arg in get_args(annotation) for leaf in _unwrap(arg)]
    return [annotation]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for leaf in _unwrap(annotation):
        if isinstance(leaf, type) and issubclass(leaf, BaseModel):
            return leaf
    return None


def _container_in(annotation: Any) -> Any:
    for leaf in _unwrap(annotation):
        if get_origin(leaf) in (dict, list):
            return leaf
    return None
