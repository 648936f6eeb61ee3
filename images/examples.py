"""Point ``examples/`` at the local images when their published images cannot be had.

The examples name their usual images (``postgres:16``, ``nginx:1.27``, …), each replaceable
through a variable; ``examples/offline.env`` replaces every one with the local busybox image
and a command busybox can run. ``prepare`` decides as a user would: when every published
image is present, or the registry answers for a missing one (asked through the daemon, which
knows its proxies and mirrors), the examples run as published and a ``.env`` this module wrote
earlier is removed; otherwise it writes that ``.env`` beside the examples and in
``examples/gitops``, which ``kedge apply``, ``kedge validate``, the spec folder of ``kedge
serve`` and ``docker compose`` all read as compose does. A ``.env`` the user wrote is never
touched. Callers: ``images.__main__`` (``make images``, ``make run``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import docker.errors

__all__ = ["EXAMPLES", "MARKER", "prepare", "published_images"]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FOLDERS = (EXAMPLES, EXAMPLES / "gitops")
OFFLINE = EXAMPLES / "offline.env"
MARKER = "# Made by `make images`"
_DEFAULT_IMAGE = re.compile(r"\$\{\w+_IMAGE:-([^}]+)\}")


def published_images(folders: tuple[Path, ...] = FOLDERS) -> list[str]:
    """The images the examples name when no variable replaces them."""
    found = {
        match.group(1)
        for folder in folders
        for path in sorted(folder.glob("*.yaml"))
        for match in _DEFAULT_IMAGE.finditer(path.read_text())
    }
    return sorted(found)


def has_published_images(client: Any, images: list[str]) -> bool:
    """Every image is present, or the registry answers for the first one missing."""
    missing = [image for image in images if not _present(client, image)]
    if not missing:
        return True
    try:
        client.images.get_registry_data(missing[0])
    except docker.errors.APIError:
        return False
    return True


def prepare(client: Any, *, folders: tuple[Path, ...] = FOLDERS, offline: Path = OFFLINE) -> str:
    """Write or remove the examples' ``.env``; returns what was done, in one line."""
    dotenvs = [folder / ".env" for folder in folders]
    if has_published_images(client, published_images(folders)):
        removed = [path for path in dotenvs if _is_ours(path)]
        for path in removed:
            path.unlink()
        return "examples: their published images can be had; they run as published" + (
            f" (removed {', '.join(map(_shown, removed))})" if removed else ""
        )
    text = (
        f"{MARKER}: no registry answered for the examples' images, so every one\n"
        "# runs on the local busybox image (a copy of offline.env). Removed by `make images`\n"
        "# once a registry answers; delete it to use the published images anyway.\n"
        + offline.read_text()
    )
    written, kept = [], []
    for path in dotenvs:
        if path.exists() and not _is_ours(path):
            kept.append(path)
            continue
        path.write_text(text)
        written.append(path)
    said = [f"{', '.join(map(_shown, written))} point them at the local images"] if written else []
    if kept:
        said.append(f"left your own {', '.join(map(_shown, kept))} alone (see offline.env)")
    return "; ".join(["examples: no registry answers", *said])


def _is_ours(path: Path) -> bool:
    return path.is_file() and path.read_text().startswith(MARKER)


def _present(client: Any, image: str) -> bool:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


def _shown(path: Path) -> str:
    return (
        str(path.relative_to(EXAMPLES.parent))
        if path.is_relative_to(EXAMPLES.parent)
        else str(path)
    )
