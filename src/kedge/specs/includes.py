"""Compose's top-level ``include``: other compose files whose resources join this stack.

An entry is a path, or ``{path, env_file, project_directory}`` where ``path`` may list several
files (the first is the included project, the others override it, as ``-f a -f b`` would).
The included project reads its paths relative to its own folder (or ``project_directory``)
and its variables from the environment merged with its ``.env`` (or the ``env_file`` listed,
which must exist). Its resources join the including file's; a name defined on both sides is an
error unless both define the same thing (compose's ``importResources``).
``read_entry`` and ``import_resources`` are called by ``kedge.specs.loader``, which loads the
files and merges them (``overrides``, compose's rules for ``-f a -f b``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from kedge.errors import Location, SpecError
from kedge.specs import envfiles
from kedge.specs.compose_service import Service
from kedge.specs.compose_top import Config, Network, Secret, Volume
from kedge.specs.reads import Reads

__all__ = ["IncludeEntry", "import_resources", "read_entry"]

SECTIONS: dict[str, type[BaseModel]] = {
    "services": Service,
    "networks": Network,
    "volumes": Volume,
    "secrets": Secret,
    "configs": Config,
}


@dataclass(frozen=True)
class IncludeEntry:
    """One ``include`` entry, resolved: its files, its project folder and its environment."""

    paths: list[Path]
    project_dir: Path
    env: dict[str, str]


def read_entry(
    entry: Any,
    *,
    resolve: Callable[[str], Path],
    env: Mapping[str, str],
    reads: Reads,
    where: Location,
) -> IncludeEntry:
    """Resolve one ``include`` entry (paths against the including file's folder)."""
    if isinstance(entry, str):
        entry = {"path": entry}
    if not isinstance(entry, dict) or "path" not in entry:
        raise SpecError(
            "an include entry needs a 'path'", location=where, hint="write '- path: other.yaml'"
        )
    unknown = sorted(set(entry) - {"path", "env_file", "project_directory"})
    if unknown:
        raise SpecError(
            f"unknown key {unknown[0]!r} in include",
            location=where,
            hint="include takes path, env_file and project_directory",
        )
    paths = [resolve(str(p)) for p in _strings(entry["path"], key="path", where=where)]
    if not paths:
        raise SpecError("include.path is empty", location=where, hint="name a compose file")
    for path in paths:
        reads.check(path, what="include", where=where)
    folder = entry.get("project_directory")
    project_dir = resolve(str(folder)) if folder else paths[0].parent
    values: dict[str, str] = {}
    if entry.get("env_file") is None:
        dotenv = project_dir / ".env"
        if reads.is_file(dotenv, what="include's .env", where=where):
            values = envfiles.read_env_file(dotenv, lookup=env, reads=reads)
    else:
        for name in _strings(entry["env_file"], key="env_file", where=where):
            path = resolve(name)
            reads.check(path, what="include.env_file", where=where)
            values.update(envfiles.read_env_file(path, lookup=env, reads=reads))
    return IncludeEntry(paths=paths, project_dir=project_dir, env={**env, **values})


def _strings(value: Any, *, key: str, where: Location) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise SpecError(f"include.{key} must be a path or a list of paths", location=where)
    return list(items)


def import_resources(
    data: dict[str, Any],
    included: dict[str, Any],
    *,
    where: Location,
    context: dict[str, Any],
) -> None:
    """Add the included (canonical) resources to ``data``; a different same-named one is an
    error. ``context`` is the validation context of ``data`` (its project folder).
    """
    for section, model in SECTIONS.items():
        theirs = included.get(section) or {}
        ours = data.get(section)
        ours = dict(ours) if isinstance(ours, dict) else {}
        for key, value in theirs.items():
            if section == "networks" and key == "default" and value == {}:
                continue  # the implicit default network; this stack declares its own if used
            if key in ours and not _same(model, ours[key], value, context=context):
                raise SpecError(
                    f"{section}.{key} conflicts with imported resource",
                    location=where,
                    hint=f"rename one of the two, or remove it from {section} here",
                )
            ours.setdefault(key, value)
        if ours or section in data:
            data[section] = ours


def _same(model: type[BaseModel], ours: Any, theirs: Any, *, context: dict[str, Any]) -> bool:
    try:
        mine = model.model_validate({} if ours is None else ours, context=context)
        other = model.model_validate(theirs)
    except ValidationError:
        return False
    return mine == other
