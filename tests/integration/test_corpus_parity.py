"""Parity with Docker Compose on the real compose files of the corpus (``shared/corpus``).

Each of the 39 files of docker/awesome-compose is created (not started: the samples' images
are stand-ins) twice against the real daemon: by ``docker compose create`` and by Kedge's
plan and executor with only the create actions. Every container, network and volume is then
inspected and compared (``parity.differences``), so a key of a real file
that Kedge maps differently from compose fails the test naming the file and the field.

No registry is reachable, so every image a file names is the local busybox test image under
that name (a built service's image under the name compose and Kedge give it, so neither
builds), tagged for this module and untagged after it. Secret and config files the samples
leave out are made empty. The two tools run one after the other, since many
samples fix their containers' names.
"""

from __future__ import annotations

import contextlib
import csv
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kedge.planning import planner
from kedge.planning.actions import ActionKind, Plan
from kedge.planning.observed import ObservedStack
from kedge.reconcilers import executor
from kedge.reconcilers.desired import Desired
from kedge.reconcilers.engine import Engine
from kedge.specs import loader
from kedge.specs.stack import StackSpec
from tests.compose_reference import required_compose_binary
from tests.conftest import TEST_IMAGE
from tests.integration import parity

pytestmark = pytest.mark.docker

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "awesome-compose"
MANIFEST = CORPUS / "MANIFEST.tsv"
CREATING = {ActionKind.CREATE_NETWORK, ActionKind.CREATE_VOLUME, ActionKind.CREATE_CONTAINER}


def files() -> list[str]:
    if not MANIFEST.exists():
        return []
    with MANIFEST.open(newline="", encoding="utf-8") as fh:
        rows = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [row["file"] for row in rows if row["expected"] == "valid"]


@pytest.fixture(scope="module")
def stand_ins(docker_client: Any, test_image: str) -> Iterator[set[str]]:
    """Image references tagged for this module (to untag after it)."""
    import docker

    made: set[str] = set()
    yield made
    for reference in made:
        with contextlib.suppress(docker.errors.APIError):
            docker_client.images.remove(reference, noprune=True)


def _stand_in(client: Any, reference: str, made: set[str], source: str) -> None:
    import docker

    try:
        client.images.get(reference)
    except docker.errors.ImageNotFound:
        repository, _, tag = reference.rpartition(":")
        if not repository or "/" in tag:
            repository, tag = reference, "latest"
        client.images.get(source).tag(repository, tag)
        made.add(f"{repository}:{tag}")


@pytest.mark.skipif(not MANIFEST.exists(), reason="shared corpus not present")
@pytest.mark.parametrize("file", files())
def test_kedge_creates_what_compose_creates(
    file: str,
    tmp_path: Path,
    stack_name: str,
    stand_ins: set[str],
    docker_client: Any,
):
    binary = required_compose_binary()
    sample = tmp_path / "sample"
    shutil.copytree((CORPUS / file).parent, sample)
    path = sample / Path(file).name
    spec = loader.load_file(path, env={})
    spec = spec.model_copy(update={"name": stack_name})
    project = f"kc{uuid.uuid4().hex[:10]}"
    _prepare(spec, sample, docker_client, stand_ins, TEST_IMAGE, projects=(project, stack_name))

    ours_failed = _kedge_create(spec)
    try:
        ours = parity.snapshot(docker_client, parity.KEDGE_LABEL, stack_name)
    finally:
        parity.remove(docker_client, parity.KEDGE_LABEL, stack_name)

    # as the corpus verdicts were made: no variables, but a home for "~" in bind sources
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(Path.home())}
    created = subprocess.run(
        [binary, "-f", str(path), "-p", project, "create", "--no-build", "--pull", "never"],
        capture_output=True,
        text=True,
        check=False,
        cwd=sample,
        env=env,
    )
    try:
        theirs = parity.snapshot(docker_client, parity.COMPOSE_LABEL, project)
    finally:
        parity.compose_down(docker_client, binary, path, project)

    if created.returncode != 0:  # the daemon refused compose: it must refuse Kedge the same way
        refusal = created.stderr.strip().splitlines()[-1]
        assert ours_failed, f"compose failed but Kedge did not: {refusal}"
        # the daemon's own words (compose may name its call before them, as Kedge does)
        assert refusal.rsplit("Error response from daemon: ", 1)[-1] in ours_failed
        return
    assert ours_failed is None, f"compose created the stack, Kedge failed: {ours_failed}"
    found = parity.differences(theirs, ours)
    assert not found, "\n".join(found)


def _prepare(
    spec: StackSpec,
    sample: Path,
    client: Any,
    made: set[str],
    source: str,
    *,
    projects: tuple[str, str],
) -> None:
    """Stand-in images, empty secret and config files, external networks and volumes."""
    for service, svc in spec.services.items():
        if svc.image:
            _stand_in(client, svc.image, made, source)
        else:
            for project in projects:
                _stand_in(client, f"{project}-{service}", made, source)
    for kind in (spec.secrets, spec.configs):
        for item in kind.values():
            if item.file and not (sample / item.file).exists():
                (sample / item.file).parent.mkdir(parents=True, exist_ok=True)
                (sample / item.file).write_text("")


def _kedge_create(spec: StackSpec) -> str | None:
    """Kedge's plan for the stack, its create actions carried out; the error, if any."""
    from kedge.errors import KedgeError

    engine = Engine.from_env()
    try:
        plan = planner.plan(spec, ObservedStack(stack=spec.name))
        creating = Plan(
            stack=plan.stack, actions=tuple(a for a in plan.actions if a.kind in CREATING)
        )
        executor.execute(engine, creating, desired=Desired(spec.name, spec, version=1, command=1))
    except KedgeError as exc:
        return str(exc)
    finally:
        engine.close()
    return None
