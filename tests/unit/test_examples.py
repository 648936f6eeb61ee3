"""The examples validate as users find them, and with the offline overrides the tests use."""

from __future__ import annotations

import json
import pathlib

import pytest
from typer.testing import CliRunner

from kedge.cli.main import app
from kedge.specs import envfiles, loader

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"
SPECS = sorted(EXAMPLES.rglob("*.yaml"))
OFFLINE = envfiles.read_env_file(EXAMPLES / "offline.env")
TEST_IMAGE = "kedge-test/busybox:1"


def test_there_are_examples() -> None:
    names = {path.relative_to(EXAMPLES).as_posix() for path in SPECS}
    assert {"web-db.yaml", "three-tier.yaml", "migrate-job.yaml"} <= names
    assert len([name for name in names if name.startswith("gitops/")]) >= 2


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param([str(EXAMPLES)], id="examples"),
        pytest.param([str(EXAMPLES / "gitops")], id="gitops"),
    ],
)
@pytest.mark.parametrize(
    "env", [pytest.param({}, id="as-published"), pytest.param(OFFLINE, id="offline")]
)
def test_kedge_validate_examples_exits_0(arguments: list[str], env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["validate", *arguments, "-o", "json"], env=env)
    assert result.exit_code == 0, result.output
    reports = json.loads(result.output)
    assert reports, "the folder holds specs"
    assert all(report["valid"] and not report["warnings"] for report in reports), reports


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.relative_to(EXAMPLES).as_posix())
def test_offline_overrides_replace_every_image(path: pathlib.Path) -> None:
    spec = loader.load_file(path, env=OFFLINE)
    images = {name: service.image for name, service in spec.services.items()}
    assert images, "every example has services"
    assert set(images.values()) == {TEST_IMAGE}, images


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.relative_to(EXAMPLES).as_posix())
def test_published_examples_use_real_images(path: pathlib.Path) -> None:
    spec = loader.load_file(path, env={})
    images = {name: service.image or "" for name, service in spec.services.items()}
    assert all(":" in image for image in images.values()), images
    assert not any(image.startswith("kedge-test/") for image in images.values()), images


def test_compose_file_of_kedge_itself_validates() -> None:
    spec = loader.load_file(EXAMPLES.parent / "compose.yaml", env={})
    kedge = spec.services["kedge"]
    assert kedge.command is not None
    assert list(kedge.command)[:1] == ["serve"]
    targets = {volume.target for volume in kedge.volumes}
    assert {"/var/run/docker.sock", "/data", "/specs"} <= targets
