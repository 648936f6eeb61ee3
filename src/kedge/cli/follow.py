"""Following commands to their end, for the verbs that take ``--wait``.

Log lines are printed as they come (a spinner runs beside them on a terminal, plain lines
otherwise); the exit status says how it ended: 0 only when every command is DONE, 1 when one
FAILED or was CANCELLED, 3 when the time ran out first. Callers: ``cli.apply``,
``cli.remote`` (rollback, delete); ``cli.local`` takes only the options, so this module
imports neither rich nor httpx until it follows (``kedge up`` need not load them).
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from kedge.cli.client import Client

__all__ = ["EXIT_FAILED", "EXIT_TIMEOUT", "TimeoutOption", "WaitOption", "follow_commands"]

EXIT_FAILED = 1
EXIT_TIMEOUT = 3

WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="Follow the command until it ends (an apply or a rollback also waits until what"
        " it started is ready); exit 0 only if DONE.",
    ),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="Seconds --wait waits before giving up (exit 3).")
]


def _print_line(stack: str, line: dict[str, Any]) -> None:
    level = line.get("level", "info")
    mark = "" if level == "info" else f"{level.upper()} "
    typer.echo(f"  {stack} #{line['command_id']}: {mark}{line['message']}")


def _ended(command: dict[str, Any]) -> str:
    text = f"{command['stack']}: command #{command['id']} {command['type']} {command['status']}"
    detail = command.get("error") or command.get("outcome")
    return f"{text}: {detail}" if detail else text


def follow_commands(api: Client, commands: list[dict[str, Any]], *, timeout: float) -> int:
    """Follow each command in turn; the exit status of the whole."""
    from kedge.cli import output  # rich: not for ``kedge rollback``'s options (``cli.local``)

    deadline = time.monotonic() + timeout
    code = 0
    console = output.console(stderr=True)
    for command in commands:
        stack = command["stack"]
        try:
            with console.status(f"waiting for {stack} #{command['id']}"):
                final = api.follow_command(
                    command["id"],
                    on_line=functools.partial(_print_line, stack),
                    deadline=deadline,
                )
        except TimeoutError:
            typer.echo(
                f"{stack}: command #{command['id']} has not ended after {timeout:g}s", err=True
            )
            return EXIT_TIMEOUT
        typer.echo(_ended(final))
        if final["status"] != "DONE":
            code = EXIT_FAILED
    return code
