"""Peek: the facts of a stack that decide whether a plan is empty, and a fingerprint of them.

``kedge up`` with nothing to do should cost what the Docker list calls cost, not what Python's
imports do. So the list calls that ``observe`` makes (containers, networks and volumes by the
``kedge.stack`` label, images, external objects by name) have a second reader here that
needs only the standard library: ``Peek`` talks HTTP to the Docker socket itself (a few lines
of HTTP/1.1, ``_Connection``), for the local ``unix://`` daemons it can reach; any other
``DOCKER_HOST`` (TCP, TLS, ssh), and any docker context but the default, gets no peek, and the
caller takes the full path through ``engine.Engine``.

``fingerprint`` is computed by both readers from the same raw list entries: ``observe``
puts it on every ``ObservedStack``, and a peek recomputes it. It covers what the planner
reads — ids, names, Kedge's labels, state and exit code, image and image id, networks,
mounted volumes, which tag resolves to which image, which external objects exist — and
leaves out what it does not (health, the ``Status`` text's times), so a stack whose
healthchecks keep running keeps its fingerprint. Two equal fingerprints of one stack with
one desired version make the same plan.

Callers: ``reconcilers.observe`` (``fingerprint``, ``container_facts``, ``resolve_images``),
``cli.quick`` (``Peek``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kedge import errors
from kedge.reconcilers.deadlines import Deadlines
from kedge.specs import labels

__all__ = ["Peek", "Probe", "container_facts", "familiar_reference", "fingerprint"]

#: what a peek must ask Docker besides the labelled objects: the image references the
#: desired version names, and its external networks and volumes (from ``observe.probe_of``)
Probe = Mapping[str, Sequence[str]]

_EXIT = re.compile(r"^Exited \((-?\d+)\)")


#: the name Docker gives an anonymous volume
_ANONYMOUS = re.compile(r"[0-9a-f]{64}")


def container_facts(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the planner reads of one entry of Docker's container list (None if not Kedge's)."""
    found = dict(summary.get("Labels") or {})
    if labels.SERVICE not in found or labels.STACK not in found:
        return None
    exit_match = _EXIT.match(str(summary.get("Status") or ""))
    mounts = summary.get("Mounts") or []
    return {
        "id": str(summary["Id"]),
        "name": str((summary.get("Names") or ["/"])[0]).lstrip("/"),
        "labels": found,
        "state": str(summary.get("State") or "created").lower(),
        "exit_code": int(exit_match.group(1)) if exit_match else None,
        "image": str(summary.get("Image") or ""),
        "image_id": str(summary.get("ImageID") or ""),
        "networks": sorted((summary.get("NetworkSettings") or {}).get("Networks") or {}),
        "volumes": sorted(m["Name"] for m in mounts if m.get("Type") == "volume"),
        "anonymous": sorted(
            [str(m.get("Destination") or ""), str(m["Name"])]
            for m in mounts
            if m.get("Type") == "volume" and _ANONYMOUS.fullmatch(str(m.get("Name") or ""))
        ),
    }


def familiar_reference(ref: str) -> str:
    """An image reference as Docker lists it: no ``docker.io/library/``, ``:latest`` added."""
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
            break
    last = ref.rsplit("/", 1)[-1]
    if "@" not in ref and ":" not in last:
        ref += ":latest"
    return ref


def wanted_images(refs: Iterable[str], containers: Iterable[Mapping[str, Any]]) -> list[str]:
    """The references to resolve: the desired ones and those the containers were made from."""
    every = {*refs, *(str(c["image"]) for c in containers if c["image"])}
    return sorted(r for r in every if not r.startswith("sha256:"))


def resolve_images(
    images: Iterable[Mapping[str, Any]], refs: Iterable[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """From the image list: each reference's image id now, and the ``kedge.build-hash``
    label of those Kedge built."""
    tags: dict[str, Mapping[str, Any]] = {}
    for image in images:
        for tag in [*(image.get("RepoTags") or []), *(image.get("RepoDigests") or [])]:
            tags[tag] = image
    ids: dict[str, str] = {}
    built: dict[str, str] = {}
    for ref in refs:
        found = tags.get(familiar_reference(ref))
        if found is None:
            continue
        ids[ref] = str(found["Id"])
        label = (found.get("Labels") or {}).get(labels.BUILD_HASH)
        if label:
            built[ref] = str(label)
    return ids, built


def existing(found: Iterable[Mapping[str, Any]], names: Iterable[str]) -> frozenset[str]:
    """The names among ``names`` that the list holds (Docker's name filter matches substrings)."""
    return frozenset({str(o["Name"]) for o in found} & set(names))


def fingerprint(
    containers: Iterable[Mapping[str, Any]],
    networks: Iterable[Mapping[str, Any]],
    volumes: Iterable[Mapping[str, Any]],
    images: Mapping[str, str],
    *,
    built: Mapping[str, str],
    external_networks: frozenset[str] | None,
    external_volumes: frozenset[str] | None,
) -> str:
    """The sha256 of a stack's planner-relevant facts (``containers`` as ``container_facts``)."""
    facts = {
        "containers": sorted((dict(c) for c in containers), key=lambda c: c["id"]),
        "networks": sorted(
            ({"id": n["Id"], "name": n["Name"], "labels": n.get("Labels") or {}} for n in networks),
            key=lambda n: n["id"],
        ),
        "volumes": sorted(
            ({"name": v["Name"], "labels": v.get("Labels") or {}} for v in volumes),
            key=lambda v: v["name"],
        ),
        "images": dict(sorted(images.items())),
        "built": dict(sorted(built.items())),
        "external_networks": None if external_networks is None else sorted(external_networks),
        "external_volumes": None if external_volumes is None else sorted(external_volumes),
    }
    text = json.dumps(facts, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _context(env: Mapping[str, str]) -> str:
    """The docker context in effect: ``DOCKER_CONTEXT``, else the config file's current one."""
    if env.get("DOCKER_CONTEXT"):
        return env["DOCKER_CONTEXT"]
    folder = Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "default"
    current = config.get("currentContext") if isinstance(config, dict) else None
    return current if isinstance(current, str) and current else "default"


class _Connection:
    """HTTP/1.1 GETs on one kept-alive unix socket: as much HTTP as the Docker API answers
    with (a status line, headers, a body of ``Content-Length`` bytes or in chunks), so a
    peek need not import ``http.client`` and the ``email`` package it parses headers with."""

    def __init__(self, path: str, timeout: float) -> None:
        self._path = path
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def get(self, target: str) -> tuple[int, bytes]:
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._sock.settimeout(self._timeout)
            self._sock.connect(self._path)
        self._sock.sendall(f"GET {target} HTTP/1.1\r\nHost: docker\r\n\r\n".encode())
        status_line, *lines = self._until(b"\r\n\r\n").split(b"\r\n")
        status = int(status_line.split()[1])
        headers = {}
        for line in lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            return status, self._chunked()
        return status, self._exactly(int(headers.get(b"content-length", b"0")))

    def _chunked(self) -> bytes:
        parts = []
        while size := int(self._until(b"\r\n").split(b";")[0] or b"0", 16):
            parts.append(self._exactly(size))
            self._exactly(2)  # the CRLF after each chunk
        while self._until(b"\r\n"):  # trailers, up to the empty line
            pass
        return b"".join(parts)

    def _until(self, mark: bytes) -> bytes:
        while (end := self._buffer.find(mark)) < 0:
            self._fill()
        found, self._buffer = self._buffer[:end], self._buffer[end + len(mark) :]
        return found

    def _exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        found, self._buffer = self._buffer[:size], self._buffer[size:]
        return found

    def _fill(self) -> None:
        assert self._sock is not None
        data = self._sock.recv(65536)
        if not data:
            raise ConnectionError("the Docker daemon closed the connection")
        self._buffer += data


class Peek:
    """The stack's list calls over a local Docker socket, with the standard library alone.

    Any failure raises ``OSError`` or ``ValueError``; the caller then takes the full path,
    whose engine says properly what is wrong. Each answer is awaited up to the ``read``
    deadline (``reconcilers.deadlines``), as the engine's list calls are.
    """

    def __init__(self, socket_path: str, *, timeout: float = 10.0) -> None:
        self._connection = _Connection(socket_path, timeout)
        self.calls = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Peek | None:
        """A peek at the daemon ``DOCKER_HOST`` names, or None when it is not a unix socket."""
        env = os.environ if env is None else env
        if not env.get("DOCKER_HOST") and _context(env) != "default":
            return None  # a docker context: the engine adapter resolves it
        host = env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        if not host.startswith("unix://") or env.get("DOCKER_TLS_VERIFY"):
            return None
        try:
            deadlines = Deadlines.from_env(env)
        except errors.SpecError:
            return None  # the full path says what is wrong with the setting
        return cls(host.removeprefix("unix://"), timeout=deadlines.read)

    def close(self) -> None:
        self._connection.close()

    def get(self, path: str, **query: Any) -> Any:
        """GET one API path (unversioned: the daemon's own API version) as decoded JSON."""
        target = path + ("?" + urllib.parse.urlencode(query) if query else "")
        status, body = self._connection.get(target)
        self.calls += 1
        if status != 200:
            raise ValueError(f"GET {path}: HTTP {status}")
        return json.loads(body)

    def stack(self, stack: str, probe: Probe) -> str:
        """The fingerprint of ``stack`` now, making the same list calls as ``observe``."""
        by_label = json.dumps({"label": [f"{labels.STACK}={stack}"]})
        raw = self.get("/containers/json", all=1, filters=by_label)
        containers = [f for f in map(container_facts, raw) if f]
        networks = self.get("/networks", filters=by_label)
        volumes = self.get("/volumes", filters=by_label).get("Volumes") or []
        refs = wanted_images(probe.get("images", ()), containers)
        images, built = resolve_images(self.get("/images/json"), refs) if refs else ({}, {})
        return fingerprint(
            containers,
            networks,
            volumes,
            images,
            built=built,
            external_networks=self._existing("/networks", probe.get("networks", ()), key=None),
            external_volumes=self._existing("/volumes", probe.get("volumes", ()), key="Volumes"),
        )

    def _existing(self, path: str, names: Sequence[str], *, key: str | None) -> frozenset[str]:
        if not names:
            return frozenset()
        found = self.get(path, filters=json.dumps({"name": sorted(names)}))
        return existing(found if key is None else found.get(key) or [], names)
