"""Compose keys carried out against the real daemon: build, file secrets and configs, and the
host settings (limits, sysctls, restart, ulimits, logging, tmpfs, caps, network_mode, …)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kedge.specs import labels
from kedge.specs.commands import CommandStatus
from tests.integration.converge import Kedge

pytestmark = pytest.mark.docker

IMAGE = "kedge-test/busybox:1"


@pytest.fixture
def kedge(tmp_path: Any, stack_name: str, test_image: str) -> Iterator[Kedge]:
    k = Kedge(tmp_path, stack_name)
    yield k
    k.close()


BUILT = """
name: STACK
services:
  app:
    build: ./ctx
    command: [sh, -c, "cat /motd; exec sleep 3600"]
    stop_signal: SIGKILL
"""


def test_build_uses_the_context_beside_the_spec_and_rebuilds_when_it_changes(
    kedge: Kedge, docker_client: Any
):
    context = kedge.folder / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {IMAGE}\nCOPY motd /motd\n")
    (context / "motd").write_text("first\n")
    try:
        first = kedge.up(BUILT)
        assert first.status is CommandStatus.DONE, first.error
        assert f"build_image      image:{kedge.stack}-app" in (first.plan or "")
        app = docker_client.containers.get(f"{kedge.stack}-app-1")
        assert app.exec_run(["cat", "/motd"]).output == b"first\n"

        assert kedge.up(BUILT).plan == ""

        (context / "motd").write_text("second\n")
        second = kedge.up(BUILT)
        assert second.status is CommandStatus.DONE, second.error
        assert "build_image" in (second.plan or "")
        app = docker_client.containers.get(f"{kedge.stack}-app-1")
        assert app.exec_run(["cat", "/motd"]).output == b"second\n"
        image = docker_client.images.get(f"{kedge.stack}-app")
        assert image.labels[labels.BUILD_HASH].startswith("sha256:")

        # the container removed by hand and the context changed: no container shows the
        # change, the image's build-hash label does
        app.remove(force=True)
        (context / "motd").write_text("third\n")
        third = kedge.up(BUILT)
        assert third.status is CommandStatus.DONE, third.error
        assert "build_image" in (third.plan or "")
        app = docker_client.containers.get(f"{kedge.stack}-app-1")
        assert app.exec_run(["cat", "/motd"]).output == b"third\n"
        assert kedge.up(BUILT).plan == ""
    finally:
        kedge.down()
        docker_client.images.remove(f"{kedge.stack}-app", force=True)


SECRETS = f"""
name: STACK
services:
  app:
    image: {IMAGE}
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    secrets: [token]
    configs: [{{source: settings, target: /etc/app.conf}}]
secrets:
  token: {{file: ./token.txt}}
configs:
  settings: {{file: ./app.conf}}
"""


def test_file_secrets_and_configs_are_mounted_read_only_and_their_content_recreates(
    kedge: Kedge, docker_client: Any
):
    (kedge.folder / "token.txt").write_text("s3cret")
    (kedge.folder / "app.conf").write_text("level=1")
    assert kedge.up(SECRETS).status is CommandStatus.DONE
    app = docker_client.containers.get(f"{kedge.stack}-app-1")
    assert app.exec_run(["cat", "/run/secrets/token"]).output == b"s3cret"
    assert app.exec_run(["cat", "/etc/app.conf"]).output == b"level=1"
    assert app.exec_run(["sh", "-c", "echo x > /run/secrets/token"]).exit_code != 0

    (kedge.folder / "token.txt").write_text("rotated")
    again = kedge.up(SECRETS)
    assert f"container:{kedge.stack}-app-1: config changed" in (again.plan or "")
    app = docker_client.containers.get(f"{kedge.stack}-app-1")
    assert app.exec_run(["cat", "/run/secrets/token"]).output == b"rotated"


KEYS = f"""
name: STACK
services:
  base:
    image: {IMAGE}
    command: [sleep, "3600"]
    stop_signal: SIGKILL
  app:
    image: {IMAGE}
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    restart: on-failure:2
    expose: ["8080"]
    sysctls: {{net.ipv4.ip_unprivileged_port_start: "80"}}
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 50
    ulimits: {{nofile: {{soft: 1024, hard: 2048}}}}
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    tmpfs: ["/scratch:size=1m"]
    extra_hosts: ["db.local:10.1.2.3"]
    logging: {{driver: json-file, options: {{max-size: 1m}}}}
    read_only: true
    init: true
    labels: {{team: web}}
    working_dir: /tmp
    user: nobody
    healthcheck: {{test: [CMD, "true"], interval: 1s}}
  sidecar:
    image: {IMAGE}
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    network_mode: service:base
    depends_on: [base]
"""


def test_host_settings_reach_the_container(kedge: Kedge, docker_client: Any):
    done = kedge.up(KEYS)
    assert done.status is CommandStatus.DONE, done.error
    app = docker_client.containers.get(f"{kedge.stack}-app-1").attrs
    host = app["HostConfig"]
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert "8080/tcp" in app["Config"]["ExposedPorts"]
    assert host["Sysctls"] == {"net.ipv4.ip_unprivileged_port_start": "80"}
    assert host["Memory"] == 64 << 20
    assert host["NanoCpus"] == 500_000_000
    assert host["PidsLimit"] == 50
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert host["CapAdd"] == ["NET_ADMIN"]
    assert host["CapDrop"] == ["MKNOD"]
    assert host["Tmpfs"] == {"/scratch": "size=1m"}
    assert host["ExtraHosts"] == ["db.local:10.1.2.3"]
    assert host["LogConfig"]["Type"] == "json-file"
    assert host["LogConfig"]["Config"]["max-size"] == "1m"  # the daemon may add its defaults
    assert host["ReadonlyRootfs"] is True
    assert host["Init"] is True
    assert app["Config"]["Labels"]["team"] == "web"
    assert app["Config"]["Labels"][labels.SERVICE] == "app"
    assert (app["Config"]["WorkingDir"], app["Config"]["User"]) == ("/tmp", "nobody")
    assert app["State"]["Health"]["Status"] in ("starting", "healthy")
    sidecar = docker_client.containers.get(f"{kedge.stack}-sidecar-1").attrs
    base_id = docker_client.containers.get(f"{kedge.stack}-base-1").id
    assert sidecar["HostConfig"]["NetworkMode"] in (
        f"container:{kedge.stack}-base-1",
        f"container:{base_id}",
    )
    assert kedge.up(KEYS).plan == ""


COPIED = f"""
name: STACK
services:
  app:
    image: {IMAGE}
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    secrets: [{{source: api_key, mode: 0400}}]
    configs: [{{source: motd, target: /etc/motd}}]
secrets:
  api_key: {{environment: KEDGE_TEST_API_KEY}}
configs:
  motd: {{content: "hello from the spec"}}
"""


def test_environment_secrets_and_inline_configs_are_copied_in(
    kedge: Kedge, docker_client: Any, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("KEDGE_TEST_API_KEY", "k-123")
    done = kedge.up(COPIED)
    assert done.status is CommandStatus.DONE, done.error
    app = docker_client.containers.get(f"{kedge.stack}-app-1")
    assert app.exec_run(["cat", "/run/secrets/api_key"]).output == b"k-123"
    assert app.exec_run(["stat", "-c", "%a", "/run/secrets/api_key"]).output.strip() == b"400"
    assert app.exec_run(["cat", "/etc/motd"]).output == b"hello from the spec"

    # a new value of the variable recreates the container, which then holds it; the same
    # value again keeps it (compose keeps the container either way)
    monkeypatch.setenv("KEDGE_TEST_API_KEY", "k-456")
    rotated = kedge.up(COPIED)
    assert rotated.status is CommandStatus.DONE, rotated.error
    fresh = docker_client.containers.get(f"{kedge.stack}-app-1")
    assert fresh.id != app.id
    assert fresh.exec_run(["cat", "/run/secrets/api_key"]).output == b"k-456"
    assert kedge.up(COPIED).plan == ""
