"""``kedge validate FILE|DIR...``: check spec files offline, as ``docker compose config -q`` would.

A folder means every ``*.yaml``/``*.yml`` in it (not recursive, hidden files skipped). Each file
is loaded with ``kedge.specs.loader.load_file`` (its folder's ``.env`` is read, the process
environment wins). Human output lists each error as ``file:line:col: path: message (hint)``;
``-o json`` prints one record per file. The host-safety policy warns (``restricted``), or
refuses with ``--policy FILE`` (``cli.policy``). Exit 0 when every file is valid, 1 otherwise.
Registered in ``kedge.cli.main``.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from kedge.cli.policy import PolicyOption, local_policy
from kedge.errors import SpecError, SpecErrors
from kedge.specs import digests, loader
from kedge.specs.policy import Policy

__all__ = ["validate"]


class Output(StrEnum):
    TEXT = "text"
    JSON = "json"


def validate(
    paths: Annotated[list[Path], typer.Argument(help="spec files or folders of spec files")],
    output: Annotated[Output, typer.Option("--output", "-o", help="text or json")] = Output.TEXT,
    policy_file: PolicyOption = None,
) -> None:
    """Validate spec files (offline); exit 1 if any is invalid."""
    files = collect_files(paths)
    policy, enforce = local_policy(policy_file)
    results = [check_file(path, policy=policy, enforce=enforce) for path in files]
    if output is Output.JSON:
        typer.echo(json.dumps(results, indent=2))
    else:
        for result in results:
            _print(result)
    if not files:
        typer.echo("no spec files found", err=True)
        raise typer.Exit(1)
    raise typer.Exit(0 if all(r["valid"] for r in results) else 1)


def collect_files(paths: list[Path]) -> list[Path]:
    """The spec files named by ``paths``: files as given, folders by their YAML files."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = [
                child
                for child in sorted(path.iterdir())
                if child.suffix in (".yaml", ".yml")
                and not child.name.startswith(".")
                and child.is_file()
            ]
            files.extend(found)
        else:
            files.append(path)
    return files


def check_file(
    path: Path, *, policy: Policy | None = None, enforce: bool = False
) -> dict[str, Any]:
    """Load one file; its record for the output (``valid``, ``stack``, ``digest``, ``errors``).
    The host-safety ``policy`` (``restricted`` by default) warns, or refuses when ``enforce``."""
    record: dict[str, Any] = {
        "file": str(path),
        "valid": False,
        "stack": None,
        "services": [],
        "digest": None,
        "warnings": [],
        "errors": [],
    }
    warnings: list[str] = []
    try:
        spec = loader.load_file(path, warnings=warnings, policy=policy or Policy(), enforce=enforce)
    except SpecError as exc:
        problems = exc.errors if isinstance(exc, SpecErrors) else [exc]
        record["errors"] = [_error_record(p) for p in problems]
    else:
        record.update(
            valid=True,
            stack=spec.name,
            services=list(spec.services),
            digest=digests.digest(spec),
        )
    record["warnings"] = warnings
    return record


def _error_record(error: SpecError) -> dict[str, Any]:
    location = error.location
    return {
        "file": location.file,
        "line": location.line,
        "column": location.column,
        "path": location.path,
        "message": error.message,
        "hint": error.hint,
    }


def _print(result: dict[str, Any]) -> None:
    for warning in result["warnings"]:
        typer.echo(f"warning: {warning}", err=True)
    if result["valid"]:
        count = len(result["services"])
        typer.echo(
            f"{result['file']}: valid (stack {result['stack']}, {count} services,"
            f" {result['digest']})"
        )
        return
    for error in result["errors"]:
        where = error["file"]
        if error["line"] is not None:
            where += f":{error['line']}"
            if error["column"] is not None:
                where += f":{error['column']}"
        text = f"{where}: "
        if error["path"]:
            text += f"{error['path']}: "
        text += error["message"]
        if error["hint"]:
            text += f" ({error['hint']})"
        typer.echo(text)
    typer.echo(f"{result['file']}: invalid ({len(result['errors'])} errors)")
