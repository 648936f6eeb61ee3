"""Secrets and configs that are not files: copied into a container before it first starts.

A secret or config read from a file is bind-mounted (``parameters_host``). One that comes from
an ``environment`` variable, or a config with inline ``content``, has no file to mount, so the
container reconciler copies it in after the create (one ``PUT /archive`` call), as compose
does: secrets at ``/run/secrets/<target or name>``, configs at ``/<target or name>``, with the
reference's ``mode`` (default 0444), ``uid`` and ``gid``. An environment variable is read from
the environment of the process that carries out the pass (the CLI or the server); the loader
records a slow digest of its value where it loads the spec (``service_files.record_sources``),
so that a new value recreates the containers that use it.

Callers: ``reconcilers.containers`` (create).
"""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass

from kedge.errors import PlanError
from kedge.specs.compose import ServiceReference
from kedge.specs.stack import StackSpec

__all__ = ["Copy", "copies_of", "render_archive"]


@dataclass(frozen=True, slots=True)
class Copy:
    """One file to put into a container."""

    path: str  # absolute, in the container
    content: bytes
    mode: int = 0o444
    uid: int = 0
    gid: int = 0


def copies_of(spec: StackSpec, service: str, *, env: Mapping[str, str] | None = None) -> list[Copy]:
    """The secrets and configs of ``service`` that must be copied in (not file-based)."""
    svc = spec.services[service]
    environment = os.environ if env is None else env
    found: list[Copy] = []
    for kind, refs, base in (
        ("secrets", svc.secrets, "/run/secrets/"),
        ("configs", svc.configs, "/"),
    ):
        for ref in refs:
            content = _content(spec, kind, ref, environment)
            if content is not None:
                found.append(_copy(ref, content, base=base))
    return found


def _content(
    spec: StackSpec, kind: str, ref: ServiceReference, env: Mapping[str, str]
) -> bytes | None:
    declared = (spec.secrets if kind == "secrets" else spec.configs).get(ref.source)
    where = f"{kind}.{ref.source}"
    if declared is None:
        raise PlanError(f"{where} is used by a service but not declared; declare it at the top")
    if declared.file:
        return None  # bind-mounted
    if declared.external:
        raise PlanError(f"{where}: external {kind} exist only in swarm mode; use a file")
    if declared.environment:
        value = env.get(declared.environment)
        if value is None:
            raise PlanError(
                f"{where}: the environment variable {declared.environment} is not set"
                " where Kedge runs; set it, or read the value from a file"
            )
        return value.encode()
    content = getattr(declared, "content", None)
    if content is not None:
        return str(content).encode()
    raise PlanError(f"{where} has no file, environment or content to read it from")


def _copy(ref: ServiceReference, content: bytes, *, base: str) -> Copy:
    target = ref.target or ref.source
    path = target if target.startswith("/") else base + target
    return Copy(
        path=path,
        content=content,
        mode=ref.mode if ref.mode is not None else 0o444,
        uid=int(ref.uid or 0),
        gid=int(ref.gid or 0),
    )


def render_archive(copies: list[Copy]) -> bytes:
    """A tar archive of the copies, with their folders, to extract at ``/``."""
    buffer = io.BytesIO()
    folders: set[str] = set()
    now = time.time()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for copy in copies:
            parts = copy.path.strip("/").split("/")
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth])
                if folder not in folders:
                    folders.add(folder)
                    info = tarfile.TarInfo(folder)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    info.mtime = int(now)
                    tar.addfile(info)
            info = tarfile.TarInfo("/".join(parts))
            info.size = len(copy.content)
            info.mode = copy.mode
            info.uid, info.gid = copy.uid, copy.gid
            info.mtime = int(now)
            tar.addfile(info, io.BytesIO(copy.content))
    return buffer.getvalue()
