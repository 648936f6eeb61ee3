"""The Docker image of Kedge builds and runs the controller (issue 5, Done when 4).

No registry is reachable, so the image is built on a locally made base: a Debian root
filesystem with Python (``debootstrap``) made into an image with ``docker import`` (the recipe
``images.recipes.PYTHON_BASE``), and the Python packages come from a local wheelhouse served
to the build over HTTP. Both are cached (the base image under its recipe's digest, the
wheelhouse under ``~/.cache``) so that later runs only build Kedge's own layer. The container
then runs ``kedge controller`` against the host's daemon through the mounted socket, and a
spec file written to its folder converges.
"""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from images import builder, recipes
from tests.integration.controller_process import running_healthy, spec_text, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BASE = "kedge-local/python-base:3.11"  # an alias tag of images.recipes.PYTHON_BASE
IMAGE = "kedge-test/kedge:dev"
WHEELS = Path.home() / ".cache" / "kedge-test-wheels"


def _base_image(client: Any) -> str:
    """A Debian bookworm root filesystem with Python 3.11, built once under its digest."""
    try:
        builder.ensure(client, recipes.PYTHON_BASE)
    except builder.RecipeError as exc:
        pytest.fail(str(exc))
    return BASE


def _wheelhouse() -> Path:
    """Wheels of Kedge's dependencies and of its build backend (PyPI answers on the host)."""
    WHEELS.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "--quiet"]
    subprocess.run([*pip, "wheel", str(ROOT), "-w", str(WHEELS)], check=True)
    subprocess.run([*pip, "download", "hatchling", "-d", str(WHEELS)], check=True)
    for stale in WHEELS.glob("kedgectl-*"):
        stale.unlink()  # Kedge itself is built from the context
    return WHEELS


@pytest.fixture
def wheel_server() -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(_wheelhouse()))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_the_image_runs_the_controller(
    tmp_path: Path, docker_client: Any, test_image: str, stack_name: str, wheel_server: str
) -> None:
    base = _base_image(docker_client)
    docker_client.images.build(
        path=str(ROOT),
        tag=IMAGE,
        buildargs={"BASE": base, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": wheel_server},
        network_mode="host",  # the wheelhouse is served on the host's loopback
        rm=True,
    )
    specs = tmp_path / "specs"
    specs.mkdir()
    name = f"kedge-{uuid.uuid4().hex[:8]}"
    container = docker_client.containers.run(
        IMAGE,
        ["controller", "--specs", "/specs", "--db", "/data/kedge.db", "--resync", "5"],
        name=name,
        detach=True,
        volumes={
            "/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"},
            str(specs): {"bind": "/specs", "mode": "ro"},
        },
    )
    try:
        (specs / f"{stack_name}.yaml").write_text(
            spec_text(stack_name, image=test_image, services=("web",))
        )
        found = wait_for(
            lambda: running_healthy(docker_client, stack_name, services=1),
            timeout=120,
            what="the stack started by the containerised controller",
            every=0.5,
        )
        assert found["web"].labels["kedge.version"] == "1"
        container.reload()
        assert container.status == "running"
        container.stop(timeout=30)  # SIGTERM: a clean exit
        assert container.wait(timeout=30)["StatusCode"] == 0
        logs = container.logs().decode()
        assert '"event": "controller stopped"' in logs, logs[-2000:]
    except BaseException:
        print(container.logs().decode()[-5000:])
        raise
    finally:
        container.remove(force=True, v=True)  # and the image's /data volume
