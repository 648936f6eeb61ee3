"""Parity with Docker Compose: the same spec, brought up by compose and by Kedge, gives the same
containers, networks and volumes, as ``docker inspect`` shows them, and the same answers
inside them.

Compose is the reference for what a key means. Two specs use most service, network and
volume keys a container can run with here (no privileged mode: this sandbox refuses it).
Each is brought up against the real daemon by ``docker compose up -d --wait``, inspected and
probed (``PROBES``: secrets, configs, link and alias lookups, environment) and taken down;
then the same by Kedge. Every inspected field is compared (``parity.differences``): only the
differences ``parity.normalized`` lists are allowed, each with its reason, and anything else
is a key Kedge carries out differently from compose, named in the failure.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from kedge.specs.commands import CommandStatus
from tests.compose_reference import required_compose_binary
from tests.integration import parity
from tests.integration.converge import Kedge

pytestmark = pytest.mark.docker

SERVICE_KEYS = """
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
    healthcheck: {test: ["CMD", "true"], interval: 1s, timeout: 3s, retries: 2, start_period: 1s}
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
NETWORKING = """
name: STACK
services:
  web:
    image: kedge-test/busybox:1
    container_name: STACK-fixed
    entrypoint: /bin/sh -c 'exec "$$0" "$$@"'
    command: sleep 3600
    stop_signal: SIGKILL
    stop_grace_period: 1m30s
    ports:
      - "127.0.0.1:18080-18081:80-81"
      - {target: 53, published: "18053", protocol: udp, host_ip: 127.0.0.1}
      - "127.0.0.1:18090:90/tcp"
    networks:
      net1: {ipv4_address: 10.213.5.10, aliases: [w1], priority: 10}
      net2: {}
    secrets: [env_secret]
    configs: [inline, {source: inline, target: /etc/inline.conf, mode: 0440}]
    environment: [FOO=bar, UNSET_VAR]
    labels: ["a=b", "c"]
    healthcheck: {test: "true", interval: 1s}
    volumes:
      - {type: volume, source: cache, target: /cache, volume: {nocopy: true}}
      - {type: bind, source: ./made, target: /made, read_only: true,
         bind: {create_host_path: true}}
      - {type: tmpfs, target: /tm, tmpfs: {size: 65536, mode: 01777}}
    tmpfs: /run/x:mode=755
    logging: {driver: none}
    init: false
    device_cgroup_rules: ["c 1:3 mr"]
  alone:
    image: kedge-test/busybox:1
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    network_mode: none
    hostname: alone
    healthcheck: {test: [NONE]}
  hosted:
    image: kedge-test/busybox:1
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    network_mode: host
    pid: host
  client:
    image: kedge-test/busybox:1
    command: [sleep, "3600"]
    stop_signal: SIGKILL
    networks: [net1]
    depends_on: {web: {condition: service_healthy}}
networks:
  net1:
    ipam: {config: [{subnet: 10.213.0.0/16, ip_range: 10.213.5.0/24, gateway: 10.213.5.254}]}
    attachable: true
  net2: {driver: bridge, driver_opts: {com.docker.network.bridge.name: STACKb}}
volumes:
  cache: {driver: local, driver_opts: {type: tmpfs, device: tmpfs, o: size=1m}}
secrets:
  env_secret: {environment: SECRET_VALUE}
configs:
  inline: {content: "hello $${FOO}"}
"""

#: per spec: (container, command) run in each tool's container; the outputs must agree
PROBES = {
    "service-keys": [
        ("P-plain-1", ["sh", "-c", "ping -c1 -W2 b | head -1"]),
        ("P-plain-1", ["sh", "-c", "ping -c1 -W2 donor | head -1"]),
        ("P-base-1", ["cat", "/run/secrets/s1", "/c1", "/etc/c1.conf"]),
        ("P-base-1", ["sh", "-c", "echo $A $B $FROM_FILE; hostname; id -u"]),
        ("P-plain-2", ["ls", "/shared"]),
    ],
    "networking": [
        ("P-fixed", ["cat", "/run/secrets/env_secret", "/inline", "/etc/inline.conf"]),
        ("P-fixed", ["stat", "-c", "%a %u %g", "/run/secrets/env_secret", "/etc/inline.conf"]),
        ("P-fixed", ["sh", "-c", "env | grep -c UNSET_VAR; echo $FOO"]),
        ("P-client-1", ["sh", "-c", "ping -c1 -W2 w1 | head -1"]),
        ("P-alone-1", ["sh", "-c", "ls /sys/class/net; hostname"]),
    ],
}
SPECS = {"service-keys": SERVICE_KEYS, "networking": NETWORKING}


@pytest.mark.parametrize("case", sorted(SPECS))
def test_kedge_makes_what_compose_makes(
    case: str, tmp_path: Path, stack_name: str, docker_client: Any, monkeypatch: Any
):
    """Compose brings the spec up, is inspected and taken down; then Kedge does the same."""
    binary = required_compose_binary()
    (tmp_path / "secret.txt").write_text("hello\n")
    (tmp_path / "conf.txt").write_text("conf\n")
    (tmp_path / "app.env").write_text("FROM_FILE=1\n")
    (tmp_path / "bind").mkdir()
    monkeypatch.setenv("SECRET_VALUE", "s3cret")
    project = f"kc{uuid.uuid4().hex[:10]}"
    spec = SPECS[case]

    compose_file = tmp_path / "compose.yaml"
    compose_file.write_text(spec.replace("STACK", project))
    try:
        done = subprocess.run(
            [binary, "-f", str(compose_file), "up", "-d"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        _settle(docker_client, parity.COMPOSE_LABEL, project)
        theirs = parity.snapshot(docker_client, parity.COMPOSE_LABEL, project)
        their_probes = _probe(docker_client, case, project)
    finally:
        parity.compose_down(docker_client, binary, compose_file, project)

    kedge = Kedge(tmp_path, stack_name)
    try:
        applied = kedge.up(spec)
        assert applied.status is CommandStatus.DONE, applied.error
        _settle(docker_client, parity.KEDGE_LABEL, stack_name)
        ours = parity.snapshot(docker_client, parity.KEDGE_LABEL, stack_name)
        our_probes = _probe(docker_client, case, stack_name)
    finally:
        kedge.close()
        parity.remove(docker_client, parity.KEDGE_LABEL, stack_name)

    found = parity.differences(theirs, ours)
    assert not found, "\n".join(found)
    assert our_probes == their_probes


def _settle(client: Any, label: str, value: str) -> None:
    """Wait until no container of the project is still starting its healthchecks."""
    for _ in range(120):
        states = [
            c.attrs["State"].get("Health", {}).get("Status")
            for c in client.containers.list(filters={"label": [f"{label}={value}"]})
        ]
        if "starting" not in states:
            return
        time.sleep(0.5)
    raise AssertionError(f"{value}: containers still starting after 60 s")


def _probe(client: Any, case: str, project: str) -> list[tuple[int, str]]:
    found = []
    for container, argv in PROBES[case]:
        ran = client.containers.get(container.replace("P", project, 1)).exec_run(argv)
        output = ran.output.decode().replace(project, "P")
        found.append((ran.exit_code, re.sub(r"\d+\.\d+\.\d+\.\d+", "IP", output)))
    return found
