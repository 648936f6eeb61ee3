"""Local images from recipes (``images/``): built once under the recipe's digest, aliases moved
onto it, and the examples pointed at them only when their published images cannot be had."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from images import builder, examples, recipes

pytestmark = pytest.mark.docker


@pytest.fixture
def recipe(docker_client: Any) -> Iterator[recipes.Recipe]:
    """The busybox recipe under a repository of this test's own; its images removed after."""
    repository = f"kedge-test-{uuid.uuid4().hex[:8]}/busybox"
    yield dataclasses.replace(recipes.BUSYBOX, repository=repository, aliases=(f"{repository}:1",))
    for image in docker_client.images.list(name=repository):
        for tag in image.tags:
            with contextlib.suppress(Exception):
                docker_client.images.remove(tag, noprune=False)


def test_an_image_is_built_once_under_its_digest(docker_client: Any, recipe: Any) -> None:
    first = builder.ensure(docker_client, recipe)
    assert first.was_built
    assert first.tag == recipe.tag()
    image = docker_client.images.get(first.tag)
    assert image.labels[recipes.DIGEST_LABEL] == recipe.digest()
    assert f"{recipe.repository}:1" in image.tags
    out = docker_client.containers.run(first.tag, ["sh", "-c", "echo ok"], remove=True)
    assert out == b"ok\n"

    again = builder.ensure(docker_client, recipe)
    assert (again.tag, again.was_built) == (first.tag, False)
    assert docker_client.images.get(again.tag).id == image.id


def test_an_alias_moves_to_the_changed_recipe(docker_client: Any, recipe: Any) -> None:
    old = builder.ensure(docker_client, recipe)
    changed = dataclasses.replace(recipe, changes=(*recipe.changes, "ENV KEDGE_TEST=1"))
    new = builder.ensure(docker_client, changed)
    assert new.was_built
    assert new.tag != old.tag
    alias = docker_client.images.get(f"{recipe.repository}:1")
    assert alias.id == docker_client.images.get(new.tag).id
    assert "KEDGE_TEST=1" in alias.attrs["Config"]["Env"]
    assert docker_client.images.get(old.tag).id != alias.id, "the old build keeps its own tag"


def test_examples_use_the_local_images_only_when_theirs_cannot_be_had(
    tmp_path: Path, docker_client: Any, test_image: str
) -> None:
    offline = tmp_path / "offline.env"
    offline.write_text("APP_IMAGE=kedge-local/busybox:1\n")
    mine, gitops = tmp_path / "mine", tmp_path / "gitops"
    for folder in (mine, gitops):
        folder.mkdir()
    (gitops / ".env").write_text("MY=own\n")
    missing = f"kedge-test-{uuid.uuid4().hex[:8]}/nowhere:1"  # no registry answers for it
    (mine / "app.yaml").write_text(f"services:\n  app:\n    image: ${{APP_IMAGE:-{missing}}}\n")

    said = examples.prepare(docker_client, folders=(mine, gitops), offline=offline)
    assert "no registry answers" in said
    assert (mine / ".env").read_text().startswith(examples.MARKER)
    assert (mine / ".env").read_text().endswith("APP_IMAGE=kedge-local/busybox:1\n")
    assert (gitops / ".env").read_text() == "MY=own\n", "a .env of the user's own is kept"
    assert "left your own" in said

    present = test_image  # every published image is here: the examples run as published
    (mine / "app.yaml").write_text(f"services:\n  app:\n    image: ${{APP_IMAGE:-{present}}}\n")
    said = examples.prepare(docker_client, folders=(mine, gitops), offline=offline)
    assert "run as published" in said
    assert not (mine / ".env").exists()
    assert (gitops / ".env").read_text() == "MY=own\n"
