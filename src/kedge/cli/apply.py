"""``kedge apply -f FILE|DIR|-``: send specs to the server as new versions and apply them.

Each spec is read here as compose reads it (``resolve_spec``: interpolated from this
shell's environment and the ``.env`` beside it, and validated: a bad spec is shown with
file:line:column, what is wrong and how to fix it, and exits 2 before anything is sent),
then becomes a version (or maps to the equal one) and an ``APPLY`` command. ``--wait``
asks each APPLY to wait, as ``kedge up --wait`` does, until what it started is ready
(``planning.health``: healthy, running without a healthcheck, or a one-shot that exited 0)
and follows the commands with their log lines until they end (``cli.follow``; exit 0 only
when every one is DONE). A directory applies each of its ``*.yaml``/``*.yml`` files (hidden ones
left out), in name order; ``-`` reads one spec from standard input.
Callers: ``cli.main``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kedge import errors
from kedge.cli import client as remote
from kedge.cli import follow
from kedge.specs import loader

__all__ = ["apply", "post_spec", "read_specs", "resolve_spec"]

FileOption = Annotated[
    str, typer.Option("--filename", "-f", help="A spec file, a folder of them, or - for stdin.")
]


def read_specs(target: str) -> list[tuple[str, bytes]]:
    """(source, content) of each spec that ``target`` names."""
    if target == "-":
        return [("stdin", sys.stdin.buffer.read())]
    path = Path(target)
    if path.is_dir():
        files = sorted(
            p
            for p in path.iterdir()
            if p.suffix in (".yaml", ".yml") and not p.name.startswith(".") and p.is_file()
        )
        if not files:
            raise typer.BadParameter(f"{target} holds no *.yaml or *.yml file", param_hint="-f")
        return [(str(p.resolve()), p.read_bytes()) for p in files]
    if not path.is_file():
        raise typer.BadParameter(f"{target}: no such file or folder", param_hint="-f")
    return [(str(path.resolve()), path.read_bytes())]


def resolve_spec(source: str, content: bytes) -> bytes:
    """The spec as JSON, read here as compose reads it: interpolated from this shell's
    environment and the ``.env`` beside the file, and validated, so that a bad spec is shown
    before anything is sent. Env and label files are sent merged; the server reads the other
    files the spec names (build contexts, secret and config files) only under its
    ``--spec-root``."""
    try:
        if source == "stdin":
            spec = loader.parse(content, source=source, env=dict(os.environ))
        else:
            spec = loader.load_file(source)
    except errors.SpecError as exc:
        typer.echo(f"error: the spec is invalid:\n{exc.render()}", err=True)
        raise typer.Exit(remote.EXIT_ERROR) from exc
    document = loader.canonical(spec)
    document.pop("sources", None)  # digests of the files it names: the server takes its own
    for service in (document.get("services") or {}).values():
        service.pop("env_file", None)  # read here and merged into environment and labels:
        service.pop("label_file", None)  # the server reads no file of a posted spec
    return json.dumps(document).encode()


def post_spec(
    api: remote.Client, path: str, source: str, content: bytes, *, wait: bool = False
) -> dict[str, Any]:
    """Send a resolved spec to ``path`` (``/api/v1/versions`` or ``/api/v1/plan``); ``wait``
    asks the APPLY to wait until what it started is ready."""
    params: dict[str, Any] = {"source": source, "interpolate": False}
    if wait:
        params["wait"] = True
    return dict(
        api.post(
            path,
            params=params,
            content=resolve_spec(source, content),
            headers={"Content-Type": "application/json"},
        )
    )


def apply(
    filename: FileOption,
    wait: follow.WaitOption = False,
    timeout: follow.TimeoutOption = 300.0,
    server: remote.ServerOption = remote.DEFAULT_SERVER,
) -> None:
    """Create a version of each spec and apply it (with --wait: until it ends)."""
    specs = read_specs(filename)
    commands = []
    with remote.connect(server) as api:
        for source, content in specs:
            answer = post_spec(api, "/api/v1/versions", source, content, wait=wait)
            version, command = answer["version"], answer["command"]
            state = "created" if answer["created"] else "unchanged"
            typer.echo(
                f"stack/{version['stack']} version {version['number']} {state}; "
                f"command #{command['id']} {command['type']} {command['status']}"
            )
            commands.append(command)
        if wait:
            raise typer.Exit(follow.follow_commands(api, commands, timeout=timeout))
