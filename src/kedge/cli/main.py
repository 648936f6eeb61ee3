"""The ``kedge`` command: the root typer app; each verb lives in its own module of ``cli``."""

from __future__ import annotations

import typer

from kedge import __version__
from kedge.cli import (
    apply,
    containers,
    db,
    describe,
    diff,
    events,
    get,
    local,
    logs,
    remote,
    serve,
    validate,
)
from kedge.cli import controller as controller_verb

app = typer.Typer(
    name="kedge",
    help=(
        "Kedge keeps Docker stacks converged on the specs you commit.\n\n"
        "Where a verb runs, one rule: the kubectl-like verbs (get, describe, apply, diff,"
        " rollback, delete, cancel, history, logs, status) are clients of a Kedge server,"
        " named by --server or KEDGE_SERVER (default http://127.0.0.1:8080, where"
        " `kedge serve` listens); the compose-like verbs (up, down, plan, validate, db) work"
        " offline on a local store (--db) and need no server. A verb that exists in both"
        " forms (rollback) is the server's when a server is named, the local one otherwise."
    ),
    no_args_is_help=True,
    add_completion=False,
)


@app.command("version")
def version() -> None:
    """Print Kedge's version."""
    typer.echo(f"kedge {__version__}")


app.add_typer(db.app, name="db")
app.command("controller")(controller_verb.controller)
app.command("validate")(validate.validate)
app.command("up")(local.up)
app.command("down")(local.down)
app.command("plan")(local.plan)

# the server and its clients (see the rule in the help above)
app.command("serve")(serve.serve)
app.add_typer(get.app, name="get")
get.app.command("events")(events.get_events)
get.app.command("containers")(containers.get_containers)
app.add_typer(describe.app, name="describe")
app.command("apply")(apply.apply)
app.command("diff")(diff.diff)
app.command("rollback")(local.rollback)  # the server's with --server/KEDGE_SERVER
app.command("delete")(remote.delete)
app.command("cancel")(remote.cancel)
app.command("history")(remote.history)
app.command("logs")(logs.logs)
app.command("status")(remote.status)
