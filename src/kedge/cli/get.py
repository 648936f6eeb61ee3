"""``kedge get``: list stacks, versions of a stack, commands, or the audit trail, in kubectl's
manner.

``-o table|wide|json|yaml|name`` picks the format (``cli.output``); ``-w`` keeps watching and
prints each row again when it changes, until interrupted. Talks to the server (``--server``,
``KEDGE_SERVER``). ``get events`` (``cli.stream``) and ``get containers`` (``cli.containers``)
are registered on ``app`` here too. Callers: ``cli.main`` registers ``app`` as ``get``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from kedge.cli import client as remote
from kedge.cli import containers, output, stream
from kedge.cli.output import Column, Format

__all__ = [
    "AUDIT_COLUMNS",
    "COMMAND_COLUMNS",
    "STACK_COLUMNS",
    "VERSION_COLUMNS",
    "app",
    "render_retry",
]

app = typer.Typer(help="List stacks, versions, commands or the audit trail.", no_args_is_help=True)

Row = dict[str, Any]
WatchOption = Annotated[bool, typer.Option("--watch", "-w", help="Watch for changes.")]
WATCH_SECONDS = 1.0


def _v(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def _last(row: Row) -> str:
    last = row.get("last_command")
    return "-" if not last else f"#{last['id']} {last['type']} {last['status']}"


def render_retry(row: Row, *, now: datetime | None = None) -> str:
    """The retry a stack waits for: "in 40s (attempt 3)", "due (attempt 3)", or "-"."""
    retry = row.get("next_retry")
    if not retry:
        return "-"
    at = retry.get("at")
    wait = 0.0
    if at:
        when = datetime.fromisoformat(at)
        wait = (when - (now or datetime.now(UTC))).total_seconds()
    due = f"in {output.render_duration(wait)}" if wait >= 1 else "due"
    return f"{due} (attempt {retry['attempt']})"


STACK_COLUMNS = [
    Column("name", lambda r: r["name"]),
    Column("version", lambda r: _v(r.get("applied_version"))),
    Column("desired", lambda r: _v(r.get("desired_version"))),
    Column("sync", lambda r: r["sync"]),
    Column("health", lambda r: r["health"]),
    Column("last command", _last, wide_only=True),
    Column("age", lambda r: output.render_age(r.get("created_at"))),
    Column("next retry", render_retry, wide_only=True),
    Column("last error", lambda r: _v(r.get("last_error")), wide_only=True),
]
VERSION_COLUMNS = [
    Column("version", lambda r: str(r["number"])),
    Column("created", lambda r: output.render_age(r["created_at"])),
    Column("by", lambda r: _v(r.get("created_by"))),
    Column("source", lambda r: _v(r.get("source"))),
    Column("commit", lambda r: _v((r.get("commit") or "")[:12])),
    Column("digest", lambda r: r["digest"][:19]),
    Column("outcome", lambda r: _v(r.get("outcome"))),
]
COMMAND_COLUMNS = [
    Column("id", lambda r: str(r["id"])),
    Column("stack", lambda r: r["stack"]),
    Column("type", lambda r: r["type"]),
    Column("version", lambda r: _v(r.get("version"))),
    Column("status", lambda r: r["status"]),
    Column("reason", lambda r: r["reason"]),
    Column("age", lambda r: output.render_age(r["created_at"])),
    Column("by", lambda r: _v(r.get("created_by")), wide_only=True),
    Column("attempt", lambda r: str(r.get("attempt", 1)), wide_only=True),
    Column("outcome", lambda r: _v(r.get("error") or r.get("outcome")), wide_only=True),
]

AUDIT_COLUMNS = [
    Column("id", lambda r: str(r["id"])),
    Column("at", lambda r: _v(r.get("at"))),
    Column("identity", lambda r: r["identity"]),
    Column("role", lambda r: _v(r.get("role")), wide_only=True),
    Column("client", lambda r: _v(r.get("client")), wide_only=True),
    Column("method", lambda r: r["method"]),
    Column("route", lambda r: r["route"]),
    Column("stack", lambda r: _v(r.get("stack"))),
    Column("verb", lambda r: _v(r.get("verb"))),
    Column("outcome", lambda r: r["outcome"]),
    Column("status", lambda r: str(r["status"])),
    Column("command", lambda r: _v(r.get("command_id")), wide_only=True),
    Column("reason", lambda r: _v(r.get("reason")), wide_only=True),
]


def show(
    fetch: Callable[[], list[Row]],
    *,
    fmt: Format,
    kind: str,
    columns: list[Column],
    key: Callable[[Row], str],
    watch: bool,
) -> None:
    """Print the rows once, or watch: print again each row that changed."""
    rows = fetch()
    output.render_items(rows, fmt=fmt, kind=kind, columns=columns, name_of=key)
    if not watch:
        return
    seen = {key(r): r for r in rows}
    try:
        while True:
            time.sleep(WATCH_SECONDS)
            changed = [r for r in fetch() if seen.get(key(r)) != r]
            seen.update({key(r): r for r in changed})
            if changed:
                output.render_items(
                    changed, fmt=fmt, kind=kind, columns=columns, name_of=key, header=False
                )
    except KeyboardInterrupt:
        return


@app.command("stacks")
def get_stacks(
    server: remote.ServerOption = remote.DEFAULT_SERVER,
    fmt: output.FormatOption = Format.TABLE,
    watch: WatchOption = False,
) -> None:
    """List every stack with its version, sync and health."""
    with remote.connect(server) as api:
        show(
            lambda: list(api.pages("/api/v1/stacks", limit=500)),
            fmt=fmt,
            kind="Stack",
            columns=STACK_COLUMNS,
            key=lambda r: r["name"],
            watch=watch,
        )


@app.command("versions")
def get_versions(
    stack: Annotated[str, typer.Argument(help="The stack.")],
    server: remote.ServerOption = remote.DEFAULT_SERVER,
    fmt: output.FormatOption = Format.TABLE,
    watch: WatchOption = False,
) -> None:
    """List the versions of a stack, newest first."""
    with remote.connect(server) as api:
        show(
            lambda: list(api.pages(f"/api/v1/stacks/{stack}/versions", limit=200)),
            fmt=fmt,
            kind="Version",
            columns=VERSION_COLUMNS,
            key=lambda r: f"{r['stack']}.{r['number']}",
            watch=watch,
        )


@app.command("commands")
def get_commands(
    *,
    stack: Annotated[str | None, typer.Option(help="Only this stack's commands.")] = None,
    status: Annotated[str | None, typer.Option(help="PENDING, RUNNING, DONE, ...")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="APPLY, ROLLBACK, ...")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    server: remote.ServerOption = remote.DEFAULT_SERVER,
    fmt: output.FormatOption = Format.TABLE,
    watch: WatchOption = False,
) -> None:
    """List commands, newest first."""
    params = {
        "stack": stack,
        "status": status.upper() if status else None,
        "type": type_.upper() if type_ else None,
        "limit": limit,
    }
    with remote.connect(server) as api:
        show(
            lambda: list(api.get("/api/v1/commands", **params)["items"]),
            fmt=fmt,
            kind="Command",
            columns=COMMAND_COLUMNS,
            key=lambda r: str(r["id"]),
            watch=watch,
        )


@app.command("audit")
def get_audit(
    *,
    stack: Annotated[str | None, typer.Option(help="Only requests about this stack.")] = None,
    identity: Annotated[
        str | None, typer.Option(help="Only this identity (token:NAME, anonymous).")
    ] = None,
    outcome: Annotated[str | None, typer.Option(help="allowed or refused.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    server: remote.ServerOption = remote.DEFAULT_SERVER,
    fmt: output.FormatOption = Format.TABLE,
) -> None:
    """List the audit trail, newest first: every write and every refusal (an admin's verb)."""
    params = {
        "stack": stack,
        "identity": identity,
        "outcome": outcome.lower() if outcome else None,
        "limit": limit,
    }
    with remote.connect(server) as api:
        show(
            lambda: list(api.get("/api/v1/audit", **params)["items"]),
            fmt=fmt,
            kind="AuditEntry",
            columns=AUDIT_COLUMNS,
            key=lambda r: str(r["id"]),
            watch=False,
        )


app.command("events")(stream.get_events)
app.command("containers")(containers.get_containers)
