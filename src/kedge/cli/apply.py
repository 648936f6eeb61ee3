"""``kedge apply -f FILE|DIR|-``: send specs to the server as new versions and apply them.

Each spec becomes a version (or maps to the equal one) and an ``APPLY`` command; ``--wait``
follows the commands with their log lines until they end (``cli.follow``; exit 0 only when
every one is DONE). A directory applies each of its ``*.yaml``/``*.yml`` files (hidden ones
left out), in name order; ``-`` reads one spec from standard input. A spec the server
rejects is shown with file:line:column, what is wrong and how to fix it, and exits 2.
Callers: ``cli.main``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kedge.cli import client as remote
from kedge.cli import follow

__all__ = ["apply", "read_specs"]

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


def _post(api: remote.Client, source: str, content: bytes) -> dict[str, Any]:
    return dict(
        api.post(
            "/api/v1/versions",
            params={"source": source},
            content=content,
            headers={"Content-Type": "application/yaml"},
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
            answer = _post(api, source, content)
            version, command = answer["version"], answer["command"]
            state = "created" if answer["created"] else "unchanged"
            typer.echo(
                f"stack/{version['stack']} version {version['number']} {state}; "
                f"command #{command['id']} {command['type']} {command['status']}"
            )
            commands.append(command)
        if wait:
            raise typer.Exit(follow.follow_commands(api, commands, timeout=timeout))
