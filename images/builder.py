"""Build a recipe's image once, keyed by its digest, and point its alias tags at it.

``ensure`` looks the digest's tag up; only when it is missing (or ``rebuild`` is asked) does it
make the root filesystem and ``docker import`` it, with the whole digest as a label. Then each
alias tag is moved onto that image when it names another one (an older recipe's build), so an
example, a test and a chart naming ``kedge-local/busybox:1`` all run the same image. Two
processes that build at once each import an image; the last one's tags win, both work.
Callers: ``images.__main__``, ``tests/conftest.py``, the image test, ``bench/``.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from images.recipes import DIGEST_LABEL, Recipe

__all__ = ["Built", "RecipeError", "ensure"]


class RecipeError(Exception):
    """A recipe that cannot be built on this host; the message says what to install."""


@dataclass(frozen=True)
class Built:
    """What ``ensure`` did: the digest's tag, and how long a build took (None: was present)."""

    tag: str
    seconds: float | None = None

    @property
    def was_built(self) -> bool:
        return self.seconds is not None


def ensure(client: Any, recipe: Recipe, *, rebuild: bool = False) -> Built:
    """The recipe's image under its digest's tag and its aliases, built only when missing."""
    tag, seconds = recipe.tag(), None
    image = None if rebuild else _find(client, tag)
    if image is None:
        started = time.monotonic()
        image = _build(client, recipe, tag)
        seconds = time.monotonic() - started
    for alias in recipe.aliases:
        if alias not in image.tags:
            repository, _, version = alias.rpartition(":")
            image.tag(repository, version)
    return Built(tag, seconds)


def _find(client: Any, tag: str) -> Any:
    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None


def _build(client: Any, recipe: Recipe, tag: str) -> Any:
    problem = recipe.root.problem()
    if problem:
        raise RecipeError(f"the image {recipe.name} ({tag}) cannot be made: {problem}")
    repository, _, version = tag.rpartition(":")
    with tempfile.TemporaryDirectory(prefix=f"kedge-image-{recipe.name}-") as tmp:
        archive = Path(tmp) / "rootfs.tar"
        try:
            recipe.root.write_tar(archive)
        except subprocess.CalledProcessError as exc:
            said = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-5:]
            raise RecipeError(
                f"the image {recipe.name} ({tag}) cannot be made: {exc.cmd[0]} exited with"
                f" {exc.returncode}" + "".join(f"\n  {line}" for line in said)
            ) from exc
        client.api.import_image_from_file(
            str(archive),
            repository=repository,
            tag=version,
            changes=[*recipe.changes, f"LABEL {DIGEST_LABEL}={recipe.digest()}"],
        )
    return client.images.get(tag)
