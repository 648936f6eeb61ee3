"""Recipes' digests: the same recipe keeps its tag, any change to what it is made of moves it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from images import recipes

BUSYBOX = recipes.BUSYBOX


def test_the_tag_is_the_repository_and_twelve_digits_of_the_digest() -> None:
    digest = BUSYBOX.digest()
    assert len(digest) == 64
    assert BUSYBOX.tag() == f"kedge-local/busybox:{digest[:12]}"
    assert dataclasses.replace(BUSYBOX).digest() == digest, "the same recipe, the same digest"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"changes": ('CMD ["sh", "-l"]',)}, id="changes"),
        pytest.param({"repository": "kedge-local/other"}, id="repository"),
        pytest.param({"root": recipes.BusyboxRoot(dirs=("bin",))}, id="root-layout"),
        pytest.param({"root": recipes.BusyboxRoot(files=())}, id="root-files"),
    ],
)
def test_a_changed_recipe_has_another_digest(change: dict[str, object]) -> None:
    assert dataclasses.replace(BUSYBOX, **change).digest() != BUSYBOX.digest()  # type: ignore[arg-type]


def test_aliases_are_not_part_of_the_digest() -> None:
    """Naming the same image under one more tag builds nothing again."""
    more = dataclasses.replace(BUSYBOX, aliases=(*BUSYBOX.aliases, "kedge-local/busybox:x"))
    assert more.digest() == BUSYBOX.digest()


def test_another_busybox_binary_has_another_digest(tmp_path: Path) -> None:
    other = tmp_path / "busybox"
    other.write_bytes(Path("/bin/sh").read_bytes() + b"\0")
    moved = dataclasses.replace(BUSYBOX, root=recipes.BusyboxRoot(binary=other))
    assert moved.digest() != BUSYBOX.digest()


def test_a_dynamic_binary_is_refused_with_what_to_install(tmp_path: Path) -> None:
    dynamic = recipes.BusyboxRoot(binary=Path("/bin/sh"))
    assert dynamic.problem() == "/bin/sh is not a static binary: install Debian's busybox-static"
    missing = recipes.BusyboxRoot(binary=tmp_path / "none")
    assert "is missing: install Debian's busybox-static" in (missing.problem() or "")


def test_a_debian_root_is_keyed_by_its_suite_and_package_names() -> None:
    base = recipes.PYTHON_BASE
    packages = ("python3", "python3-venv", "ca-certificates")
    assert base.root == recipes.DebianRoot(suite="bookworm", packages=packages)

    def root(*names: str) -> recipes.Recipe:
        return dataclasses.replace(base, root=recipes.DebianRoot(suite="bookworm", packages=names))

    assert root("python3").digest() != base.digest()
    assert root(*reversed(packages)).digest() == base.digest()
