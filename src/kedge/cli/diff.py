"""``kedge diff -f FILE``: what applying a spec would do to what runs, without doing it.

The server plans the posted spec against the stack as Docker has it and prints the plan.
Exit status as ``kubectl diff``: 0 no difference, 1 a difference, 2 an error (a bad spec, no
server, Docker not answering). Callers: ``cli.main``.
"""

from __future__ import annotations

import typer

from kedge.cli import apply as applying
from kedge.cli import client as remote

__all__ = ["diff"]

EXIT_DIFFERENT = 1


def diff(
    filename: applying.FileOption,
    server: remote.ServerOption = remote.DEFAULT_SERVER,
) -> None:
    """Show the plan of each spec against what runs (exit 1 when something would change)."""
    code = 0
    with remote.connect(server) as api:
        for source, content in applying.read_specs(filename):
            answer = applying.post_spec(api, "/api/v1/plan", source, content)
            known = f" (version {answer['version']})" if answer["version"] else " (a new version)"
            if not answer["changed"]:
                typer.echo(f"stack/{answer['stack']}{known}: no difference")
                continue
            code = EXIT_DIFFERENT
            typer.echo(f"stack/{answer['stack']}{known}: {answer['actions']} action(s)")
            typer.echo(answer["plan"])
    raise typer.Exit(code)
