"""``kedge login``, ``kedge auth whoami`` and ``kedge auth can-i``: the CLI's side of the
server's authentication and roles.

``login`` reads a token (from stdin when it is not a terminal, else a prompt that does not
echo it), asks the server who that token is (``GET /api/v1/whoami``) and keeps it only when
the server authenticated it (``cli.credentials``: mode 0600). ``auth whoami`` asks the same
route with the token the remote verbs send (``KEDGE_TOKEN``, else the kept one). ``auth can-i
VERB STACK`` asks the server (``GET /api/v1/can-i``), which answers with the very rule its
routes apply (``specs.access.decide``), so the CLI never guesses: yes (exit 0) or no (exit 1).
Caller: the root app in ``kedge.cli.main``.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated, Any

import typer

from kedge.cli import client as remote
from kedge.cli import credentials
from kedge.cli.client import DEFAULT_SERVER, ServerOption
from kedge.specs import access

__all__ = ["app", "can_i", "login"]

app = typer.Typer(name="auth", help="Who the CLI acts as on a Kedge server.", no_args_is_help=True)

WHOAMI = "/api/v1/whoami"
CAN_I = "/api/v1/can-i"
#: ``can-i``'s exit status when the answer is no
EXIT_NO = 1


def login(server: ServerOption = DEFAULT_SERVER) -> None:
    """Check a token against the server and keep it for the CLI (mode 0600)."""
    token = _read_token()
    if not token:
        typer.echo("error: no token given (pipe it in, or type it at the prompt)", err=True)
        raise typer.Exit(remote.EXIT_ERROR)
    with remote.connect(server, token=token) as api:
        found = api.get(WHOAMI)
    if found.get("kind") != "token":
        typer.echo(
            f"error: the server at {server} did not authenticate the token: it has no"
            " identity configured (make one with `kedge token create --db`)",
            err=True,
        )
        raise typer.Exit(remote.EXIT_ERROR)
    where = credentials.write(token)
    typer.echo(f"logged in to {server} as {_describe(found)}; the token is kept in {where}")


@app.command("whoami")
def whoami(server: ServerOption = DEFAULT_SERVER) -> None:
    """Print who the CLI acts as on the server: kind, name, role and stacks."""
    with remote.connect(server) as api:
        found = api.get(WHOAMI)
    typer.echo(_describe(found))


@app.command("can-i")
def can_i(
    verb: Annotated[str, typer.Argument(help="One of " + ", ".join(access.VERBS) + ".")],
    stack: Annotated[
        str | None, typer.Argument(help="The stack (none: a verb on no stack).")
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
) -> None:
    """Ask the server whether the CLI's identity may do VERB to STACK: yes (exit 0) or no
    (exit 1, with the reason on stderr)."""
    params = {"verb": verb} | ({"stack": stack} if stack is not None else {})
    with remote.connect(server) as api:
        found = api.get(CAN_I, **params)
    if found.get("allowed") is True:
        typer.echo("yes")
        return
    typer.echo("no")
    typer.echo(str(found.get("reason", "")), err=True)
    raise typer.Exit(EXIT_NO)


def _describe(found: dict[str, Any]) -> str:
    if found.get("kind") != "token":
        return "anonymous (the server has no identity configured)"
    stacks = ",".join(str(s) for s in found.get("stacks", []))
    return f"token:{found.get('name')} (role {found.get('role')}, stacks {stacks})"


def _read_token() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Kedge token: ").strip()
    return sys.stdin.readline().strip()
