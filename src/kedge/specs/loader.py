"""From spec text to a validated ``StackSpec``: the one way into the compose model.

``parse`` runs the steps in compose's order: YAML (``yamlsource``), interpolation
(``interpolation``, with the environment passed in), the obsolete ``version`` key (a warning),
``include`` and ``extends`` (carried out, as compose does), the model (pydantic errors are
translated once, in ``diagnostics``), ``env_file``/``label_file`` (merged into ``environment``
and ``labels``) and the cross-field rules (``validation``). Every problem is a ``SpecError``
with file, line, column, path and hint; several are raised together as ``SpecErrors``.

Files other than the spec — ``env_file``, ``label_file``, ``include``d and ``extends``ed
files, and the digests of secret/config files and build contexts (``StackSpec.sources``) —
are read only as ``reads`` allows (``reads.Reads``: inside the spec's folder on the server,
none for a spec posted without a spec root, anywhere for the local verbs), regular files
only and capped. A missing secret file or build context is not an error (compose's
``config`` accepts it); a missing required ``env_file`` is.

``load_file`` reads a file and the ``.env`` beside it (the process environment wins over
``.env``, as in compose): the spec folder's rule, one stack per file. ``load_project`` reads
a compose project that ``projects.resolve`` found (the compose-like verbs' rule): its files
merged in order with compose's override rules (``overrides``, as the documents of one file),
every relative path relative to the first file's folder, and the name and profiles the project
gives. ``canonical``/``from_canonical`` are how the store keeps a spec.
Called by the CLI (``validate``, ``up``, ``down``, ``plan``), the controller (folder watcher)
and the API.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kedge.errors import Location, SpecError, SpecErrors
from kedge.specs import (
    diagnostics,
    digests,
    extends,
    includes,
    interpolation,
    overrides,
    projects,
    redaction,
    service_files,
    validation,
    yamlsource,
)
from kedge.specs import policy as host_policy
from kedge.specs.compose_base import NULL
from kedge.specs.compose_service import Service
from kedge.specs.policy import Policy
from kedge.specs.reads import Reads
from kedge.specs.stack import StackSpec, normalize_stack_name

__all__ = ["canonical", "from_canonical", "load_file", "load_project", "parse"]

_TOP_KEYS = {"version", "name", "include", "services", "networks", "volumes", "secrets", "configs"}
_TOP_KEYS |= {"models"}
_MAX_INCLUDE_DEPTH = 10
_KEY_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


def load_file(
    path: Path | str,
    *,
    env: Mapping[str, str] | None = None,
    warnings: list[str] | None = None,
    policy: Policy | None = None,
    enforce: bool = True,
) -> StackSpec:
    """Load the spec file at ``path``; ``env`` defaults to the process environment.
    ``policy`` and ``enforce`` as for ``parse``."""
    given = str(path)  # errors name the file as the caller did
    path = Path(path).absolute()
    try:
        content = Reads.local().read_bytes(path, what="the spec file", where=Location(given))
    except OSError as exc:
        raise SpecError(
            f"cannot read the spec file: {exc.strerror}",
            location=Location(given),
            hint="check the path and its permissions",
        ) from exc
    dotenv = [path.parent / ".env"] if (path.parent / ".env").is_file() else []
    environment = projects.read_environment(dotenv, env=os.environ if env is None else env)
    return parse(
        content,
        source=given,
        project_dir=path.parent,
        reads=Reads.local(),
        env=environment,
        name=normalize_stack_name(path.stem),
        warnings=warnings,
        policy=policy,
        enforce=enforce,
    )


def load_project(
    project: projects.Project,
    *,
    warnings: list[str] | None = None,
    policy: Policy | None = None,
    enforce: bool = True,
) -> StackSpec:
    """Load the compose project ``project`` (see the module docstring); ``policy`` and
    ``enforce`` as for ``parse``. Its files are read as the local verbs read (``Reads.local``)."""
    context = _Context(
        env=dict(project.env),
        interpolate=True,
        project_dir=project.directory,
        reads=Reads.local(),
        warnings=warnings if warnings is not None else [],
        seen=(str(project.files[0]),),
        profiles=project.profiles,
    )
    several = len(project.files) > 1
    try:
        documents = [
            context._read_document(
                path,
                what="the spec file",
                where=Location(str(path)),
                allow_empty=several,
                named=True,
            )
            for path in project.files
        ]
        return context.build(
            documents,
            fallback=project.folder_name,
            imperative=project.name,
            policy=policy,
            enforce=enforce,
        )
    except SpecError as exc:
        raise redaction.redact_error(exc, context.read) from None


def parse(
    content: bytes | str,
    *,
    source: str = "<string>",
    project_dir: Path | None = None,
    reads: Reads | None = None,
    env: Mapping[str, str] | None = None,
    interpolate: bool = True,
    name: str | None = None,
    warnings: list[str] | None = None,
    policy: Policy | None = None,
    enforce: bool = True,
) -> StackSpec:
    """Parse and validate one spec; raise ``SpecError``/``SpecErrors`` saying what is wrong.

    ``name`` is the stack name used when the spec has no top-level ``name`` (``load_file``
    passes the file's stem). Warnings (obsolete ``version``, unset variables) are appended to
    ``warnings`` when a list is given. ``reads`` says which other files the spec may read;
    by default anywhere (``Reads.local``, ``Reads.unrooted`` without a ``project_dir``).
    With a ``policy``, its refusals (on the resolved spec) are errors, or warnings when not
    ``enforce``. No error quotes a value that interpolation read (``redaction``).
    """
    if reads is None:
        reads = Reads.local() if project_dir is not None else Reads.unrooted()
    context = _Context(
        env=dict(env or {}),
        interpolate=interpolate,
        project_dir=project_dir,
        reads=reads,
        warnings=warnings if warnings is not None else [],
        seen=(str(Path(source).absolute()) if project_dir else source,),
    )
    try:
        return context.build(
            [yamlsource.load_yaml(content, source=source)],
            fallback=name,
            policy=policy,
            enforce=enforce,
        )
    except SpecError as exc:
        raise redaction.redact_error(exc, context.read) from None


def canonical(spec: StackSpec) -> dict[str, Any]:
    """The JSON-able canonical document of ``spec``; ``from_canonical`` turns it back."""
    return digests.canonical_document(spec)


def from_canonical(document: Mapping[str, Any]) -> StackSpec:
    """The ``StackSpec`` that ``canonical`` made ``document`` from."""
    return StackSpec.model_validate(dict(document))


def _validate(data: dict[str, Any], *, document: Any, project_dir: Path | None) -> StackSpec:
    try:
        return StackSpec.model_validate(data, context={"project_dir": project_dir})
    except ValidationError as exc:
        errors = diagnostics.from_validation_error(
            exc, data=data, model=StackSpec, locate=document.locate
        )
        raise SpecErrors(errors) from exc


@dataclass
class _Context:
    """What one ``parse`` carries through its steps (and into included files)."""

    env: dict[str, str]
    interpolate: bool
    project_dir: Path | None
    reads: Reads
    warnings: list[str]
    seen: tuple[str, ...]
    #: the profiles to enable; None reads ``COMPOSE_PROFILES`` from ``env``
    profiles: tuple[str, ...] | None = None
    problems: list[SpecError] = field(default_factory=list)
    #: the values interpolation read (shared with included and extended files' contexts)
    read: set[str] = field(default_factory=set)

    def build(
        self,
        documents: list[yamlsource.Document],
        *,
        fallback: str | None,
        imperative: str | None = None,
        policy: Policy | None = None,
        enforce: bool = True,
    ) -> StackSpec:
        """The spec of ``documents`` (one file's, or a project's files in order): each one
        prepared, merged onto the ones before it, named, validated and checked — against
        ``policy`` too, on the resolved spec: refused, or warned of when not ``enforce``."""
        data = self.merge(documents)
        located = _Files(tuple(documents))
        self.enable_profiles(data)
        if imperative is not None:
            data["name"] = imperative  # -p or COMPOSE_PROJECT_NAME, checked by projects
        else:
            declared = NULL if "name" in data and data["name"] is None else data.get("name")
            data["name"] = self.stack_name(declared, fallback=fallback, document=located)
        spec = _validate(data, document=located, project_dir=self.project_dir)
        spec = self.read_service_files(spec, document=located)
        problems = validation.check(spec)
        if problems:
            errors = [problem.to_error(located.locate) for problem in problems]
            errors.sort(key=lambda e: (e.location.line or 0, e.location.column or 0))
            raise SpecErrors(errors)
        refused = [] if policy is None else host_policy.errors(spec, policy, locate=located.locate)
        if refused and enforce:
            raise SpecErrors(refused)
        self.warnings.extend(e.render() for e in refused)
        return self.record_sources(spec, document=located)

    def merge(self, documents: list[yamlsource.Document]) -> dict[str, Any]:
        """The first document overridden by the others, as compose merges ``-f a -f b``; an
        empty file among several adds nothing, as in compose."""
        present = [document for document in documents if document.data] or documents[:1]
        data = self.prepare(present[0])
        for document in present[1:]:
            data = overrides.merge_document(data, self.prepare(document), removed=document.removed)
        return data

    def prepare(self, document: Any) -> dict[str, Any]:
        """Plain data ready for the model: interpolated, ``include`` and ``extends`` done."""
        data = document.data
        if self.interpolate:
            unset: list[Any] = []
            env = redaction.Recording(self.env, self.read)
            data = interpolation.interpolate(data, env, locate=document.locate, unset=unset)
            self.warnings.extend(u.render() for u in unset)
        data = dict(data)
        if not data:
            raise SpecError(
                "empty compose file",
                location=document.locate(()),
                hint="declare at least 'services:'",
            )
        self._check_top_keys(data, document=document)
        if "version" in data:
            if not isinstance(data.pop("version"), str):
                raise SpecError(
                    "version must be a string",
                    location=document.locate(("version",)),
                    hint="remove 'version:', it is obsolete",
                )
            self.warnings.append(
                f"{document.source}: the attribute 'version' is obsolete, it will be ignored;"
                " remove it"
            )
        if "include" in data:
            self._include(data, data.pop("include"), document=document)
        services = data.get("services")
        if isinstance(services, dict):
            data["services"] = extends.apply_extends(
                services, read_service=self._read_base_service, locate=document.locate
            )
        return data

    def _check_top_keys(self, data: dict[str, Any], *, document: Any) -> None:
        errors = []
        for key in data:
            if key in _TOP_KEYS or (key.startswith("x-")):
                continue
            if not _KEY_LIKE.match(str(key)):  # not a key someone wrote: the file may be
                where = document.locate((key,))  # anything (an included /etc/shadow)
                errors.append(
                    SpecError(
                        "an unknown top-level key (not shown: it is no compose key)",
                        location=Location(where.file, where.line, where.column),
                        hint="check that this is a compose file",
                    )
                )
                continue
            close = difflib.get_close_matches(key, sorted(_TOP_KEYS), n=1)
            errors.append(
                SpecError(
                    f"unknown top-level key {key!r}",
                    location=document.locate((key,)),
                    hint=f"did you mean {close[0]!r}?" if close else "remove it",
                )
            )
        if errors:
            raise SpecErrors(errors)

    def enable_profiles(self, data: dict[str, Any]) -> None:
        """Add the profiles asked for (``--profile``, else ``COMPOSE_PROFILES``, as compose
        reads them) to ``x-kedge.profiles``."""
        names = list(self.profiles) if self.profiles is not None else projects.profiles_of(self.env)
        meta = data.get("x-kedge")
        if not names or not (meta is None or isinstance(meta, dict)):
            return
        meta = dict(meta or {})
        declared = meta.get("profiles") or []
        if isinstance(declared, list):
            meta["profiles"] = [*declared, *(n for n in names if n not in declared)]
            data["x-kedge"] = meta

    def stack_name(self, declared: Any, *, fallback: str | None, document: Any) -> str:
        """The top-level ``name``, normalised as compose does (``My App`` → ``myapp``)."""
        if declared is not None and not isinstance(declared, str):
            raise SpecError(
                f"name must be a string, got {declared!r}",
                location=document.locate(("name",)),
                hint="write e.g. 'name: shop'",
            )
        normalized = normalize_stack_name(declared or "")
        if declared and normalized != declared:
            self.warnings.append(
                f"{document.source}: the name {declared!r} is used as {normalized!r}"
                " (lowercase letters, digits, '-' and '_')"
            )
        if normalized:
            return normalized
        if not fallback:
            raise SpecError(
                "the stack has no name",
                location=document.locate(("name",) if declared else ()),
                hint="add a top-level 'name:' (lowercase letters, digits, '-', '_')",
            )
        return fallback

    # -- include and extends ----------------------------------------------------------------

    def _path(self, text: str) -> Path:
        path = Path(text).expanduser()
        base = self.project_dir or Path.cwd()
        return path if path.is_absolute() else Path(os.path.normpath(base / path))

    def _load_other(
        self, paths: list[Path], *, project_dir: Path, env: Mapping[str, str], where: Location
    ) -> StackSpec:
        """Parse other compose files (an included project, an extended file) as compose would:
        the first file, overridden by the others, relative to ``project_dir``.
        """
        first = paths[0]
        if str(first) in self.seen or len(self.seen) > _MAX_INCLUDE_DEPTH:
            chain = " -> ".join([*self.seen, str(first)])
            raise SpecError(f"include/extends loop: {chain}", location=where)
        other = _Context(
            env=dict(env),
            interpolate=self.interpolate,
            project_dir=project_dir,
            reads=self.reads,
            warnings=self.warnings,
            seen=(*self.seen, str(first)),
            read=self.read,
        )
        documents = [self._read_document(path, what="include", where=where) for path in paths]
        data = other.merge(documents)
        data["name"] = "included"
        spec = _validate(data, document=documents[0], project_dir=project_dir)
        return other.read_service_files(spec, document=documents[0])

    def _read_document(
        self,
        path: Path,
        *,
        what: str,
        where: Location,
        allow_empty: bool = False,
        named: bool = False,
    ) -> yamlsource.Document:
        """A compose file this spec reads. Its YAML errors are told by line alone, since its
        message may quote the file, which may be anything; a file the user ``named`` (a
        project's ``-f``) is theirs, and its errors say what is wrong."""
        try:
            content = self.reads.read_bytes(path, what=what, where=where)
        except OSError as exc:
            raise SpecError(
                f"cannot read {str(path)!r}: {exc.strerror}",
                location=where,
                hint="check the path; it is relative to the spec's folder",
            ) from exc
        try:
            document = yamlsource.load_yaml(content, source=str(path), allow_empty=allow_empty)
        except SpecError as exc:
            if named:
                raise
            raise SpecError(
                f"{what} {str(path)!r} is not a compose file",
                location=Location(str(path), exc.location.line, exc.location.column),
                hint="name a compose file",
            ) from None
        if not isinstance(document.data, dict) and not (allow_empty and not document.data):
            raise SpecError(
                f"{what} {str(path)!r} is not a compose file (its top level is not a mapping)",
                location=where,
                hint="name a compose file",
            )
        return document

    def _read_base_service(self, file: str, service: str, where: Location) -> dict[str, Any]:
        """The service ``service`` of another file, canonical, for ``extends``. As in compose,
        only that service is read (and what it extends), relative to its own folder.
        """
        path = self._path(file)
        if str(path) in self.seen or len(self.seen) > _MAX_INCLUDE_DEPTH:
            chain = " -> ".join([*self.seen, str(path)])
            raise SpecError(f"include/extends loop: {chain}", location=where)
        document = self._read_document(path, what="extends.file", where=where)
        other = _Context(
            env=self.env,
            interpolate=self.interpolate,
            project_dir=path.parent,
            reads=self.reads,
            warnings=self.warnings,
            seen=(*self.seen, str(path)),
            read=self.read,
        )
        data = document.data
        if self.interpolate:
            env = redaction.Recording(self.env, self.read)
            data = interpolation.interpolate(data, env, locate=document.locate)
        services = data.get("services") if isinstance(data, dict) else None
        if not isinstance(services, dict) or not isinstance(services.get(service), dict):
            raise SpecError(
                f"cannot extend service {service!r}: {file!r} defines no such service",
                location=where,
                hint="check extends.service and extends.file",
            )
        raw = extends.resolve_service(
            service, services, read_service=other._read_base_service, locate=document.locate
        )
        try:
            model = Service.model_validate(raw, context={"project_dir": path.parent})
        except ValidationError as exc:
            errors = diagnostics.from_validation_error(
                exc,
                data=raw,
                model=Service,
                locate=lambda p: document.locate(("services", service, *p)),
            )
            raise SpecErrors(errors) from exc
        base: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        if base.get("networks") == {"default": {}}:
            del base["networks"]  # implied in its file; the extending service decides its own
        return base

    def _include(self, data: dict[str, Any], entries: Any, *, document: Any) -> None:
        if not isinstance(entries, list):
            raise SpecError(
                "include must be a list of paths",
                location=document.locate(("include",)),
                hint="write 'include: [other.yaml]'",
            )
        for index, raw in enumerate(entries):
            where = document.locate(("include", index))
            entry = includes.read_entry(
                raw, resolve=self._path, env=self.env, reads=self.reads, where=where
            )
            included = self._load_other(
                entry.paths, project_dir=entry.project_dir, env=entry.env, where=where
            )
            includes.import_resources(
                data, canonical(included), where=where, context={"project_dir": self.project_dir}
            )

    def read_service_files(self, spec: StackSpec, *, document: Any) -> StackSpec:
        return service_files.read_service_files(
            spec,
            env=self.env,
            project_dir=self.project_dir,
            reads=self.reads,
            interpolate=self.interpolate,
            locate=document.locate,
        )

    def record_sources(self, spec: StackSpec, *, document: Any) -> StackSpec:
        return service_files.record_sources(
            spec, env=self.env, reads=self.reads, locate=document.locate
        )


@dataclass(frozen=True)
class _Files:
    """The documents of several files located as one: a path is placed in the last file that
    writes it (where an override put its value), else at its nearest written ancestor."""

    documents: tuple[yamlsource.Document, ...]

    @property
    def source(self) -> str:
        return self.documents[0].source

    def locate(self, path: Sequence[str | int]) -> Location:
        key = tuple(path)
        for end in range(len(key), -1, -1):
            for document in reversed(self.documents):
                if key[:end] in document.positions:
                    return document.locate(key)
        return self.documents[0].locate(key)
