"""Digests: the identity of a stack version and the recreate decision for one service.

``digest(spec)`` is the sha256 of the canonical JSON form of a stack (sorted keys, canonical
syntax, defaults left out), so the same stack written in short or long syntax, or with its keys
in another order, has the same digest. The declared ``x-kedge.version`` is left out: a number is
not content. The store uses it to map equal content to one version (DESIGN.md, version rules).

``config_hash(spec, service)`` is what the ``kedge.config-hash`` label carries: the service's
canonical form without what must not force a recreate (as compose leaves out ``deploy.replicas``,
``scale``, ``depends_on``, ``profiles``, ``pull_policy``; Kedge also its own ``x-kedge``
options; an emptied ``deploy`` goes with them; ``env_file`` and ``label_file``, whose values are
in ``environment`` and ``labels``), plus what compose misses: the definitions and
contents of the secrets and configs the service uses (a file's, or a variable's value), and the
content of its build context (``StackSpec.sources``).

``file_digest``, ``context_digest`` and ``value_digest`` make ``StackSpec.sources``; the loader
calls them.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from kedge.errors import Location
from kedge.specs.reads import MAX_CONTEXT_BYTES, MAX_FILE, Reads, context_too_large
from kedge.specs.stack import StackSpec

__all__ = ["canonical_json", "config_hash", "context_digest", "digest", "file_digest"]

_SKIP_DIRS = frozenset({".git"})


def canonical_document(spec: StackSpec) -> dict[str, Any]:
    """The canonical, JSON-able form of a stack (``loader.canonical`` returns the same)."""
    dumped: dict[str, Any] = spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return dumped


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the bytes every digest is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def digest(spec: StackSpec) -> str:
    """The sha256 of the stack's canonical form, without the declared version number."""
    document = canonical_document(spec)
    meta = document.get("x-kedge")
    if isinstance(meta, dict):
        meta.pop("version", None)
        if not meta:
            document.pop("x-kedge")
    return _sha256(canonical_json(document))


def config_hash(spec: StackSpec, service_name: str) -> str:
    """The hash of what a container of ``service_name`` is made from (see the module docstring)."""
    service = spec.services[service_name]
    document: dict[str, Any] = service.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    # env_file and label_file are read into environment and labels when the spec is loaded:
    # their values count, not where they came from (compose's hash holds the values too)
    for key in (
        "depends_on",
        "profiles",
        "scale",
        "pull_policy",
        "x-kedge",
        "env_file",
        "label_file",
    ):
        document.pop(key, None)
    deploy = document.get("deploy")
    if isinstance(deploy, dict):
        deploy.pop("replicas", None)
        if not deploy:  # scaling a service up does not recreate the replicas it has
            document.pop("deploy")
    used: dict[str, Any] = {}
    for kind, refs, defined in (
        ("secrets", service.secrets, spec.secrets),
        ("configs", service.configs, spec.configs),
        ("secrets", service.build.secrets if service.build else [], spec.secrets),
    ):
        for ref in refs:
            if ref.source in defined:
                model = defined[ref.source]
                used[f"{kind}.{ref.source}"] = {
                    "definition": model.model_dump(mode="json", exclude_defaults=True),
                    "content": spec.sources.get(f"{kind}.{ref.source}"),
                }
    if service.build is not None:
        used["build"] = spec.sources.get(f"build.{service_name}")
    return _sha256(canonical_json({"service": document, "uses": used}))


def build_hash(spec: StackSpec, service_name: str) -> str | None:
    """The hash of what ``service_name``'s image is built from: its ``build`` section and the
    content of its context (None without ``build``). Kept on the image as a label, so that an
    image built from another context is rebuilt even when no container shows it."""
    build = spec.services[service_name].build
    if build is None:
        return None
    section = build.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return _sha256(
        canonical_json({"build": section, "context": spec.sources.get(f"build.{service_name}")})
    )


def value_digest(value: str, *, salt: str) -> str:
    """The digest of a secret's value read from the environment: scrypt (16 MiB, about 25 ms),
    salted with where it is used, so that the version documents and labels that carry it do
    not let a weak secret be found by trying guesses at sha256's speed."""
    derived = hashlib.scrypt(
        value.encode(), salt=salt.encode(), n=2**14, r=8, p=1, maxmem=64 * 2**20, dklen=32
    )
    return "scrypt:" + derived.hex()


def file_digest(path: Path, *, reads: Reads, what: str, where: Location) -> str | None:
    """The sha256 of a file (or of a folder's files), or None when it does not exist;
    ``SpecError`` when ``reads`` does not let the spec read it (``reads.Reads``)."""
    real = reads.check(path, what=what, where=where)
    if real.is_dir():
        return context_digest(path, reads=reads, what=what, where=where)
    try:
        return (
            "sha256:" + hashlib.sha256(reads.read_bytes(path, what=what, where=where)).hexdigest()
        )
    except OSError:
        return None


def context_digest(folder: Path, *, reads: Reads, what: str, where: Location) -> str | None:
    """The sha256 of a build context: names and contents of its files, minus ``.dockerignore``.
    Symlinks count by their target's name (never read through), other special files by kind;
    past ``MAX_CONTEXT_BYTES`` of files in all, a ``SpecError``."""
    real = reads.check(folder, what=what, where=where)
    if not real.is_dir():
        return None
    ignore = _dockerignore(real)
    summary = hashlib.sha256()
    spent = 0
    for path in reads.walk_context(real, what=what, where=where, skip=_SKIP_DIRS):
        relative = path.relative_to(real).as_posix()
        if _is_ignored(relative, ignore):
            continue
        entry, size = _entry_digest(path, room=MAX_CONTEXT_BYTES - spent)
        spent += size
        if spent > MAX_CONTEXT_BYTES:
            raise context_too_large(folder, f"{MAX_CONTEXT_BYTES} bytes", what=what, where=where)
        summary.update(relative.encode() + b"\0")
        summary.update(entry)
    return "sha256:" + summary.hexdigest()


def _entry_digest(path: Path, *, room: int) -> tuple[bytes, int]:
    """One context entry and the bytes it counts: a regular file's content, streamed up to
    the size ``lstat`` gives (what ``docker build`` sends: none of a ``/proc`` file, which
    may block or never end) and not read at all when that is over ``room``; a link's
    target; else its kind."""
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            return b"link:" + os.fsencode(os.readlink(path)), 0
        if not stat.S_ISREG(info.st_mode):
            return b"special:" + str(stat.S_IFMT(info.st_mode)).encode(), 0
        if info.st_size > room:
            return b"", info.st_size
        content = hashlib.sha256()
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            left = info.st_size
            while left > 0 and (chunk := handle.read(min(2**20, left))):
                content.update(chunk)
                left -= len(chunk)
        return content.digest(), info.st_size
    except OSError:
        return b"unreadable", 0


def _dockerignore(folder: Path) -> list[str]:
    path = folder / ".dockerignore"
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return []
        with path.open("rb") as handle:
            text = handle.read(MAX_FILE).decode("utf-8", errors="replace")
    except OSError:
        return []
    lines = (line.strip() for line in text.splitlines())
    return [line.removeprefix("/").rstrip("/") for line in lines if line and line[0] != "#"]


def _is_ignored(relative: str, patterns: list[str]) -> bool:
    """``.dockerignore`` roughly: the last matching pattern wins, ``!`` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.replace("**/", "")
        parts = relative.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(prefix, body) for prefix in prefixes) or fnmatch.fnmatch(
            relative, body
        ):
            ignored = not negate
    return ignored
