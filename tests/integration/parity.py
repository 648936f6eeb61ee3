"""Comparing what Docker Compose and Kedge made of one spec, as ``docker inspect`` shows it.

``snapshot`` inspects every container, network and volume of a project (found by the tool's
project label) and ``differences`` compares two snapshots field by field after
``normalized`` has taken out what may differ. Used by ``test_compose_parity`` and
``test_corpus_parity``.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from pathlib import Path
from typing import Any

COMPOSE_LABEL = "com.docker.compose.project"
KEDGE_LABEL = "kedge.stack"


def snapshot(client: Any, label: str, value: str) -> dict[str, dict[str, Any]]:
    """Every object of the project, inspected, by a name both tools give it.

    Taken while the objects exist: container ids (which compose uses in ``volumes_from`` and
    ``container:`` modes, and Docker as the default hostname and an alias) become the
    containers' names, and the project's name becomes ``P``.
    """
    flt = {"label": [f"{label}={value}"]}
    found: dict[str, Any] = {}
    names: dict[str, str] = {}
    for container in client.containers.list(all=True, filters=flt):
        found[f"container {container.name}"] = client.api.inspect_container(container.id)
        names[container.id] = container.name
    for network in client.networks.list(filters=flt):
        found[f"network {network.name}"] = network.attrs
    for volume in client.volumes.list(filters=flt):
        found[f"volume {volume.name}"] = volume.attrs
    text = json.dumps(found)
    for long, name in names.items():
        text = text.replace(long, name).replace(long[:12], name)
    taken: dict[str, dict[str, Any]] = json.loads(text.replace(value, "P"))
    return taken


def remove(client: Any, label: str, value: str) -> None:
    """Remove every object of the project."""
    import docker

    flt = {"label": [f"{label}={value}"]}
    for container in client.containers.list(all=True, filters=flt):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
    for network in client.networks.list(filters=flt):
        with contextlib.suppress(docker.errors.APIError):
            network.remove()
    for volume in client.volumes.list(filters=flt):
        with contextlib.suppress(docker.errors.APIError):
            volume.remove(force=True)


def compose_down(client: Any, binary: str, spec: Path, project: str) -> None:
    """``docker compose down --volumes`` of the project, then whatever of it is left."""
    subprocess.run(
        [binary, "-f", str(spec), "-p", project, "down", "--volumes", "--timeout", "0"],
        capture_output=True,
        check=False,
    )
    remove(client, COMPOSE_LABEL, project)


def differences(theirs: dict[str, dict[str, Any]], ours: dict[str, dict[str, Any]]) -> list[str]:
    """Compose's snapshot against Kedge's, one line per object or field that differs."""
    found = [f"{key}: only compose made it" for key in sorted(set(theirs) - set(ours))]
    found += [f"{key}: only Kedge made it" for key in sorted(set(ours) - set(theirs))]
    for key in sorted(set(theirs) & set(ours)):
        what = key.split(" ", 1)[0]
        wanted, got = normalized(theirs[key], what), normalized(ours[key], what)
        found += [
            f"{key} {field}: compose {wanted.get(field)!r}, kedge {got.get(field)!r}"
            for field in sorted(set(wanted) | set(got))
            if wanted.get(field) != got.get(field)
        ]
    return found


def normalized(found: dict[str, Any], what: str) -> dict[str, Any]:
    """The inspected fields of a ``container``, ``network`` or ``volume`` that say what was
    asked for, flattened, with the allowed differences taken out:

    - the tools' own labels (``com.docker.compose.*``, ``kedge.*``), addresses and times;
    - order where Docker keeps the order it was given (environment, extra hosts, ulimits);
    - ``CAP_`` prefixes, which compose adds;
    - how a named volume is asked for: compose sends ``Binds``, Kedge ``Mounts``; what is
      mounted (``Mounts`` of the inspect) is compared instead, without its SELinux mode;
    - the container's own name among its aliases and links, which compose adds and Docker's
      DNS answers for anyway, and compose's ``<service>-<n>`` link alias, whose number is
      that of the linking container (a quirk not worth copying);
    - empty and absent values.
    """
    if what == "network":
        keep = {k: found[k] for k in ("Driver", "Internal", "Attachable", "EnableIPv6", "Options")}
        keep["Labels"] = _own_labels(found["Labels"])
        keep["IPAM.Driver"] = found["IPAM"]["Driver"]
        return _flat(keep)
    if what == "volume":
        keep = {"Driver": found["Driver"], "Options": found["Options"] or None}
        keep["Labels"] = _own_labels(found["Labels"])
        return _flat(keep)
    config, host = found["Config"], found["HostConfig"]
    config["Labels"] = _own_labels(config["Labels"])
    config["Env"] = sorted(config["Env"])
    for key in ("AttachStdout", "AttachStderr", "Image"):
        config.pop(key, None)
    for key in ("CapAdd", "CapDrop"):
        host[key] = [c.removeprefix("CAP_") for c in host.get(key) or []]
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
        links = sorted(
            link
            for link in endpoint.get("Links") or []
            if not re.fullmatch(r"(.+):(\1|(P-)?[a-z]+-\d+)", link)
        )
        networks[net] = {
            "Aliases": sorted(a for a in endpoint.get("Aliases") or [] if a != name),
            "Links": links,
            "DriverOpts": endpoint["DriverOpts"],
            "IPAMConfig": endpoint.get("IPAMConfig"),
        }
    keep = {"Config": config, "HostConfig": host, "Mounts": mounts, "Networks": networks}
    return {k: v for k, v in _flat(keep).items() if v not in (None, [], {}, "")}


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
