"""``kedge describe stack NAME``: everything about one stack, as ``kubectl describe`` shows it.

Status first, then versions, services and containers with health and uptime, recent
commands, and the recent events (the log lines of the last command) last. ``-o json|yaml``
prints the API's object instead. Callers: ``cli.main`` registers ``app`` as ``describe``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from kedge.cli import client as remote
from kedge.cli import get, output
from kedge.cli.output import Format

__all__ = ["app", "render_stack"]

app = typer.Typer(help="Show one object in detail.", no_args_is_help=True)

Row = dict[str, Any]


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return output.render_duration(seconds)


def _section(lines: list[str], title: str, rows: list[str]) -> None:
    lines.append(f"{title}:")
    lines.extend(f"  {row}" for row in rows or ["<none>"])


def _command_row(c: Row) -> str:
    detail = c.get("error") or c.get("outcome") or ""
    age = output.render_age(c["created_at"])
    version = c.get("version") or "-"
    return f"#{c['id']:<6} {c['type']:<9} v{version:<4} {c['status']:<9} {age:>4} ago  {detail}"


def render_stack(stack: Row, events: list[Row]) -> str:
    """The text of ``kedge describe stack``."""
    lines = [
        f"Name:             {stack['name']}",
        f"Sync:             {stack['sync']}",
        f"Health:           {stack['health']}",
        f"Applied version:  {stack.get('applied_version') or '-'}",
        f"Desired version:  {stack.get('desired_version') or '-'}",
        f"Last error:       {stack.get('last_error') or '-'}",
    ]
    retry = stack.get("next_retry")
    if retry:
        lines.append(
            f"Next retry:       {get.render_retry(stack)}, command #{retry['command']};"
            f" cause: {retry.get('cause') or '-'}"
        )
    _section(
        lines,
        "Versions",
        [
            f"{v['number']:<4} {v['digest'][:19]}  {output.render_age(v['created_at']):>4} ago  "
            f"by {v.get('created_by') or '-'}  from {v.get('source') or '-'}  "
            f"{v.get('outcome') or ''}".rstrip()
            for v in stack["versions"]
        ],
    )
    services = []
    for service in stack["services"]:
        services.append(f"{service['name']}: {service['ready']}/{service['desired']} ready")
        services += [
            f"  {c['name']}  {c['state']}  health={c['health']}  up {_uptime(c['uptime_seconds'])}"
            f"  restarts={c['restart_count']}  version={c.get('version') or '-'}"
            for c in service["containers"]
        ]
    if not stack["observed"]:
        services.append(f"(not observed: {stack.get('observe_error')})")
    _section(lines, "Services", services)
    _section(
        lines,
        "Commands",
        [_command_row(c) for c in stack["commands"]],
    )
    _section(
        lines,
        "Events",
        [f"{e['at'][11:19]}  {e['level']:<5} {e['message']}" for e in events],
    )
    return "\n".join(lines)


@app.command("stack")
def describe_stack(
    name: Annotated[str, typer.Argument(help="The stack.")],
    server: remote.ServerOption = remote.DEFAULT_SERVER,
    fmt: Annotated[
        Format, typer.Option("--output", "-o", help="json or yaml for scripts.")
    ] = Format.TABLE,
) -> None:
    """A stack's status, versions, services and containers, commands, and recent events."""
    with remote.connect(server) as api:
        stack = api.get(f"/api/v1/stacks/{name}")
        text = output.render_object(stack, fmt=fmt)
        if text is not None:
            typer.echo(text)
            return
        commands = stack["commands"]
        events = api.get(f"/api/v1/commands/{commands[0]['id']}/logs") if commands else []
        typer.echo(render_stack(stack, events[-20:]))
