"""Compose's project rules: which files, variables, name and profiles a compose-like verb reads.

``kedge up``, ``down`` and ``plan`` read a project as ``docker compose`` does (compose-go's
``cli.ProjectOptions``, checked against the compose binary in
``tests/unit/specs/test_projects.py``):

- files: every ``-f`` in order; else ``COMPOSE_FILE`` (split on ``COMPOSE_PATH_SEPARATOR``,
  default ``os.pathsep``); else the compose file the working directory or its nearest parent
  holds, followed by its override (``discovery``). Later files override the first
  (``loader.load_project``).
- project directory: the first file's folder; relative paths in every file are relative to it.
- variables: the process environment over the ``--env-file`` files, read in order (a later one
  wins); without ``--env-file``, over the ``.env`` of the working directory when no ``-f`` is
  given (it may set ``COMPOSE_FILE``), then the ``.env`` of the project directory for what is
  still unset.
- name: ``-p``, else ``COMPOSE_PROJECT_NAME`` (from those variables) — both must already be a
  valid name, as compose requires; else the last top-level ``name:`` of the files, normalised;
  else the project directory's name, normalised (``normalize_stack_name``).
- profiles: every ``--profile``; without any, ``COMPOSE_PROFILES``.

"Project" is compose's word, kept here for what compose means by it (the files, folder,
variables and options a verb reads, and ``-p/--project-name``); what it loads into is a
stack, and the project's name is the stack's name.

The spec folder keeps its own rule (``loader.load_file``: one stack per file, named by
``name:`` or the file's stem). ``resolve`` reads only the env files (pathlib) and looks for the
compose files; ``loader.load_project`` loads what it resolved. Called by ``kedge.cli.local``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kedge.errors import Location, SpecError
from kedge.specs import discovery, envfiles
from kedge.specs.stack import is_stack_name, normalize_stack_name

__all__ = [
    "Project",
    "ProjectOptions",
    "profiles_of",
    "read_environment",
    "resolve",
    "resolve_name",
]


@dataclass(frozen=True, slots=True)
class ProjectOptions:
    """What the user gave: ``-f`` (repeatable), ``-p``, ``--env-file``, ``--profile``."""

    files: tuple[Path, ...] = ()
    name: str | None = None
    env_files: tuple[Path, ...] = ()
    profiles: tuple[str, ...] = ()

    @property
    def files_only(self) -> bool:
        """Whether only files are given, or none (what ``kedge up``'s fast path answers:
        ``specs.inputs.project_fingerprint``)."""
        return not (self.name or self.env_files or self.profiles)


@dataclass(frozen=True, slots=True)
class Project:
    """A resolved project: absolute files (the first is the base), its folder, its variables,
    the name given imperatively (``-p``, ``COMPOSE_PROJECT_NAME``) if any, the name of its
    folder, and the profiles to enable."""

    files: tuple[Path, ...]
    directory: Path
    env: dict[str, str]
    name: str | None
    folder_name: str
    profiles: tuple[str, ...]
    #: what compose warns of too (several compose files where one is used)
    warnings: tuple[str, ...] = ()


def resolve(options: ProjectOptions, *, cwd: Path, environ: Mapping[str, str]) -> Project:
    """The project ``options`` name, from the working directory ``cwd``; ``SpecError`` when no
    file is found, an env file is missing, or an imperative name is invalid."""
    if options.name is not None:
        resolve_name(options.name, given="-p")
    explicit = bool(options.files)
    early = environ if explicit else _environment(options.env_files, cwd / ".env", environ, cwd)
    files = _files(options.files, cwd=cwd, env=early)
    directory = files[0].parent
    env = _environment(options.env_files, directory / ".env", early, cwd)
    name = options.name or env.get("COMPOSE_PROJECT_NAME") or None
    if name is not None:
        name = resolve_name(name, given="-p" if options.name else "COMPOSE_PROJECT_NAME")
    profiles = options.profiles or profiles_of(env)
    return Project(
        files=files,
        directory=directory,
        env=env,
        name=name,
        folder_name=normalize_stack_name(directory.name),
        profiles=tuple(profiles),
        warnings=() if options.files or early.get("COMPOSE_FILE") else _several(directory),
    )


def _several(folder: Path) -> tuple[str, ...]:
    """compose's warnings when a folder holds several compose (or override) files."""
    return tuple(
        f"found several {kind} files in {folder}: {', '.join(p.name for p in found)};"
        f" using {found[0].name}"
        for kind, found in zip(("compose", "override"), discovery.candidates(folder), strict=True)
        if len(found) > 1
    )


def resolve_name(name: str, *, given: str) -> str:
    """A name given imperatively (``-p``, ``COMPOSE_PROJECT_NAME``): compose takes it as it is
    and refuses an invalid one, where it normalises the files' ``name:`` and the folder's."""
    if not is_stack_name(name):
        raise SpecError(
            f"invalid project name {name!r} (from {given})",
            location=Location(given),
            hint="use lowercase letters, digits, '-' and '_', starting with a letter or digit",
        )
    return name


def _files(given: Sequence[Path], *, cwd: Path, env: Mapping[str, str]) -> tuple[Path, ...]:
    if not given and env.get("COMPOSE_FILE"):
        separator = env.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        given = [Path(p) for p in env["COMPOSE_FILE"].split(separator) if p]
    if not given:
        return _discover(cwd)
    files = tuple(_absolute(path, cwd=cwd) for path in given)
    for path in files:
        if not path.is_file():
            raise SpecError(
                f"the compose file {str(path)!r} does not exist",
                location=Location(str(path)),
                hint="check the path given to -f or COMPOSE_FILE (relative to this folder)",
            )
    return files


def _discover(cwd: Path) -> tuple[Path, ...]:
    found = discovery.discover(cwd)
    if not found:
        raise SpecError(
            "no compose file found in this folder or its parents",
            location=Location(str(cwd)),
            hint=f"give -f FILE, or add {discovery.DEFAULT_FILES[0]} here",
        )
    return found


def _absolute(path: Path, *, cwd: Path) -> Path:
    return Path(os.path.normpath(cwd / path.expanduser()))


def _environment(
    env_files: Sequence[Path], dotenv: Path, base: Mapping[str, str], cwd: Path
) -> dict[str, str]:
    """``base`` over the ``--env-file`` files (or ``dotenv`` when there are none)."""
    if env_files:
        paths = [_absolute(p, cwd=cwd) for p in env_files]
        for path in paths:
            if not path.is_file():
                raise SpecError(
                    f"the env file {str(path)!r} does not exist",
                    location=Location(str(path)),
                    hint="check the path given to --env-file (relative to this folder)",
                )
    else:
        paths = [dotenv] if dotenv.is_file() else []
    return read_environment(paths, env=base)


def read_environment(paths: Sequence[Path], *, env: Mapping[str, str]) -> dict[str, str]:
    """``env`` over the variables of the env files ``paths`` (a later file wins; each sees the
    values before it), as compose reads ``.env`` and ``--env-file``: the environment wins."""
    values: dict[str, str] = {}
    for path in paths:
        values.update(envfiles.read_env_file(path, lookup={**env, **values}))
    return {**values, **env}


def profiles_of(env: Mapping[str, str]) -> list[str]:
    """The profiles ``COMPOSE_PROFILES`` enables (comma-separated)."""
    return [p.strip() for p in env.get("COMPOSE_PROFILES", "").split(",") if p.strip()]
