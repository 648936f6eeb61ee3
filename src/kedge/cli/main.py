"""The ``kedge`` command: the root typer app; each verb lives in its own module of ``cli``."""

from __future__ import annotations

import typer

from kedge import __version__
from kedge.cli import controller, db, validate

app = typer.Typer(
    name="kedge",
    help="Kedge keeps Docker stacks converged on the specs you commit.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("version")
def version() -> None:
    """Print Kedge's version."""
    typer.echo(f"kedge {__version__}")


app.add_typer(db.app, name="db")
app.command("validate")(validate.validate)
app.command("controller")(controller.controller)
