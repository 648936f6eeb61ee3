"""``kedge get events [--stack NAME] [-w]``: Kedge's event stream (``api.stream``), as
``kubectl get events`` shows.

Reads ``GET /api/v1/events`` (server-sent events): without ``-w`` the last ``--limit``
events the server holds, then ends; with ``-w`` it keeps following, and a dropped stream is
resumed after the last event seen (``after=``), so nothing is shown twice or lost while the
server keeps it. ``-o json`` prints one JSON object per line for scripts.
Callers: ``cli.get`` registers ``get_events`` as ``kedge get events``.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from kedge.cli import client as remote
from kedge.cli import output

__all__ = ["get_events", "render_event"]

#: the width of each column of the table, as kubectl lays out its events
_WIDTHS = (9, 20, 22)


def render_event(event: dict[str, Any]) -> str:
    """One table row: age, stack, kind, message."""
    age = output.render_age(str(event["at"]))
    cells = (age, str(event.get("stack") or "-"), str(event["kind"]))
    return "".join(c.ljust(w) for c, w in zip(cells, _WIDTHS, strict=True)) + str(event["message"])


def _header() -> str:
    cells = ("AGE", "STACK", "KIND")
    return "".join(c.ljust(w) for c, w in zip(cells, _WIDTHS, strict=True)) + "MESSAGE"


def get_events(
    server: remote.ServerOption = remote.DEFAULT_SERVER,
    stack: Annotated[str | None, typer.Option("--stack", "-s", help="Only this stack.")] = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Keep following.")] = False,
    limit: Annotated[int, typer.Option(help="How many recent events to show first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List Kedge's events (versions, passes, actions, drift, spec errors, Docker's)."""
    if not as_json:
        typer.echo(_header())
    after: int | None = None
    with remote.connect(server) as client:
        while True:
            params: dict[str, Any] = {"follow": str(watch).lower()}
            params |= {"stack": stack} if stack else {}
            params |= {"backlog": limit} if after is None else {"after": after}
            try:
                for kind, data in client.stream("/api/v1/events", **params):
                    if kind in ("keepalive", "gap"):
                        continue
                    event = json.loads(data)
                    after = int(event["id"])
                    typer.echo(
                        json.dumps(event, sort_keys=True) if as_json else render_event(event)
                    )
            except remote.RemoteError as exc:
                if not watch or exc.kind != "unreachable":
                    raise
                time.sleep(1.0)
                continue
            if not watch:
                return
