"""The base of the compose model: strict frozen models with ``x-*`` extensions, and the value types.

Every compose model derives from ``ComposeModel``: frozen, ``extra="forbid"``, and where compose
allows ``x-*`` keys (``ComposeModel``) they are split into ``extensions`` before validation
and put back as ``x-*`` keys when the model is dumped, so the canonical form reads as compose.
Models where compose allows no ``x-*`` key derive from ``StrictModel``.

The annotated value types below turn compose's loose YAML values (``"true"``, ``"3"``,
``KEY=VAL`` lists, ``"512m"``, ``"1m30s"``) into one canonical Python value each, the way
compose-go casts them after interpolation. Used by the ``compose_*`` modules.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    model_serializer,
    model_validator,
)

from kedge.specs import durations

__all__ = [
    "NAME_PATTERN",
    "NULL",
    "Bool",
    "Bytes",
    "ComposeModel",
    "DedupedList",
    "Duration",
    "Float",
    "Int",
    "ListOrDict",
    "Options",
    "Scalar",
    "StrictModel",
    "StringList",
    "StringOrNumber",
    "UniqueList",
    "project_dir_of",
    "resolve_path",
    "to_dict",
]

# the names compose allows for services, networks, volumes, secrets and configs
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9._-]+$")
EXTENSIONS_ALIAS = "x-*"

_TRUE = {"y", "yes", "true", "on"}
_FALSE = {"n", "no", "false", "off"}


class Null:
    """An explicit YAML ``null`` where compose's schema does not allow one: fails validation."""

    def __repr__(self) -> str:
        return "null"


NULL = Null()


class StrictModel(BaseModel):
    """A frozen model that forbids unknown keys (where compose allows no ``x-*`` key either).

    An explicit ``null`` is an error unless the key is in ``nullable`` (compose's schema allows
    ``null`` for few keys: ``command: null`` is fine, ``environment: null`` is not).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _mark_nulls(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or None not in data.values():
            return data
        return {
            k: NULL if v is None and k not in cls.nullable and not str(k).startswith("x-") else v
            for k, v in data.items()
        }


class ComposeModel(StrictModel):
    """A frozen model that forbids unknown keys but keeps ``x-*`` keys in ``extensions``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=False)

    extensions: dict[str, Any] = Field(default_factory=dict, alias=EXTENSIONS_ALIAS)

    @model_validator(mode="before")
    @classmethod
    def _split_extensions(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        declared = {f.alias for f in cls.model_fields.values() if f.alias}
        found = {
            k: v
            for k, v in data.items()
            if isinstance(k, str) and k.startswith("x-") and k not in declared
        }
        if not found:
            return data
        rest = {k: v for k, v in data.items() if k not in found}
        rest[EXTENSIONS_ALIAS] = found
        return rest

    @model_serializer(mode="wrap")
    def _join_extensions(self, handler: SerializerFunctionWrapHandler) -> Any:
        dumped = handler(self)
        if isinstance(dumped, dict):
            extensions = dumped.pop("extensions", None) or dumped.pop(EXTENSIONS_ALIAS, None)
            if extensions:
                dumped.update(extensions)
        return dumped


# --- value conversions (compose-go casts these after interpolation) ---------------------------


def to_bool(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"{value!r} is not a boolean; write true or false")
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not a boolean; write true or false")
    return value


def to_int(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an integer") from exc
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_float(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a number") from exc
    return value


def to_scalar_text(value: Any) -> Any:
    """A YAML scalar as compose turns it into text (``true`` → ``"true"``, ``1.5`` → ``"1.5"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def to_string_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    return value


def unique_items(value: Any) -> Any:
    """Compose's ``uniqueItems``: a list that names the same item twice is an error."""
    if isinstance(value, list):
        seen: set[Any] = set()
        for item in value:
            key = hashable(item)
            if key in seen:
                raise ValueError(f"{item!r} is listed twice; remove one")
            seen.add(key)
    return value


def dedupe_items(value: Any) -> Any:
    """Compose's unicity on lists it merges (``cap_add``, ``ports``…): a repeat is dropped."""
    if isinstance(value, list):
        seen: set[Any] = set()
        kept: list[Any] = []
        for item in value:
            key = hashable(item)
            if key not in seen:
                seen.add(key)
                kept.append(item)
        return kept
    return value


def hashable(item: Any) -> Any:
    """A hashable stand-in for a YAML value, equal for equal values (``dict`` ignores order),
    so that lists are checked for repeats in linear time."""
    if isinstance(item, Mapping):
        return (Mapping, frozenset((k, hashable(v)) for k, v in item.items()))
    if isinstance(item, list | tuple):
        return (list, tuple(hashable(v) for v in item))
    try:
        hash(item)
    except TypeError:
        return (repr, repr(item))
    return item


def to_dict(value: Any, *, separator: str = "=") -> Any:
    """Compose's ``list_or_dict``: a ``KEY=VAL`` list or a mapping, as one mapping.

    A list item without a separator maps to ``None`` (for ``environment``: take the value from
    the environment Kedge runs in; see the loader).
    """
    if value is None:
        return {}
    if isinstance(value, list):
        result: dict[str, Any] = {}
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"list items must be strings 'KEY{separator}VALUE', got {item!r}")
            key, found, text = item.partition(separator)
            if key:  # compose keeps nothing of an item without a name ('', '=v')
                result[key] = text if found else None
        return result
    if isinstance(value, Mapping):
        if "" in value:
            raise ValueError("a key is empty; write 'KEY: value'")
        return {str(k): _mapping_value(v) for k, v in value.items()}
    raise ValueError(f"expected a mapping or a list of 'KEY{separator}VALUE', got {value!r}")


def to_options(value: Any) -> Any:
    """Driver options: a mapping only (compose's schema takes no ``KEY=VAL`` list here)."""
    if isinstance(value, list):
        raise ValueError("expected a mapping of option names to values, got a list")
    return to_dict(value)


def _mapping_value(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return to_scalar_text(value)
    raise ValueError(f"values must be strings, numbers or booleans, got {value!r}")


def _to_duration(value: Any) -> timedelta:
    return durations.parse_duration(value)


def _to_size(value: Any) -> int:
    return durations.parse_size(value)


Bool = Annotated[bool, BeforeValidator(to_bool)]
Int = Annotated[int, BeforeValidator(to_int)]
Float = Annotated[float, BeforeValidator(to_float)]
Bytes = Annotated[int, BeforeValidator(_to_size)]
Duration = Annotated[
    timedelta,
    BeforeValidator(_to_duration),
    PlainSerializer(durations.format_duration, return_type=str),
]
StringOrNumber = Annotated[str, BeforeValidator(to_scalar_text)]
Scalar = str | None
ListOrDict = Annotated[dict[str, Scalar], BeforeValidator(to_dict)]
Options = Annotated[dict[str, Scalar], BeforeValidator(to_options)]
StringList = Annotated[list[str], BeforeValidator(to_string_list)]
UniqueList = Annotated[list[str], BeforeValidator(unique_items)]
DedupedList = Annotated[list[str], BeforeValidator(dedupe_items)]


# --- paths --------------------------------------------------------------------------------------


def project_dir_of(info: ValidationInfo) -> Path | None:
    """The project folder passed by the loader in the validation context, if any."""
    context = info.context
    if isinstance(context, Mapping):
        found = context.get("project_dir")
        if isinstance(found, Path):
            return found
    return None


def resolve_path(path: str, info: ValidationInfo) -> str:
    """A host path as compose resolves it: ``~`` expanded, relative to the project folder."""
    if path.startswith("~"):
        return str(Path(path).expanduser())
    base = project_dir_of(info)
    if base is None or Path(path).is_absolute():
        return path
    return os.path.normpath(base / path)
