"""The compose model: every key Docker Compose v2 accepts, in one canonical form.

The models live in ``compose_base`` (strict frozen models, ``x-*`` extensions, value types),
``compose_ports``, ``compose_volumes``, ``compose_deploy`` (``deploy``, ``build``),
``compose_service`` (``Service``) and ``compose_top`` (networks, volumes, secrets, configs);
``kedge.specs.stack.StackSpec`` holds a whole stack. This module re-exports them and says which
keys the reconcilers carry out — accepting a key in ``kedge validate`` is a promise that Kedge
runs it (issue 2).

``RUNTIME_KEYS``: service keys the container reconciler turns into the container's
configuration. ``INERT_KEYS``: keys that compose itself does not turn into container
configuration on ``up`` (build-time, swarm-only or tooling keys) and Kedge accepts the same way.
``REJECTED_KEYS``: keys compose accepts but Kedge cannot carry out; validation rejects them.
``env_file`` and ``label_file`` are read by the loader into ``environment`` and ``labels``;
``extends`` and top-level ``include`` are carried out by the loader before validation.
"""

from __future__ import annotations

from kedge.specs.compose_base import ComposeModel, StrictModel
from kedge.specs.compose_deploy import Build, Deploy, ServiceReference, Ulimit
from kedge.specs.compose_ports import PortMapping, parse_port_spec
from kedge.specs.compose_service import DependsOn, Healthcheck, Logging, Service, ServiceNetwork
from kedge.specs.compose_top import Config, IpamConfig, IpamPool, Network, Secret, Volume
from kedge.specs.compose_volumes import ServiceMount, parse_mount_spec

__all__ = [
    "INERT_KEYS",
    "LOADER_KEYS",
    "REJECTED_KEYS",
    "RUNTIME_KEYS",
    "Build",
    "ComposeModel",
    "Config",
    "DependsOn",
    "Deploy",
    "Healthcheck",
    "IpamConfig",
    "IpamPool",
    "Logging",
    "Network",
    "PortMapping",
    "Secret",
    "Service",
    "ServiceMount",
    "ServiceNetwork",
    "ServiceReference",
    "StrictModel",
    "Ulimit",
    "Volume",
    "parse_mount_spec",
    "parse_port_spec",
]

RUNTIME_KEYS = frozenset(
    {
        "annotations", "blkio_config", "build", "cap_add", "cap_drop", "cgroup", "cgroup_parent",
        "command", "configs", "container_name", "cpu_count", "cpu_percent", "cpu_period",
        "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "cpus", "cpuset",
        "credential_spec", "depends_on", "deploy", "device_cgroup_rules", "devices", "dns",
        "dns_opt", "dns_search", "domainname", "entrypoint", "environment", "expose",
        "external_links", "extra_hosts", "gpus", "group_add", "healthcheck", "hostname", "image",
        "init", "ipc", "isolation", "labels", "links", "logging", "mac_address", "mem_limit",
        "mem_reservation", "mem_swappiness", "memswap_limit", "network_mode", "networks",
        "oom_kill_disable", "oom_score_adj", "pid", "pids_limit", "platform", "ports",
        "post_start", "pre_stop", "privileged", "profiles", "pull_policy", "read_only",
        "restart", "runtime", "scale", "secrets", "security_opt", "shm_size", "stdin_open",
        "stop_grace_period", "stop_signal", "storage_opt", "sysctls", "tmpfs", "tty", "ulimits",
        "user", "userns_mode", "uts", "volumes", "volumes_from", "working_dir", "x-kedge",
    }
)  # fmt: skip
INERT_KEYS = frozenset({"attach", "develop", "pull_refresh_after"})
LOADER_KEYS = frozenset({"env_file", "label_file", "extends"})
REJECTED_KEYS = {
    "provider": "Kedge runs containers only; services managed by a provider plugin are not"
    " supported",
    "models": "Kedge does not run AI models (Docker Model Runner); remove 'models'",
    "use_api_socket": "Kedge does not mount the Docker API socket with credentials; mount"
    " /var/run/docker.sock as a volume instead",
}
