"""``kedge token``: Kedge's own API tokens — ``create``, ``list``, ``revoke`` — on the store's
file directly (``--db``, as ``kedge db`` does), with no server and no token needed.

That is the first-start bootstrap and the way back in: whoever may write the store's file
(the operator of the host) makes the first admin token; there is no default password. The
first token made turns authentication on for every server on that store (``api.identity``).
A token is printed once, by ``create``; ``list`` never shows one. Caller: the root app in
``kedge.cli.main``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from kedge import errors
from kedge.cli.options import DEFAULT_DB, DbOption
from kedge.store import SqliteStore, TokenInfo
from kedge.store import tokens as token_rules

__all__ = ["app"]

app = typer.Typer(
    name="token",
    help="Create, list and revoke Kedge's API tokens (offline, on the store's file).",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(help="The token's name.")]


def _open(db: Path, verb: str) -> SqliteStore:
    try:
        return SqliteStore.open(db)
    except errors.KedgeError as exc:
        typer.echo(f"kedge token {verb}: {exc}", err=True)
        raise typer.Exit(1) from exc


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="The token's name (token:<name>).")],
    role: Annotated[
        str, typer.Option("--role", help="viewer, operator or admin.", show_default=True)
    ] = "viewer",
    stacks: Annotated[
        list[str] | None,
        typer.Option("--stacks", help="A stack name pattern it may reach (repeat it); '*'."),
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="How long it lives: 30d, 12h, 90m, 2w (default: never)."),
    ] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Make a token and print it once: only its SHA-256 is stored."""
    try:
        lifetime = None if expires is None else token_rules.parse_expiry(expires)
    except ValueError as exc:
        typer.echo(f"kedge token create: --expires: {exc}", err=True)
        raise typer.Exit(2) from exc
    store = _open(db, "create")
    try:
        made = store.tokens.create(
            name, role=role, stacks=tuple(stacks or ("*",)), lifetime=lifetime
        )
    except errors.KedgeError as exc:
        typer.echo(f"kedge token create: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        store.close()
    typer.echo(made.secret)
    typer.echo(
        f"token {name!r} ({role}, stacks {','.join(made.info.stacks)}, expires"
        f" {_when(made.info.expires_at)}): shown once, keep it now",
        err=True,
    )


@app.command("list")
def list_tokens(db: DbOption = DEFAULT_DB) -> None:
    """List the tokens: name, role, stacks, dates, state; never a secret."""
    store = _open(db, "list")
    try:
        found = store.tokens.list()
    finally:
        store.close()
    now = datetime.now(UTC)
    typer.echo(f"{'NAME':<20} {'ROLE':<9} {'STACKS':<20} {'STATE':<8} {'EXPIRES':<20} LAST USED")
    for token in found:
        typer.echo(
            f"{token.name:<20} {token.role:<9} {','.join(token.stacks):<20}"
            f" {_state(token, now):<8} {_when(token.expires_at):<20} {_when(token.last_used_at)}"
        )


@app.command("revoke")
def revoke(name: NameArgument, db: DbOption = DEFAULT_DB) -> None:
    """Revoke a token for good: the next request that sends it gets 401."""
    store = _open(db, "revoke")
    try:
        store.tokens.revoke(name)
    except errors.KedgeError as exc:
        typer.echo(f"kedge token revoke: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        store.close()
    typer.echo(f"revoked token {name!r}")


def _state(token: TokenInfo, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    return "active" if token.active(now) else "expired"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M")
