"""``kedge db``: offline care of the store's SQLite file — ``backup PATH`` and ``check``.

Both work on the file directly (no API needed) and are safe while Kedge runs: the backup
uses SQLite's online backup API, the check only reads. Caller: the root app in
``kedge.cli.main``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kedge import errors
from kedge.cli.options import DEFAULT_DB, DbOption
from kedge.store import SqliteStore

__all__ = ["app"]

app = typer.Typer(name="db", help="Back up and check Kedge's database.", no_args_is_help=True)


@app.command("backup")
def backup(
    path: Annotated[Path, typer.Argument(help="Where to write the copy (replaced if present).")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Copy the database to PATH consistently, even while Kedge writes to it."""
    try:
        store = SqliteStore.open(db, migrate=False)
        try:
            store.backup(path)
        finally:
            store.close()
        copy = SqliteStore.open(path, migrate=False)
        try:
            report = copy.check()
        finally:
            copy.close()
    except errors.KedgeError as exc:
        typer.echo(f"kedge db backup: {exc}", err=True)
        raise typer.Exit(1) from exc
    if not report.ok:
        typer.echo(f"kedge db backup: the copy at {path} fails its check:", err=True)
        for problem in report.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"backed up {db} to {path} (schema version {report.schema_version})")


@app.command("check")
def check(db: DbOption = DEFAULT_DB) -> None:
    """Check the database's integrity and schema version; exit 1 on any problem."""
    try:
        store = SqliteStore.open(db, migrate=False)
        try:
            report = store.check()
        finally:
            store.close()
    except errors.KedgeError as exc:
        typer.echo(f"kedge db check: {exc}", err=True)
        raise typer.Exit(1) from exc
    for problem in report.problems:
        typer.echo(f"integrity: {problem}", err=True)
    for name in report.unknown_migrations:
        typer.echo(
            f"schema: migration {name!r} is unknown to this Kedge (a newer Kedge wrote it)",
            err=True,
        )
    schema = f"schema version {report.schema_version} of {report.latest_schema_version}"
    if report.pending_migrations:
        schema += f" (pending, applied when Kedge starts: {', '.join(report.pending_migrations)})"
    if not report.ok:
        typer.echo(f"{db}: FAILED; {schema}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{db}: ok; integrity ok; {schema}")
