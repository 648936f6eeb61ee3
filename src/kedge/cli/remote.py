"""The remote verbs that steer or summarise stacks: ``rollback``, ``delete``, ``cancel``,
``history`` and ``status``.

Each write prints the command it created (``--wait`` follows it, ``cli.follow``). ``status``
is one table of every stack: version, sync, health, ready containers, age, last command.
Its health is the one the controller recorded and its ready counts the API's
(``GET /api/v1/stacks?observe=true``), both judged by ``planning.health``, as the dashboard's
live health is.
Callers: ``cli.main`` registers each function as a verb.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from kedge.cli import client as remote
from kedge.cli import follow, get, output
from kedge.cli.options import VolumesOption
from kedge.cli.output import Column, Format

__all__ = ["cancel", "delete", "history", "rollback", "status"]

StackArgument = Annotated[str, typer.Argument(help="The stack.")]


def _created(answer: dict[str, Any]) -> dict[str, Any]:
    command = dict(answer["command"])
    target = f" to version {command['version']}" if command.get("version") else ""
    typer.echo(
        f"stack/{command['stack']}: command #{command['id']} {command['type']}{target} "
        f"{command['status']}"
    )
    return command


def rollback(
    name: StackArgument,
    to: Annotated[int | None, typer.Option("--to", help="The version (default: previous).")] = None,
    wait: follow.WaitOption = False,
    timeout: follow.TimeoutOption = 300.0,
    server: remote.ServerOption = remote.DEFAULT_SERVER,
) -> None:
    """Roll a stack back to a version, or to the one applied before the current one."""
    with remote.connect(server) as api:
        body = {"to": to, "wait": wait}  # the server's pass waits until it is ready
        command = _created(api.post(f"/api/v1/stacks/{name}/rollback", json=body))
        if wait:
            raise typer.Exit(follow.follow_commands(api, [command], timeout=timeout))


def delete(
    name: StackArgument,
    volumes: VolumesOption = False,
    wait: follow.WaitOption = False,
    timeout: follow.TimeoutOption = 300.0,
    server: remote.ServerOption = remote.DEFAULT_SERVER,
) -> None:
    """Delete a stack's containers and networks (and volumes with --volumes)."""
    with remote.connect(server) as api:
        answer = api.request("DELETE", f"/api/v1/stacks/{name}", params={"volumes": volumes})
        command = _created(answer)
        if wait:
            raise typer.Exit(follow.follow_commands(api, [command], timeout=timeout))


def cancel(
    command_id: Annotated[int, typer.Argument(help="The command's id.")],
    server: remote.ServerOption = remote.DEFAULT_SERVER,
) -> None:
    """Cancel a command: a pending one at once, a running one between two actions."""
    with remote.connect(server) as api:
        command = api.post(f"/api/v1/commands/{command_id}/cancel")["command"]
        asked = " (cancel requested)" if command["status"] == "RUNNING" else ""
        typer.echo(f"command #{command['id']} {command['status']}{asked}")


def history(
    name: StackArgument,
    server: remote.ServerOption = remote.DEFAULT_SERVER,
    fmt: output.FormatOption = Format.TABLE,
) -> None:
    """The versions of a stack: when, by whom, source file and commit, digest, outcome."""
    with remote.connect(server) as api:
        rows = list(api.pages(f"/api/v1/stacks/{name}/versions", limit=200))
        output.render_items(
            rows,
            fmt=fmt,
            kind="Version",
            columns=get.VERSION_COLUMNS,
            name_of=lambda r: f"{r['stack']}.{r['number']}",
        )


def _ready(row: dict[str, Any]) -> str:
    if row.get("containers") is None:
        return "?"
    return f"{row.get('ready', 0)}/{row['containers']}"


STATUS_COLUMNS = [
    Column("name", lambda r: r["name"]),
    Column("version", lambda r: str(r.get("applied_version") or "-")),
    Column("sync", lambda r: r["sync"]),
    Column("health", lambda r: r["health"]),
    Column("ready", _ready),
    Column("age", lambda r: output.render_age(r.get("created_at"))),
    Column("next retry", get.render_retry),
    Column("last command", get.STACK_COLUMNS[5].render),
]


def status(
    server: remote.ServerOption = remote.DEFAULT_SERVER,
    fmt: output.FormatOption = Format.TABLE,
) -> None:
    """One table of every stack: version, sync, health, ready containers, last command."""
    with remote.connect(server) as api:
        rows = list(api.pages("/api/v1/stacks", limit=500, observe=True))
        output.render_items(
            rows, fmt=fmt, kind="Stack", columns=STATUS_COLUMNS, name_of=lambda r: r["name"]
        )
