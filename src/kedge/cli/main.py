"""The ``kedge`` command: the root typer app; each verb lives in its own module of ``cli``.

A verb's module is imported only when that verb runs (or its ``--help`` is asked): ``VERBS``
maps each verb to the module and attribute that hold it, with the one line ``kedge --help``
lists for it, so that ``kedge up`` does not pay for the server (fastapi, uvicorn) or the HTTP
client (httpx) it never uses. ``_LazyGroup`` is the root's click group: it lists every verb
from ``VERBS`` and builds a verb's command, with typer, on first use.
``tests/cli/test_imports.py`` checks that the one-line helps match the verbs' docstrings and
that ``kedge up`` imports none of the server's libraries.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer
import typer.core
import typer.main

from kedge import __version__
from kedge.cli import addresses

if TYPE_CHECKING:
    from typer import _click

__all__ = ["VERBS", "Verb", "app", "load_verb"]


@dataclass(frozen=True, slots=True)
class Verb:
    """Where a verb lives (``module``'s ``attribute``: a function, or a typer app of
    subcommands) and the line that ``kedge --help`` shows for it (the first paragraph of its
    help, kept here so that listing the verbs imports none of them)."""

    module: str
    attribute: str
    help: str


#: every verb but ``version``, in the order ``kedge --help`` lists them
VERBS: dict[str, Verb] = {
    "controller": Verb(
        "kedge.cli.controller",
        "controller",
        "Run the controller: keep every stack of the spec folder converged.",
    ),
    "validate": Verb(
        "kedge.cli.validate",
        "validate",
        "Validate spec files (offline); exit 1 if any is invalid.",
    ),
    "up": Verb(
        "kedge.cli.local",
        "up",
        "Apply a spec file: record it as a version and converge the stack to it.",
    ),
    "down": Verb(
        "kedge.cli.local",
        "down",
        "Delete a stack: its containers, dependents first, and networks; volumes if asked.",
    ),
    "plan": Verb(
        "kedge.cli.local",
        "plan",
        "Print the plan for a spec file; exit 0 nothing to do, 1 something to do, 2 error.",
    ),
    # the server and its clients (see the rule in the root's help)
    "serve": Verb(
        "kedge.cli.serve",
        "serve",
        "Run the API, the controller and /metrics in one process.",
    ),
    "apply": Verb(
        "kedge.cli.apply",
        "apply",
        "Create a version of each spec and apply it (with --wait: until it ends).",
    ),
    "diff": Verb(
        "kedge.cli.diff",
        "diff",
        "Show the plan of each spec against what runs (exit 1 when something would change).",
    ),
    # the server's with --server/KEDGE_SERVER, the local one otherwise
    "rollback": Verb(
        "kedge.cli.local",
        "rollback",
        "Converge a stack to one of its earlier versions (only what differs is touched).",
    ),
    "delete": Verb(
        "kedge.cli.remote",
        "delete",
        "Delete a stack's containers and networks (and volumes with --volumes).",
    ),
    "cancel": Verb(
        "kedge.cli.remote",
        "cancel",
        "Cancel a command: a pending one at once, a running one between two actions.",
    ),
    "history": Verb(
        "kedge.cli.remote",
        "history",
        "The versions of a stack: when, by whom, source file and commit, digest, outcome.",
    ),
    "logs": Verb(
        "kedge.cli.logs",
        "logs",
        "Print a stack's container output, or a command's log lines (--command ID).",
    ),
    "status": Verb(
        "kedge.cli.remote",
        "status",
        "One table of every stack: version, sync, health, ready containers, last command.",
    ),
    "login": Verb(
        "kedge.cli.auth",
        "login",
        "Check a token against the server and keep it for the CLI (mode 0600).",
    ),
    # verbs with subcommands
    "db": Verb("kedge.cli.db", "app", "Back up and check Kedge's database."),
    "get": Verb("kedge.cli.get", "app", "List stacks, versions, commands or the audit trail."),
    "describe": Verb("kedge.cli.describe", "app", "Show one object in detail."),
    "policy": Verb("kedge.cli.policy", "app", "Check specs against the host-safety policy."),
    "token": Verb(
        "kedge.cli.tokens",
        "app",
        "Create, list and revoke Kedge's API tokens (offline, on the store's file).",
    ),
    "auth": Verb("kedge.cli.auth", "app", "Who the CLI acts as on a Kedge server."),
}


def load_verb(name: str, *, rich_markup_mode: typer.core.MarkupMode) -> _click.Command:
    """Import the verb's module and build its click command as ``add_typer``/``command``
    on the root app would have."""
    verb = VERBS[name]
    target: Any = getattr(importlib.import_module(verb.module), verb.attribute)
    holder = typer.Typer(
        rich_markup_mode=rich_markup_mode,
        pretty_exceptions_short=app.pretty_exceptions_short,
    )
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    return typer.main.get_group(holder).commands[name]


class _LazyGroup(typer.core.TyperGroup):
    """The root group: every verb of ``VERBS`` is listed by a placeholder that carries its
    help line, and replaced by the real command when the verb is asked for."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._listing = False
        for name, verb in VERBS.items():
            self.commands.setdefault(name, _Placeholder(name, help=verb.help))

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        command = self.commands.get(cmd_name)
        if isinstance(command, _Placeholder) and not self._listing:
            command = load_verb(cmd_name, rich_markup_mode=self.rich_markup_mode)
            self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        # the list of verbs needs only their help lines: import none of them for it
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


class _Placeholder(typer.core.TyperCommand):
    """A verb not imported yet: only its name and help line, for ``kedge --help``."""


app = typer.Typer(
    name="kedge",
    help=(
        "Kedge keeps Docker stacks converged on the specs you commit.\n\n"
        "Where a verb runs, one rule: the kubectl-like verbs (get, describe, apply, diff,"
        " rollback, delete, cancel, history, logs, status) are clients of a Kedge server,"
        f" named by --server or KEDGE_SERVER (default {addresses.DEFAULT_SERVER}, where"
        " `kedge serve` listens); the compose-like verbs (up, down, plan, validate, db) work"
        " offline on a local store (--db) and need no server. A verb that exists in both"
        " forms (rollback) is the server's when a server is named, the local one otherwise."
    ),
    cls=_LazyGroup,
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    # a callback keeps ``app`` a group while ``version`` is its only eager command: typer
    # makes an app of one command and no callback that command itself
    return


@app.command("version")
def version() -> None:
    """Print Kedge's version."""
    typer.echo(f"kedge {__version__}")
