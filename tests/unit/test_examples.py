"""The examples validate as users find them, and with the offline overrides; they publish
host ports of their own, none of them the server's.

``make images`` may have written ``examples/.env`` (no registry answered), which every
reader of the examples takes in as compose does; these tests read a copy of the folder
without it, so they hold the files as published whatever the machine did before.
"""

from __future__ import annotations

import itertools
import json
import pathlib
import shutil

import pytest
from typer.testing import CliRunner

from images import examples as image_examples
from images import recipes
from kedge.cli import addresses
from kedge.cli.main import app
from kedge.specs import envfiles, loader

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NAMES = sorted(p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.yaml"))
OFFLINE = envfiles.read_env_file(EXAMPLES / "offline.env")
OFFLINE_IMAGE = "kedge-local/busybox:1"
SERVER_PORT = addresses.parse_addr(addresses.DEFAULT_ADDR)[1]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A copy of ``examples/`` as committed: without a ``.env`` that ``make images`` wrote."""
    copy = tmp_path_factory.mktemp("published") / "examples"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns(".env"))
    return copy


def test_there_are_examples() -> None:
    names = set(NAMES)
    assert {"web-db.yaml", "three-tier.yaml", "migrate-job.yaml"} <= names
    assert len([name for name in names if name.startswith("gitops/")]) >= 2


@pytest.mark.parametrize(
    "folder", [pytest.param(".", id="examples"), pytest.param("gitops", id="gitops")]
)
@pytest.mark.parametrize(
    "env", [pytest.param({}, id="as-published"), pytest.param(OFFLINE, id="offline")]
)
def test_kedge_validate_examples_exits_0(
    published: pathlib.Path, folder: str, env: dict[str, str]
) -> None:
    result = CliRunner().invoke(app, ["validate", str(published / folder), "-o", "json"], env=env)
    assert result.exit_code == 0, result.output
    reports = json.loads(result.output)
    assert reports, "the folder holds specs"
    assert all(report["valid"] and not report["warnings"] for report in reports), reports


@pytest.mark.parametrize("name", NAMES)
def test_offline_overrides_replace_every_image(published: pathlib.Path, name: str) -> None:
    spec = loader.load_file(published / name, env=OFFLINE)
    images = {name: service.image for name, service in spec.services.items()}
    assert images, "every example has services"
    assert set(images.values()) == {OFFLINE_IMAGE}, images
    assert OFFLINE_IMAGE in recipes.BUSYBOX.aliases, "make images builds what offline.env names"


@pytest.mark.parametrize("name", NAMES)
def test_published_examples_use_real_images(published: pathlib.Path, name: str) -> None:
    spec = loader.load_file(published / name, env={})
    images = {name: service.image or "" for name, service in spec.services.items()}
    assert all(":" in image for image in images.values()), images
    assert not any(image.startswith(("kedge-test/", "kedge-local/")) for image in images.values())


def test_make_images_knows_every_published_image(published: pathlib.Path) -> None:
    """``make images`` asks whether these can be had before pointing the examples elsewhere."""
    loaded = {
        service.image
        for name in NAMES
        for service in loader.load_file(published / name, env={}).services.values()
    }
    listed = image_examples.published_images((published, published / "gitops"))
    assert set(listed) == loaded


def _host_ports(path: pathlib.Path) -> set[int]:
    spec = loader.load_file(path, env={})
    return {
        port
        for service in spec.services.values()
        for mapping in service.ports
        for port in mapping.host_ports()
    }


def test_examples_publish_ports_apart_from_the_server_and_each_other(
    published: pathlib.Path,
) -> None:
    """The first example runs beside ``make run``'s server, and every example beside the rest."""
    ports = {name: _host_ports(published / name) for name in NAMES}
    assert ports["web-db.yaml"], "the README's first example publishes a port to look at"
    for name, used in ports.items():
        assert SERVER_PORT not in used, f"{name} publishes the server's port {SERVER_PORT}"
    for (a, used_a), (b, used_b) in itertools.combinations(ports.items(), 2):
        assert not used_a & used_b, f"{a} and {b} both publish {sorted(used_a & used_b)}"


def test_the_server_address_has_one_default() -> None:
    """``kedge serve``, the client verbs, Kedge's compose file and image listen on one port."""
    assert f"http://{addresses.DEFAULT_ADDR}" == addresses.DEFAULT_SERVER
    spec = loader.load_file(ROOT / "compose.yaml", env={})
    assert _host_ports(ROOT / "compose.yaml") == {SERVER_PORT}
    command = list(spec.services["kedge"].command or [])
    assert addresses.parse_addr(command[command.index("--addr") + 1])[1] == SERVER_PORT
    assert f'"0.0.0.0:{SERVER_PORT}"' in (ROOT / "Dockerfile").read_text()


def test_compose_file_of_kedge_itself_validates() -> None:
    spec = loader.load_file(EXAMPLES.parent / "compose.yaml", env={})
    kedge = spec.services["kedge"]
    assert kedge.command is not None
    assert list(kedge.command)[:1] == ["serve"]
    targets = {volume.target for volume in kedge.volumes}
    assert {"/var/run/docker.sock", "/data", "/specs"} <= targets
