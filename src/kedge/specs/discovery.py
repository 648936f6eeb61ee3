"""Compose's file discovery: the compose file (and its override) a folder or a parent holds.

compose-go's ``WithDefaultConfigPath``: from the working directory up, the first folder that
holds one of ``DEFAULT_FILES`` gives the first of them, followed by the first of
``OVERRIDE_FILES`` beside it. The standard library only: ``kedge up``'s fast path
(``specs.inputs``, ``cli.quick``) discovers a project before importing anything heavier, and
``specs.projects`` discovers it the same way for the full path.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_FILES", "OVERRIDE_FILES", "candidates", "discover"]

#: compose's file names, in the order compose prefers them
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)


def discover(cwd: Path) -> tuple[Path, ...]:
    """The compose file and its override found from ``cwd`` up; empty when there is none."""
    for folder in (cwd, *cwd.parents):
        found, overrides = candidates(folder)
        if found:
            return (found[0], *overrides[:1])
    return ()


def candidates(folder: Path) -> tuple[list[Path], list[Path]]:
    """Every compose file and every override file ``folder`` holds, in compose's order (it
    uses the first of each, and warns when there are several)."""
    found = [folder / n for n in DEFAULT_FILES if (folder / n).is_file()]
    overrides = [folder / n for n in OVERRIDE_FILES if (folder / n).is_file()]
    return found, overrides
