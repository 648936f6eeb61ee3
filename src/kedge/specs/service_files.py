"""The files a service reads beyond its spec: ``env_file``, ``label_file``, and the digests of
secret/config files and build contexts.

``read_service_files`` merges ``env_file`` values into ``environment`` (the spec's own values
win, as in compose), ``label_file`` values into ``labels``, and takes bare ``environment`` keys
and ``build.args`` from the environment Kedge runs in. A missing required ``env_file`` or a
missing ``label_file`` is an error, as in compose, located at its entry in the spec.
``record_sources`` fills ``StackSpec.sources`` for ``digests.config_hash``;
a missing secret file or build context is no error (compose's ``config`` accepts it).
Called by ``kedge.specs.loader``; what may be read is its ``reads.Reads``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kedge.errors import Location, SpecError, SpecErrors
from kedge.specs import digests, envfiles
from kedge.specs.compose_deploy import is_remote
from kedge.specs.compose_service import Service
from kedge.specs.reads import Reads
from kedge.specs.stack import StackSpec

__all__ = ["read_service_files", "record_sources"]

Locate = Callable[[Sequence[str | int]], Location]


def read_service_files(
    spec: StackSpec,
    *,
    env: Mapping[str, str],
    project_dir: Path | None,
    reads: Reads,
    interpolate: bool,
    locate: Locate,
) -> StackSpec:
    """``spec`` with env files and label files merged, and bare keys resolved from ``env``."""
    services: dict[str, Service] = {}
    errors: list[SpecError] = []
    for name, service in spec.services.items():
        try:
            services[name] = _read_files(
                name,
                service,
                env=env,
                project_dir=project_dir,
                reads=reads,
                interpolate=interpolate,
                locate=locate,
            )
        except SpecError as exc:
            errors.append(exc)
    if errors:
        raise SpecErrors(errors)
    return spec.model_copy(update={"services": services})


def _read_files(
    name: str,
    service: Service,
    *,
    env: Mapping[str, str],
    project_dir: Path | None,
    reads: Reads,
    interpolate: bool,
    locate: Locate,
) -> Service:
    environment: dict[str, str | None] = {}
    labels: dict[str, str | None] = {}
    files = () if reads.skips_service_files else service.env_file
    for index, env_file in enumerate(files):
        where = locate(("services", name, "env_file", index))
        path = Path(env_file.path)
        if not reads.is_file(path, what="env_file", where=where):
            if env_file.required:
                raise SpecError(
                    f"env file {env_file.path} not found",
                    location=where,
                    hint="create it, or mark the entry 'required: false'",
                )
            continue
        environment.update(_read_env_file(path, format=env_file.format, env=env, reads=reads))
    for index, label_file in enumerate(() if reads.skips_service_files else service.label_file):
        path = Path(label_file)
        path = path if path.is_absolute() or project_dir is None else project_dir / path
        where = locate(("services", name, "label_file", index))
        labels.update(_read_label_file(path, env=env, where=where, reads=reads))
    environment.update(service.environment)
    if interpolate:
        environment = {k: env.get(k) if v is None else v for k, v in environment.items()}
    labels.update(service.labels)
    update: dict[str, Any] = {}
    if environment != service.environment:
        update["environment"] = environment
    if labels != service.labels:
        update["labels"] = labels
    build = service.build
    if build is not None and interpolate and None in build.args.values():
        args = {k: env.get(k) if v is None else v for k, v in build.args.items()}
        update["build"] = build.model_copy(
            update={"args": {k: v for k, v in args.items() if v is not None}}
        )
    return service.model_copy(update=update) if update else service


def _read_label_file(
    path: Path, *, env: Mapping[str, str], where: Location, reads: Reads
) -> dict[str, str]:
    """A ``label_file`` (the env-file syntax). A missing or unreadable one is reported at its
    ``label_file`` entry in the spec; an error inside it at its own line, naming ``label_file``.
    """
    if not reads.is_file(path, what="label_file", where=where):
        raise SpecError(
            f"label_file {str(path)!r} not found",
            location=where,
            hint="create it, or remove it from label_file",
        )
    try:
        return envfiles.read_env_file(path, lookup=env, reads=reads)
    except SpecError as exc:
        if exc.location.line is None:
            raise SpecError(
                f"label_file {str(path)!r} cannot be read", location=where, hint=exc.hint
            ) from exc
        raise SpecError(
            f"in label_file: {exc.message}", location=exc.location, hint=exc.hint
        ) from exc


def _read_env_file(
    path: Path, *, format: str | None, env: Mapping[str, str], reads: Reads
) -> dict[str, str]:
    """An env file in compose's format, or ``format: raw`` (``KEY=VALUE`` taken literally)."""
    if format in (None, ""):
        return envfiles.read_env_file(path, lookup=env, reads=reads)
    if format != "raw":
        raise SpecError(
            f"unsupported env_file format {format!r}",
            location=Location(str(path)),
            hint="leave 'format' out, or use 'raw'",
        )
    values: dict[str, str] = {}
    content = reads.read_bytes(path, what="env_file", where=Location(str(path)))
    for line in content.decode("utf-8", errors="replace").splitlines():
        key, found, value = line.partition("=")
        if found and key.strip() and not key.lstrip().startswith("#"):
            values[key.strip()] = value
    return values


def record_sources(
    spec: StackSpec, *, env: Mapping[str, str], reads: Reads, locate: Locate
) -> StackSpec:
    """Record the digests of the secret/config files and build contexts that exist, and of
    the values of secrets and configs read from variables of ``env`` that are set.

    A pass copies such a value from the environment of the process that carries it out
    (``reconcilers.copies``); recording its digest here puts it into the config hash, so a
    changed value recreates the containers that use it (compose keeps them). A file the spec
    may not read (``reads``) is an error, even when it does not exist: a pass would read it.
    """
    found: dict[str, str] = {}
    for kind, objects in (("secrets", spec.secrets), ("configs", spec.configs)):
        for key, obj in objects.items():
            if obj.file and reads.skips_service_files:
                continue
            if obj.file:
                where = locate((kind, key, "file"))
                value = digests.file_digest(
                    Path(obj.file), reads=reads, what=f"{kind}.{key}.file", where=where
                )
                if value is not None:
                    found[f"{kind}.{key}"] = value
            elif obj.environment and env.get(obj.environment) is not None:
                salt = f"{spec.name}/{kind}.{key}"
                found[f"{kind}.{key}"] = digests.value_digest(env[obj.environment], salt=salt)
    for name, service in spec.services.items():
        build = service.build
        if build is None or is_remote(build.context):
            continue
        if reads.skips_service_files:
            continue
        where = locate(("services", name, "build"))
        value = digests.context_digest(
            Path(build.context), reads=reads, what="the build context", where=where
        )
        if value is not None:
            found[f"build.{name}"] = value
    return spec.model_copy(update={"sources": found}) if found else spec
