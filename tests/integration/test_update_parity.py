"""Parity with Docker Compose on updates: after the same change to a spec, Kedge recreates,
restarts and keeps the same containers as ``docker compose up -d`` does.

Each case brings up ``BASE`` and then ``BASE`` with one change, by compose and then by
Kedge (one after the other), and records for every container whether it was kept, restarted
(same id, a new start) or recreated (a new id), and which containers were added or removed.
The two records must be equal, except where ``DELIBERATE`` says why Kedge does otherwise.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kedge.specs.commands import CommandStatus
from tests.compose_reference import required_compose_binary
from tests.conftest import TEST_IMAGE
from tests.integration import parity
from tests.integration.converge import Kedge

pytestmark = pytest.mark.docker

BASE = """
name: STACK
services:
  db:
    image: kedge-test/busybox:1
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    environment: {ROLE: db}
    healthcheck: {test: [CMD, "true"], interval: 1s}
    volumes: [data:/data]
    networks: [back]
  web:
    image: kedge-test/busybox:1
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    environment: {ROLE: web, LEVEL: "1"}
    labels: {tier: front}
    depends_on: {db: {condition: service_healthy}}
    networks: [front, back]
  worker:
    image: kedge-test/busybox:1
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    depends_on: {db: {condition: service_started, restart: true}}
    networks: [back]
volumes:
  data: {}
networks:
  front: {}
  back: {}
"""

#: name: (the text to replace in BASE, what replaces it), or a list of such replacements
CHANGES = {
    "nothing": ("", ""),
    "environment": ("ROLE: web, LEVEL: \"1\"", "ROLE: web, LEVEL: \"2\""),
    "environment-same-as-list": (
        "environment: {ROLE: web, LEVEL: \"1\"}",
        "environment: [LEVEL=1, ROLE=web]",
    ),
    "label": ("labels: {tier: front}", "labels: {tier: back}"),
    # the same spec written otherwise: nothing is recreated
    "labels-as-list": ("labels: {tier: front}", "labels: [tier=front]"),
    "command-as-string": ("    command: [sleep, \"3600\"]\n    stop_signal: SIGKILL\n"
                          "    environment: {ROLE: web",
                          "    command: sleep 3600\n    stop_signal: SIGKILL\n"
                          "    environment: {ROLE: web"),
    "duration-in-ms": ("interval: 1s", "interval: 1000ms"),
    "networks-as-mapping": ("    networks: [front, back]", "    networks: {back: {}, front: {}}"),
    "command": ("    depends_on: {db: {condition: service_started, restart: true}}",
                "    depends_on: {db: {condition: service_started, restart: true}}\n"
                "    entrypoint: [sh, -c, 'exec \"$$@\"', --]"),
    "dependency-recreated": ("environment: {ROLE: db}", "environment: {ROLE: database}"),
    "depends_on": ("depends_on: {db: {condition: service_healthy}}",
                   "depends_on: {db: {condition: service_started}}"),
    "start-first-update": ("ROLE: web, LEVEL: \"1\"", "ROLE: web, LEVEL: \"2\""),
    "namespace-donor-recreated": ("ROLE: web, LEVEL: \"1\"", "ROLE: web, LEVEL: \"2\""),
    "volumes-donor-recreated": ("ROLE: db}", "ROLE: database}"),
    "link-target-recreated": ("ROLE: web, LEVEL: \"1\"", "ROLE: web, LEVEL: \"2\""),
    "network-left": ("    networks: [front, back]", "    networks: [back]"),
    "network-dropped": [("    networks: [front, back]\n", "    networks: [back]\n"),
                        ("  front: {}\n", "")],
    "env_file-switched": ("env_file: [a.env]", "env_file: [b.env]"),
    "ipc-donor-recreated": ("ROLE: web, LEVEL: \"1\"", "ROLE: web, LEVEL: \"2\""),
    "pid-donor-recreated": ("ROLE: web, LEVEL: \"1\"", "ROLE: web, LEVEL: \"2\""),
    "scale-down": ("    scale: 3", "    scale: 1"),
    "scale-to-zero": ("    scale: 3", "    scale: 0"),
    "scale-up": ("labels: {tier: front}", "labels: {tier: front}\n    scale: 2"),
    "network-added": ("    networks: [back]\nvolumes:", "    networks: [back, front]\nvolumes:"),
    "healthcheck": ("interval: 1s", "interval: 2s"),
    "pull_policy": ("labels: {tier: front}", "labels: {tier: front}\n    pull_policy: missing"),
    "restart-policy": ("environment: {ROLE: db}", "environment: {ROLE: db}\n    restart: always"),
    "network-changed": ("  back: {}", "  back: {labels: {zone: b}}"),
    "service-removed": ("  worker:\n", "  worker:\n    profiles: [off]\n"),
    "extension": ("labels: {tier: front}",
                  "labels: {tier: front}\n    x-kedge: {update: stop-first}"),
    "one-shot-again": ("", ""),
    "port-published": ("labels: {tier: front}",
                       "labels: {tier: front}\n    ports: ['127.0.0.1::80']"),
    "volume-mounted": ("    networks: [back]\nvolumes:",
                       "    networks: [back]\n    volumes: [data:/data]\nvolumes:"),
    "secret-file-switched": ("./one.txt", "./two.txt"),
    "image-new-tag-same-image": ("image: kedge-test/busybox:1\n    command: [sleep, \"3600\"]\n"
                                 "    stop_signal: SIGKILL\n    environment: {ROLE: web",
                                 "image: kedge-test/busybox:alias\n    command: [sleep, \"3600\"]\n"
                                 "    stop_signal: SIGKILL\n    environment: {ROLE: web"),
    "image-tag-moved": ("", ""),
    "container-removed": ("", ""),
    "container-stopped": ("", ""),
    "container-killed": ("", ""),
    "service-added": ("volumes:\n  data: {}", "  extra:\n    image: kedge-test/busybox:1\n"
                      "    command: [sleep, \"3600\"]\n    stop_signal: SIGKILL\n"
                      "volumes:\n  data: {}"),
}  # fmt: skip

#: cases that start from another spec than BASE
BASES = {
    # a container in another's namespaces, or with its volumes: recreated with it
    "namespace-donor-recreated": BASE.replace(
        "volumes:\n  data: {}",
        '  sidecar:\n    image: kedge-test/busybox:1\n    command: [sleep, "3600"]\n'
        '    stop_signal: SIGKILL\n    network_mode: "service:web"\n'
        '    ipc: "service:web"\n    depends_on: [web]\nvolumes:\n  data: {}',
    ).replace("labels: {tier: front}", "labels: {tier: front}\n    ipc: shareable"),
    **{
        f"{mode}-donor-recreated": BASE.replace(
            "volumes:\n  data: {}",
            '  sidecar:\n    image: kedge-test/busybox:1\n    command: [sleep, "3600"]\n'
            f'    stop_signal: SIGKILL\n    {mode}: "service:web"\nvolumes:\n  data: {{}}',
        ).replace("labels: {tier: front}", "labels: {tier: front}\n    ipc: shareable")
        for mode in ("ipc", "pid")
    },
    "env_file-switched": BASE.replace(
        "labels: {tier: front}", "labels: {tier: front}\n    env_file: [a.env]"
    ),
    "link-target-recreated": BASE.replace(
        "volumes:\n  data: {}",
        '  linker:\n    image: kedge-test/busybox:1\n    command: [sleep, "3600"]\n'
        '    stop_signal: SIGKILL\n    links: ["web:site"]\n    networks: [front]\n'
        "volumes:\n  data: {}",
    ),
    "volumes-donor-recreated": BASE.replace(
        "volumes:\n  data: {}",
        '  reader:\n    image: kedge-test/busybox:1\n    command: [sleep, "3600"]\n'
        "    stop_signal: SIGKILL\n    volumes_from: [db]\nvolumes:\n  data: {}",
    ),
    # Kedge starts the new copy before it stops the old one; the end is the same
    "start-first-update": BASE.replace(
        "labels: {tier: front}", "labels: {tier: front}\n    x-kedge: {update: start-first}"
    ),
    **{
        case: BASE.replace("labels: {tier: front}", "labels: {tier: front}\n    scale: 3")
        for case in ("scale-down", "scale-to-zero")
    },
    "secret-file-switched": BASE.replace(
        "    networks: [back]\nvolumes:", "    networks: [back]\n    secrets: [token]\nvolumes:"
    )
    + "secrets:\n  token: {file: ./one.txt}\n",
    "one-shot-again": BASE.replace(
        "volumes:\n  data: {}",
        '  once:\n    image: kedge-test/busybox:1\n    command: ["true"]\n'
        '    restart: "no"\nvolumes:\n  data: {}',
    ),
}

#: what happens to the running stack between the two ups (by hand, outside either tool)
BETWEEN: dict[str, Callable[[Any, str], None]] = {
    "image-tag-moved": lambda client, project: _tag(client, MOVED, f"{project}/moving:1"),
    "container-removed": lambda client, project: client.containers.get(f"{project}-web-1").remove(
        force=True
    ),
    "container-stopped": lambda client, project: client.containers.get(f"{project}-worker-1").stop(
        timeout=0
    ),
    "container-killed": lambda client, project: client.containers.get(f"{project}-db-1").kill(),
}
#: what happens before the first up
BEFORE: dict[str, Callable[[Any, str], None]] = {
    "image-tag-moved": lambda client, project: _tag(client, TEST_IMAGE, f"{project}/moving:1"),
}
BASES["image-tag-moved"] = BASE.replace(
    'image: kedge-test/busybox:1\n    command: [sleep, "3600"]\n    stop_signal: SIGKILL\n'
    "    environment: {ROLE: web",
    'image: STACK/moving:1\n    command: [sleep, "3600"]\n    stop_signal: SIGKILL\n'
    "    environment: {ROLE: web",
)
MOVED = "kedge-test/busybox:moved"

#: where Kedge deliberately does otherwise than compose, the change and why
DELIBERATE = {
    "service-removed": "Kedge converges the stack to its spec: a service left out of it (here"
    " by a profile not enabled) is removed; compose keeps it unless --remove-orphans is given",
    "one-shot-again": "a one-shot container that exited 0 under restart: no has done its job"
    " and Kedge leaves it (issue 4); compose runs it again at every up, a known complaint",
    "secret-file-switched": "Kedge's config hash holds the definition and content of the"
    " secrets and configs a service uses, so a secret read from another file recreates its"
    " containers; compose hashes only the service's references to them and keeps the old",
    "networks-as-mapping": "compose hashes networks: [a] and networks: {a: {}} differently"
    " (null against an empty mapping) and recreates; Kedge's canonical form makes them one",
    "network-dropped": "a network left out of the spec is removed once no container uses it,"
    " as the stack converges to its spec; compose keeps it until down",
    "network-changed": "Kedge recreates the containers attached to a network it recreates"
    " (issue 4's rule), so they come back with the new network's settings; compose stops"
    " them, recreates the network and reconnects and starts the same containers",
}


@pytest.fixture(scope="module")
def images(docker_client: Any, test_image: str) -> Iterator[None]:
    """A second tag of the test image, and another image to move a tag to."""
    import io

    import docker

    _tag(docker_client, test_image, "kedge-test/busybox:alias")
    dockerfile = f"FROM {test_image}\nLABEL kedge.test=moved\n".encode()
    docker_client.images.build(fileobj=io.BytesIO(dockerfile), tag=MOVED, rm=True)
    yield
    for tag in ("kedge-test/busybox:alias", MOVED):
        with contextlib.suppress(docker.errors.APIError):
            docker_client.images.remove(tag, noprune=True)


def _tag(client: Any, source: str, reference: str) -> None:
    repository, _, tag = reference.rpartition(":")
    client.images.get(source).tag(repository, tag)


@pytest.mark.usefixtures("images")
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_kedge_updates_what_compose_updates(
    change: str, tmp_path: Path, stack_name: str, docker_client: Any
):
    (tmp_path / "one.txt").write_text("first\n")
    (tmp_path / "two.txt").write_text("second\n")
    (tmp_path / "a.env").write_text("LEVEL=1\n")
    (tmp_path / "b.env").write_text("LEVEL=2\n")
    edits = CHANGES[change]
    base = BASES.get(change, BASE)
    changed = base
    for old, new in edits if isinstance(edits, list) else [edits]:
        assert old in changed
        changed = changed.replace(old, new, 1)
    try:
        how = {"change": change, "base": base, "changed": changed}
        theirs = _compose_record(tmp_path, docker_client, **how)
        ours = _kedge_record(tmp_path, docker_client, stack_name, **how)
    finally:
        for image in docker_client.images.list(name="k*/moving"):
            for tag in image.tags:
                docker_client.images.remove(tag, noprune=True)
    if change in DELIBERATE:
        assert ours != theirs, f"{change}: no longer differs from compose ({DELIBERATE[change]})"
    else:
        assert ours == theirs


Record = dict[str, str]


def _compose_record(folder: Path, client: Any, *, change: str, base: str, changed: str) -> Record:
    binary = required_compose_binary()
    project = f"kc{uuid.uuid4().hex[:10]}"
    spec = folder / "compose.yaml"

    def up(text: str) -> None:
        spec.write_text(text.replace("STACK", project))
        done = subprocess.run(
            [binary, "-f", str(spec), "up", "-d"], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr

    try:
        BEFORE.get(change, _nothing)(client, project)
        up(base)
        before = _containers(client, parity.COMPOSE_LABEL, project)
        time.sleep(1.1)  # so that a restart shows a later StartedAt, to the second at least
        BETWEEN.get(change, _nothing)(client, project)
        up(changed)
        return _record(before, _containers(client, parity.COMPOSE_LABEL, project))
    finally:
        parity.compose_down(client, binary, spec, project)


def _kedge_record(
    folder: Path, client: Any, stack: str, *, change: str, base: str, changed: str
) -> Record:
    kedge = Kedge(folder, stack)
    try:
        BEFORE.get(change, _nothing)(client, stack)
        first = kedge.up(base)
        assert first.status is CommandStatus.DONE, first.error
        before = _containers(client, parity.KEDGE_LABEL, stack)
        time.sleep(1.1)
        BETWEEN.get(change, _nothing)(client, stack)
        second = kedge.up(changed)
        assert second.status is CommandStatus.DONE, second.error
        return _record(before, _containers(client, parity.KEDGE_LABEL, stack))
    finally:
        kedge.close()
        parity.remove(client, parity.KEDGE_LABEL, stack)


def _nothing(client: Any, project: str) -> None:
    """No change outside the tools."""


def _containers(client: Any, label: str, value: str) -> dict[str, tuple[str, str]]:
    """Each container, by its name with the project as ``P``: its id and its start time; and
    each network and volume of the project, by its name: its id (a volume's name is its id)."""
    flt = {"label": [f"{label}={value}"]}
    found = {}
    for container in client.containers.list(all=True, filters=flt):
        name = container.name.replace(value, "P")
        found[name] = (container.id, container.attrs["State"]["StartedAt"])
    for network in client.networks.list(filters=flt):
        found[f"network {network.name.replace(value, 'P')}"] = (network.id, "")
    for volume in client.volumes.list(filters=flt):
        found[f"volume {volume.name.replace(value, 'P')}"] = (volume.attrs["CreatedAt"], "")
    return found


def _record(before: dict[str, tuple[str, str]], after: dict[str, tuple[str, str]]) -> Record:
    record = {}
    for name in sorted(set(before) | set(after)):
        if name not in after:
            record[name] = "removed"
        elif name not in before:
            record[name] = "added"
        elif after[name][0] != before[name][0]:
            record[name] = "recreated"
        elif after[name][1] != before[name][1]:
            record[name] = "restarted"
        else:
            record[name] = "kept"
    return record


ANONYMOUS = """
name: STACK
services:
  db:
    image: kedge-test/busybox:declares-volume
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    environment: {ROUND: "1"}
    volumes: [/scratch]
"""


@pytest.fixture(scope="module")
def volume_image(docker_client: Any, test_image: str) -> Iterator[str]:
    """The test image with a ``VOLUME`` of its own, as database images have."""
    import io

    import docker

    tag = "kedge-test/busybox:declares-volume"
    dockerfile = f"FROM {test_image}\nVOLUME /declared\n".encode()
    docker_client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True)
    yield tag
    with contextlib.suppress(docker.errors.APIError):
        docker_client.images.remove(tag, noprune=True)


@pytest.mark.usefixtures("volume_image")
def test_anonymous_volumes_outlive_a_recreate_as_under_compose_and_go_with_down_volumes(
    tmp_path: Path, stack_name: str, docker_client: Any
):
    """A recreated container keeps the anonymous volumes of the one it replaces (the image's
    ``VOLUME`` and the spec's ``- /scratch``), as compose keeps them; a delete with volumes
    removes them, which compose does not."""
    binary = required_compose_binary()
    project = f"kc{uuid.uuid4().hex[:10]}"
    spec = tmp_path / "compose.yaml"
    seen = {}
    volumes: set[str] = set()

    def compose(*args: str) -> None:
        done = subprocess.run(
            [binary, "-f", str(spec), *args], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr

    def survived(name: str) -> tuple[str, int]:
        container = docker_client.containers.get(f"{name}-db-1")
        listed = container.exec_run(["cat", "/declared/mark", "/scratch/mark"]).output.decode()
        return listed, len(_anonymous(docker_client, container.id))

    def mark(name: str) -> None:
        container = docker_client.containers.get(f"{name}-db-1")
        wrote = container.exec_run(["sh", "-c", "echo a > /declared/mark; echo b > /scratch/mark"])
        assert wrote.exit_code == 0

    try:
        spec.write_text(ANONYMOUS.replace("STACK", project))
        compose("up", "-d")
        mark(project)
        spec.write_text(ANONYMOUS.replace("STACK", project).replace('"1"', '"2"'))
        compose("up", "-d")
        seen["compose"] = survived(project)
        volumes |= set(_anonymous(docker_client, f"{project}-db-1"))
        compose("down", "--volumes", "--timeout", "0")
        seen["compose down"] = len(volumes & {v.name for v in docker_client.volumes.list()})
    finally:
        parity.compose_down(docker_client, binary, spec, project)
        for left in volumes:  # what compose's down leaves (below)
            with contextlib.suppress(Exception):
                docker_client.volumes.get(left).remove()

    kedge = Kedge(tmp_path, stack_name)
    try:
        assert kedge.up(ANONYMOUS).status is CommandStatus.DONE
        mark(stack_name)
        assert kedge.up(ANONYMOUS.replace('"1"', '"2"')).status is CommandStatus.DONE
        seen["kedge"] = survived(stack_name)
        volumes = set(_anonymous(docker_client, f"{stack_name}-db-1"))
        assert kedge.down(volumes=True).status is CommandStatus.DONE
        seen["kedge down"] = len(volumes & {v.name for v in docker_client.volumes.list()})
    finally:
        kedge.close()

    assert seen["compose"] == ("a\nb\n", 2)
    assert seen["kedge"] == seen["compose"]
    # deliberately otherwise: compose's down --volumes leaves the anonymous volumes that a
    # recreate carried over (Docker counts them as named then); Kedge removes them too
    assert (seen["compose down"], seen["kedge down"]) == (2, 0)


def _anonymous(client: Any, container: str) -> list[str]:
    mounts = client.api.inspect_container(container)["Mounts"]
    return [m["Name"] for m in mounts if m["Type"] == "volume" and len(m["Name"]) == 64]


def test_a_paused_container_is_resumed_where_compose_fails(
    tmp_path: Path, stack_name: str, docker_client: Any
):
    """Paused by hand, a container serves nothing: Kedge resumes it (the same container);
    ``docker compose up`` tries to start it and fails."""
    binary = required_compose_binary()
    project = f"kc{uuid.uuid4().hex[:10]}"
    spec = tmp_path / "compose.yaml"
    spec.write_text(BASE.replace("STACK", project))
    up = [binary, "-f", str(spec), "up", "-d"]
    try:
        assert subprocess.run(up, capture_output=True, check=False).returncode == 0
        docker_client.containers.get(f"{project}-worker-1").pause()
        again = subprocess.run(up, capture_output=True, text=True, check=False)
        assert again.returncode != 0
        assert "cannot start a paused container" in again.stderr
    finally:
        parity.compose_down(docker_client, binary, spec, project)

    kedge = Kedge(tmp_path, stack_name)
    try:
        assert kedge.up(BASE).status is CommandStatus.DONE
        worker = docker_client.containers.get(f"{stack_name}-worker-1")
        worker.pause()
        resumed = kedge.up(BASE)
        assert resumed.status is CommandStatus.DONE, resumed.error
        assert f"resume_container container:{stack_name}-worker-1: paused" in (resumed.plan or "")
        worker.reload()
        assert worker.status == "running"
    finally:
        kedge.close()
