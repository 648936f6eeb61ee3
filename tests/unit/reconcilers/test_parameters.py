"""The compose → Docker create body mapping, one row per key (no daemon needed)."""

from __future__ import annotations

from typing import Any

import pytest

from kedge.errors import PlanError
from kedge.reconcilers import parameters
from kedge.specs import loader

BASE = "name: shop\nservices:\n  web:\n    image: kedge-test/busybox:1\n"


def _body(extra: str, *, tail: str = "") -> dict[str, Any]:
    spec = loader.parse(BASE + extra + tail, project_dir=None)
    params = parameters.container_params(
        spec, "web", number=1, name="shop-web-1", kedge_labels={"kedge.managed": "true"}
    )
    return params.body


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.strip().splitlines())


CASES = [
    ("command", "command: sleep 30", {"Cmd": ["sleep", "30"]}),
    ("entrypoint", "entrypoint: [sh, -c]", {"Entrypoint": ["sh", "-c"]}),
    ("environment", "environment: {B: '2', A: '1'}", {"Env": ["A=1", "B=2"]}),
    # unset where loaded: a bare name, so that Docker removes the image's value (as compose)
    ("environment-unset", "environment: [A=1, KEDGE_TEST_UNSET_VARIABLE]",
     {"Env": ["A=1", "KEDGE_TEST_UNSET_VARIABLE"]}),
    ("expose", "expose: ['8080', '9000-9001/udp']",
     {"ExposedPorts": {"8080/tcp": {}, "9000/udp": {}, "9001/udp": {}}}),
    ("ports", "ports: ['127.0.0.1:8080:80']",
     {"HostConfig.PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}}),
    ("sysctls", "sysctls: {net.core.somaxconn: 1024}",
     {"HostConfig.Sysctls": {"net.core.somaxconn": "1024"}}),
    ("restart", "restart: on-failure:3",
     {"HostConfig.RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}}),
    ("deploy-restart", "deploy: {restart_policy: {condition: any}}",
     {"HostConfig.RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}}),
    ("limits", "deploy: {resources: {limits: {cpus: '0.5', memory: 64m, pids: 50}}}",
     {"HostConfig.NanoCpus": 500_000_000, "HostConfig.Memory": 64 << 20,
      "HostConfig.PidsLimit": 50}),
    ("mem_limit", "mem_limit: 32m", {"HostConfig.Memory": 32 << 20}),
    ("healthcheck", "healthcheck: {test: [CMD, 'true'], interval: 1s, retries: 3}",
     {"Healthcheck": {"Test": ["CMD", "true"], "Interval": 1_000_000_000, "Retries": 3}}),
    ("healthcheck-disabled", "healthcheck: {disable: true}", {"Healthcheck": {"Test": ["NONE"]}}),
    ("ulimits", "ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 65535}",
     {"HostConfig.Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048},
                             {"Name": "nproc", "Soft": 65535, "Hard": 65535}]}),
    ("logging", "logging: {driver: json-file, options: {max-size: 1m}}",
     {"HostConfig.LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}}}),
    ("tmpfs", "tmpfs: ['/run:size=64k', /tmp]",
     {"HostConfig.Tmpfs": {"/run": "size=64k", "/tmp": ""}}),
    ("caps", "cap_add: [NET_ADMIN]\ncap_drop: [ALL]",
     {"HostConfig.CapAdd": ["NET_ADMIN"], "HostConfig.CapDrop": ["ALL"]}),
    ("devices", "devices: ['/dev/null:/dev/mynull:r']",
     {"HostConfig.Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull",
                              "CgroupPermissions": "r"}]}),
    ("extra_hosts", "extra_hosts: ['db.local:10.0.0.2']",
     {"HostConfig.ExtraHosts": ["db.local:10.0.0.2"]}),
    ("network_mode", "network_mode: host",
     {"HostConfig.NetworkMode": "host", "NetworkingConfig": None}),
    ("read_only-user", "read_only: true\nuser: nobody\nworking_dir: /tmp",
     {"HostConfig.ReadonlyRootfs": True, "User": "nobody", "WorkingDir": "/tmp"}),
    ("stop", "stop_signal: SIGINT\nstop_grace_period: 3s",
     {"StopSignal": "SIGINT", "StopTimeout": 3}),
    ("dns", "dns: [1.1.1.1]\ndns_search: [example.org]",
     {"HostConfig.Dns": ["1.1.1.1"], "HostConfig.DnsSearch": ["example.org"]}),
    ("init-privileged", "init: true\nprivileged: true",
     {"HostConfig.Init": True, "HostConfig.Privileged": True}),
    ("networks-aliases", "networks: {front: {aliases: [www]}}",
     {"NetworkingConfig": {"EndpointsConfig": {"shop_front": {"Aliases": ["web", "www"]}}},
      "HostConfig.NetworkMode": "shop_front"}),
    ("named-volume", "volumes: ['data:/data:ro']",
     {"HostConfig.Mounts": [{"Type": "volume", "Target": "/data", "ReadOnly": True,
                             "Source": "shop_data"}]}),
    ("bind", "volumes: ['/srv:/srv']", {"HostConfig.Binds": ["/srv:/srv:rw"]}),
    # Docker reads HostConfig.Links on the default bridge only: on a user network, each
    # endpoint carries them, one per replica of the linked service
    ("links", "links: ['db:database', cache]",
     {"HostConfig.Links": None,
      "NetworkingConfig.EndpointsConfig.shop_default.Links": [
          "shop-db-1:database", "shop-db-2:database", "shop-cache-1:cache"]}),
    # compose v2 drops the mode of a service's volumes_from; Kedge keeps it
    ("volumes_from", "volumes_from: ['db:ro', 'container:other:rw', cache]",
     {"HostConfig.VolumesFrom": ["shop-db-1:ro", "other:rw", "shop-cache-1"]}),
    ("links-bridge", "links: ['db']\nnetwork_mode: bridge",
     {"HostConfig.Links": ["shop-db-1:db", "shop-db-2:db"], "NetworkingConfig": None}),
]  # fmt: skip

LINKED = (
    "  db:\n    image: kedge-test/busybox:1\n    scale: 2\n"
    "  cache:\n    image: kedge-test/busybox:1\n"
)
TAILS = {
    "links": LINKED,
    "links-bridge": LINKED,
    "volumes_from": LINKED,
    "networks-aliases": "networks: {front: {}}\n",
    "named-volume": "volumes: {data: {}}\n",
}


def _at(body: dict[str, Any], path: str) -> Any:
    found: Any = body
    for part in path.split("."):
        if not isinstance(found, dict) or part not in found:
            return None
        found = found[part]
    return found


@pytest.mark.parametrize(("key", "yaml", "expected"), CASES, ids=[c[0] for c in CASES])
def test_compose_keys_map_to_the_create_body(key: str, yaml: str, expected: dict[str, Any]):
    body = _body(_indent(yaml), tail=TAILS.get(key, ""))
    for path, value in expected.items():
        if path.startswith("HostConfig.") and path.count(".") == 1:
            assert body["HostConfig"].get(path.split(".", 1)[1]) == value, path
        else:
            assert _at(body, path) == value, path


def test_labels_carry_the_service_number_and_dependencies():
    body = _body(_indent("depends_on: {db: {condition: service_healthy}}"),
                 tail="  db:\n    image: kedge-test/busybox:1\n")  # fmt: skip
    assert body["Labels"] == {
        "kedge.managed": "true",
        "kedge.service": "web",
        "kedge.container-number": "1",
        "kedge.depends-on": "db:service_healthy:false",
    }


def test_file_secrets_and_configs_are_mounted_read_only(tmp_path):
    (tmp_path / "token").write_text("s3cret")
    (tmp_path / "app.conf").write_text("x=1")
    text = (
        BASE
        + _indent("secrets: [token]\nconfigs: [{source: conf, target: /etc/app.conf}]")
        + "secrets: {token: {file: ./token}}\nconfigs: {conf: {file: ./app.conf}}\n"
    )
    spec = loader.parse(text, project_dir=tmp_path)
    body = parameters.container_params(spec, "web", number=1, name="n", kedge_labels={}).body
    assert body["HostConfig"]["Mounts"] == [
        {"Type": "bind", "Source": str(tmp_path / "token"), "Target": "/run/secrets/token",
         "ReadOnly": True},
        {"Type": "bind", "Source": str(tmp_path / "app.conf"), "Target": "/etc/app.conf",
         "ReadOnly": True},
    ]  # fmt: skip


def test_keys_not_carried_out_fail_the_plan_naming_them():
    with pytest.raises(PlanError, match=r"services\.web\.post_start"):
        _body(_indent("post_start: [{command: [echo, hi]}]"))


def test_a_network_body_carries_kedge_labels_and_ipam():
    spec = loader.parse(
        BASE
        + "networks:\n  back:\n    internal: true\n    ipam: {config: [{subnet: 10.9.0.0/24}]}\n"
    )
    body = parameters.network_body(spec, "back", kedge_labels={"kedge.stack": "shop"})
    assert body["Internal"] is True
    assert body["IPAM"]["Config"] == [{"Subnet": "10.9.0.0/24"}]
    assert body["Labels"] == {"kedge.stack": "shop"}
