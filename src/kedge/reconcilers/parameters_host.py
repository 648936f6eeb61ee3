"""The ``HostConfig`` of a container create body, from a compose ``Service``.

Mounts (volumes, binds, tmpfs, file-based secrets and configs), published ports, the restart
policy, resource limits, devices, capabilities, sysctls, ulimits, logging, DNS, extra hosts
and the namespace modes, mapped the way Docker Compose v2 maps them (``pkg/compose/create.go``).

Secrets and configs read from files are bind-mounted read-only where compose mounts them
(the others are copied in, ``reconcilers.copies``):
secrets at ``/run/secrets/<target or name>``, configs at ``/<target or name>``. Their content
is part of the service's config hash (the loader records its digest in ``StackSpec.sources``),
so a changed file recreates the container.

Callers: ``reconcilers.parameters`` (``container_params``).
"""

from __future__ import annotations

from typing import Any

from kedge.errors import PlanError
from kedge.specs import durations
from kedge.specs.compose import Service, ServiceMount, ServiceReference
from kedge.specs.compose_deploy import DeviceRequest
from kedge.specs.stack import StackSpec

__all__ = ["host_config", "links", "must_be_carried_out"]

NANOS = 1_000_000_000
_RESTART = {"any": "always", "none": "no", "on-failure": "on-failure"}


def host_config(spec: StackSpec, svc: Service, *, service: str) -> dict[str, Any]:
    """The ``HostConfig`` of one container of ``service``."""
    binds, mounts = _mounts(spec, svc)
    mounts += _file_mounts(spec, svc.secrets, kind="secrets", base="/run/secrets/")
    mounts += _file_mounts(spec, svc.configs, kind="configs", base="/")
    found: dict[str, Any] = {
        "Binds": binds,
        "Mounts": mounts,
        "PortBindings": _port_bindings(svc),
        "RestartPolicy": _restart_policy(svc),
        "Tmpfs": dict(_split_tmpfs(t) for t in svc.tmpfs),
        "CapAdd": list(svc.cap_add),
        "CapDrop": list(svc.cap_drop),
        "Privileged": svc.privileged,
        "ReadonlyRootfs": svc.read_only,
        "Sysctls": {k: v or "" for k, v in svc.sysctls.items()},
        "Ulimits": [{"Name": k, "Soft": u.soft, "Hard": u.hard} for k, u in svc.ulimits.items()],
        "Devices": [_device(d.source, d.target, d.permissions) for d in svc.devices],
        "DeviceCgroupRules": list(svc.device_cgroup_rules),
        "DeviceRequests": _device_requests(svc),
        "ExtraHosts": [f"{h}:{ip}" for h, ips in svc.extra_hosts.items() for ip in ips],
        "Dns": list(svc.dns),
        "DnsOptions": list(svc.dns_opt),
        "DnsSearch": list(svc.dns_search),
        "SecurityOpt": _security_opt(svc),
        "GroupAdd": [str(g) for g in svc.group_add],
        "Links": links(spec, svc),
        "VolumesFrom": [_volumes_from(spec, v) for v in svc.volumes_from],
        "StorageOpt": {k: str(v) for k, v in svc.storage_opt.items()},
        "Annotations": {k: v or "" for k, v in svc.annotations.items()},
    }
    found.update(_resources(svc))
    found.update(_modes(spec, svc))
    if svc.logging is not None:
        options = {k: v or "" for k, v in svc.logging.options.items()}
        found["LogConfig"] = {"Type": svc.logging.driver or "", "Config": options}
    return {k: v for k, v in found.items() if v not in (None, [], {})}


def must_be_carried_out(svc: Service, *, service: str) -> None:
    """Raise ``PlanError`` for host-side settings Kedge does not carry out yet."""
    for mount in svc.volumes:
        if mount.type in ("image", "cluster"):
            raise PlanError(
                f"services.{service}.volumes: {mount.type} mounts are not carried out by Kedge"
                " yet; use a volume or a bind mount"
            )


def _mounts(spec: StackSpec, svc: Service) -> tuple[list[str], list[dict[str, Any]]]:
    binds: list[str] = []
    mounts: list[dict[str, Any]] = []
    for mount in svc.volumes:
        if mount.type == "bind" and (mount.bind is None or mount.bind.create_host_path):
            binds.append(_bind(mount))
        else:
            mounts.append(_mount(spec, mount))
    return binds, mounts


def _bind(mount: ServiceMount) -> str:
    options = ["ro" if mount.read_only else "rw"]
    if mount.bind is not None:
        options += [o for o in (mount.bind.selinux, mount.bind.propagation) if o]
    return f"{mount.source}:{mount.target}:{','.join(options)}"


def _mount(spec: StackSpec, mount: ServiceMount) -> dict[str, Any]:
    found: dict[str, Any] = {"Type": mount.type, "Target": mount.target}
    if mount.read_only:
        found["ReadOnly"] = True
    if mount.type == "volume":
        if mount.source:
            known = mount.source in spec.volumes
            found["Source"] = spec.volume_name(mount.source) if known else mount.source
        if mount.volume is not None:
            options = {
                "NoCopy": mount.volume.nocopy,
                "Labels": {k: v or "" for k, v in mount.volume.labels.items()},
                "Subpath": mount.volume.subpath,
            }
            found["VolumeOptions"] = {k: v for k, v in options.items() if v}
    elif mount.type == "tmpfs" and mount.tmpfs is not None:
        options = {"SizeBytes": mount.tmpfs.size, "Mode": mount.tmpfs.mode}
        found["TmpfsOptions"] = {k: v for k, v in options.items() if v is not None}
    else:
        found["Source"] = mount.source
        if mount.bind is not None and mount.bind.propagation:
            found["BindOptions"] = {"Propagation": mount.bind.propagation}
    return found


def _file_mounts(
    spec: StackSpec, refs: list[ServiceReference], *, kind: str, base: str
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for ref in refs:
        declared = (spec.secrets if kind == "secrets" else spec.configs).get(ref.source)
        path = declared.file if declared is not None else None
        if path is None:
            continue  # copied in after the create (reconcilers.copies)
        target = ref.target or ref.source
        target = target if target.startswith("/") else base + target
        found.append({"Type": "bind", "Source": path, "Target": target, "ReadOnly": True})
    return found


def _port_bindings(svc: Service) -> dict[str, list[dict[str, str]]]:
    bindings: dict[str, list[dict[str, str]]] = {}
    for port in svc.ports:
        key = f"{port.target}/{port.protocol}"
        entry = {"HostIp": port.host_ip or "", "HostPort": port.published or ""}
        bindings.setdefault(key, []).append(entry)
    return bindings


def _restart_policy(svc: Service) -> dict[str, Any] | None:
    policy = svc.deploy.restart_policy if svc.deploy else None
    if policy is not None:  # compose lets deploy.restart_policy win over restart
        name = _RESTART.get(policy.condition or "any", policy.condition or "always")
        return {"Name": name, "MaximumRetryCount": policy.max_attempts or 0}
    if svc.restart is None:
        return None
    name, _, attempts = svc.restart.partition(":")
    return {"Name": name, "MaximumRetryCount": int(attempts or 0)}


def _split_tmpfs(entry: str) -> tuple[str, str]:
    path, _, options = entry.partition(":")
    return path, options


def _device(source: str, target: str | None, permissions: str | None) -> dict[str, str]:
    return {
        "PathOnHost": source,
        "PathInContainer": target or source,
        "CgroupPermissions": permissions or "rwm",
    }


def _device_requests(svc: Service) -> list[dict[str, Any]]:
    requests: list[DeviceRequest] = []
    if svc.gpus == "all":
        requests.append(DeviceRequest(capabilities=["gpu"], count="all"))
    elif svc.gpus:
        requests += [
            r if r.capabilities else r.model_copy(update={"capabilities": ["gpu"]})
            for r in svc.gpus
        ]
    reservations = svc.deploy.resources.reservations if svc.deploy else None
    if reservations is not None:
        requests += reservations.devices
    return [_device_request(r) for r in requests]


def _device_request(request: DeviceRequest) -> dict[str, Any]:
    count = request.count
    found: dict[str, Any] = {
        "Driver": request.driver or "",
        "Count": -1 if count in (None, "all") and not request.device_ids else int(count or 0),
        "DeviceIDs": list(request.device_ids),
        "Capabilities": [list(request.capabilities)],
        "Options": {k: v or "" for k, v in request.options.items()},
    }
    return found


def _security_opt(svc: Service) -> list[str]:
    found = list(svc.security_opt)
    spec = svc.credential_spec
    if spec is not None:
        for scheme, value in (("file", spec.file), ("registry", spec.registry)):
            if value:
                found.append(f"credentialspec={scheme}://{value}")
        if spec.config:
            found.append(f"credentialspec=config://{spec.config}")
    return found


def links(spec: StackSpec, svc: Service) -> list[str]:
    """``links`` and ``external_links`` as Docker's ``container:alias`` pairs, one for each
    replica of a linked service (as compose makes them).

    Docker reads ``HostConfig.Links`` on the default bridge only; on user-defined networks
    they belong in each endpoint (``parameters.endpoints_of``), as the docker CLI and compose
    put them.
    """
    found: list[str] = []
    for link in svc.links:
        target, _, alias = link.partition(":")
        if target not in spec.services:
            found.append(f"{target}:{alias or target}")
            continue
        replicas = spec.services[target].replicas
        names = [spec.container_name(target, n) for n in range(1, replicas + 1)]
        found += [f"{name}:{alias or target}" for name in dict.fromkeys(names)]
    for link in svc.external_links:
        target, _, alias = link.partition(":")
        found.append(f"{target}:{alias or target}")
    return found


def _volumes_from(spec: StackSpec, entry: str) -> str:
    source, _, mode = entry.partition(":")
    if source == "container":
        source, _, mode = mode.partition(":")
    elif source in spec.services:
        source = spec.container_name(source)
    return f"{source}:{mode}" if mode else source


def _modes(spec: StackSpec, svc: Service) -> dict[str, Any]:
    return {
        "NetworkMode": _container_mode(spec, svc.network_mode),
        "IpcMode": _container_mode(spec, svc.ipc),
        "PidMode": _container_mode(spec, svc.pid),
        "UTSMode": svc.uts,
        "UsernsMode": svc.userns_mode,
        "CgroupnsMode": svc.cgroup,
        "CgroupParent": svc.cgroup_parent,
        "Isolation": svc.isolation,
        "Runtime": svc.runtime,
        "Init": svc.init,
    }


def _container_mode(spec: StackSpec, mode: str | None) -> str | None:
    """``service:NAME`` becomes ``container:<its first container>``, as compose resolves it."""
    if mode is None or not mode.startswith("service:"):
        return mode
    return f"container:{spec.container_name(mode.removeprefix('service:'))}"


def _resources(svc: Service) -> dict[str, Any]:
    resources = svc.deploy.resources if svc.deploy else None
    limits = resources.limits if resources else None
    reservations = resources.reservations if resources else None
    cpus = limits.cpus if limits and limits.cpus is not None else svc.cpus
    found: dict[str, Any] = {
        "Memory": limits.memory if limits and limits.memory is not None else svc.mem_limit,
        "MemoryReservation": (
            reservations.memory
            if reservations and reservations.memory is not None
            else svc.mem_reservation
        ),
        "MemorySwap": svc.memswap_limit,
        "MemorySwappiness": svc.mem_swappiness,
        "NanoCpus": int(cpus * NANOS) if cpus else None,
        "PidsLimit": limits.pids if limits and limits.pids is not None else svc.pids_limit,
        "CpuShares": svc.cpu_shares,
        "CpuQuota": svc.cpu_quota,
        "CpuPeriod": svc.cpu_period,
        "CpuCount": svc.cpu_count,
        "CpuPercent": svc.cpu_percent,
        "CpuRealtimePeriod": _micros(svc.cpu_rt_period),
        "CpuRealtimeRuntime": _micros(svc.cpu_rt_runtime),
        "CpusetCpus": svc.cpuset,
        "ShmSize": svc.shm_size,
        "OomKillDisable": svc.oom_kill_disable,
        "OomScoreAdj": svc.oom_score_adj,
    }
    found.update(_blkio(svc))
    return found


def _micros(value: str | None) -> int | None:
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    return int(durations.parse_duration(value).total_seconds() * 1_000_000)


def _blkio(svc: Service) -> dict[str, Any]:
    blkio = svc.blkio_config
    if blkio is None:
        return {}
    return {
        "BlkioWeight": blkio.weight,
        "BlkioWeightDevice": [{"Path": w.path, "Weight": w.weight} for w in blkio.weight_device],
        "BlkioDeviceReadBps": [{"Path": x.path, "Rate": x.rate} for x in blkio.device_read_bps],
        "BlkioDeviceReadIOps": [{"Path": x.path, "Rate": x.rate} for x in blkio.device_read_iops],
        "BlkioDeviceWriteBps": [{"Path": x.path, "Rate": x.rate} for x in blkio.device_write_bps],
        "BlkioDeviceWriteIOps": [{"Path": x.path, "Rate": x.rate} for x in blkio.device_write_iops],
    }
