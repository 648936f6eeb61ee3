"""``kedge get containers STACK``: what runs in a stack now, from the monitoring route.

One row per container of ``GET /api/v1/stacks/{name}/observed``: service, state, health and
the output of its last health check, uptime, restarts, image, published ports, and whether
its config hash is the desired one (``-o wide`` adds the hashes). ``-o json|yaml`` prints the
containers as the API answers them. Callers: ``cli.get`` registers ``get_containers``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from kedge.cli import client as remote
from kedge.cli import output
from kedge.cli.output import Column, Format

__all__ = ["CONTAINER_COLUMNS", "get_containers"]


def _ports(row: dict[str, Any]) -> str:
    found = [f"{p['host_ip']}:{p['host_port']}->{p['container']}" for p in row["ports"]]
    return ", ".join(found) or "-"


def _uptime(row: dict[str, Any]) -> str:
    seconds = row.get("uptime_seconds")
    return "-" if seconds is None else output.render_duration(float(seconds))


CONTAINER_COLUMNS = [
    Column("container", lambda r: str(r["name"])),
    Column("service", lambda r: str(r["service"])),
    Column("state", lambda r: str(r["state"])),
    Column("health", lambda r: str(r["health"])),
    Column("last check", lambda r: (r.get("health_output") or "-")[:60]),
    Column("uptime", _uptime),
    Column("restarts", lambda r: str(r["restart_count"])),
    Column("image", lambda r: str(r["image"]), wide_only=True),
    Column("ports", _ports),
    Column("config", lambda r: "current" if r["is_current"] else "differs"),
    Column("hash", lambda r: str(r["config_hash"])[:12], wide_only=True),
    Column("desired hash", lambda r: str(r.get("desired_config_hash") or "-")[:12], wide_only=True),
]


def get_containers(
    stack: Annotated[str, typer.Argument(help="The stack.")],
    server: remote.ServerOption = remote.DEFAULT_SERVER,
    fmt: output.FormatOption = Format.TABLE,
) -> None:
    """List a stack's containers: state, health and last check, uptime, restarts, ports."""
    with remote.connect(server) as api:
        observed = api.get(f"/api/v1/stacks/{stack}/observed")
    if not observed["observed"]:
        typer.echo(f"warning: not observed: {observed.get('error')}", err=True)
    rows = [c for service in observed["services"] for c in service["containers"]]
    output.render_items(
        rows, fmt=fmt, kind="Container", columns=CONTAINER_COLUMNS, name_of=lambda r: r["name"]
    )
    if fmt in (Format.TABLE, Format.WIDE):
        typer.echo(f"stack {stack}: {observed['health']}", err=True)
