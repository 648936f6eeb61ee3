"""``kedge logs``: the output of a stack's containers, or the log lines of one command.

``kedge logs NAME [SERVICE] [--tail N] [-f]`` prints container output (``-f`` follows it);
``kedge logs --command ID [-f]`` prints a pass's log lines (``-f`` follows them until the
command ends, and exits 0 only when it ended DONE). Callers: ``cli.main``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from kedge.cli import client as remote
from kedge.cli import follow as following

__all__ = ["logs"]


def _print(line: dict[str, Any]) -> None:
    level = line.get("level", "info")
    mark = "" if level == "info" else f"{level.upper()} "
    typer.echo(f"{line['at']}  {mark}{line['message']}")


def _command_logs(api: remote.Client, command_id: int, *, follow: bool) -> int:
    if not follow:
        for line in api.get(f"/api/v1/commands/{command_id}/logs"):
            _print(line)
        return 0
    final = api.follow_command(command_id, on_line=_print)
    typer.echo(f"command #{final['id']} {final['status']}", err=True)
    return 0 if final["status"] == "DONE" else following.EXIT_FAILED


def logs(
    name: Annotated[str | None, typer.Argument(help="The stack.")] = None,
    service: Annotated[str | None, typer.Argument(help="Only this service.")] = None,
    *,
    command: Annotated[
        int | None, typer.Option("--command", help="A command's log lines instead.")
    ] = None,
    tail: Annotated[int | None, typer.Option("--tail", help="Last N lines of each.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep following.")] = False,
    server: remote.ServerOption = remote.DEFAULT_SERVER,
) -> None:
    """Print a stack's container output, or a command's log lines (--command ID)."""
    if (name is None) == (command is None):
        raise typer.BadParameter("name a stack, or a command with --command ID (not both)")
    with remote.connect(server) as api:
        if command is not None:
            raise typer.Exit(_command_logs(api, command, follow=follow))
        params = {"service": service, "tail": tail, "follow": follow}
        clean = {k: v for k, v in params.items() if v is not None}
        try:
            for line in api.stream_text(f"/api/v1/stacks/{name}/logs", **clean):
                typer.echo(line)
        except KeyboardInterrupt:
            return
