"""The options several verbs share, each defined once: ``--db`` and compose's project options.

``--db`` (or ``KEDGE_DB``) names the SQLite store of every verb that opens one (``up``,
``down``, ``plan``, ``rollback``, ``db``, ``serve``, ``controller``). The compose-like verbs
(``up``, ``down``, ``plan``) take compose's project options with compose's spelling —
``-f/--file`` (repeatable), ``-p/--project-name``, ``--env-file`` (repeatable) and
``--profile`` (repeatable) — which ``project_options`` turns into the
``specs.projects.ProjectOptions`` that ``projects.resolve`` reads as compose does. ``down``
and ``delete`` take the same ``--volumes``.
Callers: ``cli.local``, ``cli.remote``, ``cli.db``, ``cli.serve``, ``cli.controller``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # the models only when a compose-like verb runs: `kedge db` needs none
    from kedge.specs import projects

__all__ = [
    "DEFAULT_DB",
    "DbOption",
    "EnvFileOption",
    "FilesOption",
    "ProfileOption",
    "ProjectNameOption",
    "VolumesOption",
    "project_options",
]

DEFAULT_DB = Path("kedge.db")

DbOption = Annotated[
    Path, typer.Option("--db", envvar="KEDGE_DB", metavar="PATH", help="The SQLite store.")
]
FilesOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--file",
        "-f",
        metavar="FILE",
        help="A compose file; repeat it to override the first with the others, in order."
        " Default: COMPOSE_FILE, else compose.yaml (and compose.override.yaml) of this"
        " folder or the nearest parent that has one.",
    ),
]
ProjectNameOption = Annotated[
    str | None,
    typer.Option(
        "--project-name",
        "-p",
        metavar="NAME",
        help="The stack's name (default: COMPOSE_PROJECT_NAME, the files' name:, else the"
        " first file's folder).",
    ),
]
EnvFileOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--env-file",
        metavar="PATH",
        help="Read variables from this file instead of the project's .env (repeatable; a"
        " later file wins; the environment wins over all).",
    ),
]
ProfileOption = Annotated[
    list[str] | None,
    typer.Option(
        "--profile",
        metavar="PROFILE",
        help="Enable this profile (repeatable; default: COMPOSE_PROFILES).",
    ),
]

VolumesOption = Annotated[
    bool, typer.Option("--volumes", help="Remove the stack's volumes too (kept otherwise).")
]


def project_options(
    files: list[Path] | None,
    name: str | None,
    env_files: list[Path] | None,
    profiles: list[str] | None,
) -> projects.ProjectOptions:
    """The project options as given on the command line."""
    from kedge.specs import projects

    return projects.ProjectOptions(
        files=tuple(files or ()),
        name=name,
        env_files=tuple(env_files or ()),
        profiles=tuple(profiles or ()),
    )
