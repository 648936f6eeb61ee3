"""Listing: what Docker's list calls say of a stack, parsed, and a fingerprint of it.

The pure half of observing: each function reads raw entries of Docker's list answers
(containers, networks, volumes, images) and keeps what the planner reads; none calls Docker.
Two readers make the list calls and parse them here alike: ``reconcilers.observe`` (through
``engine.Engine``, for every pass) and ``reconcilers.peek`` (over the socket with the
standard library alone, for ``kedge up``'s no-op fast path). So this module imports only the
standard library and ``kedge.specs.labels``.

``fingerprint`` covers what the planner reads — ids, names, Kedge's labels, state and exit
code, image and image id, networks, mounted volumes, which tag resolves to which image, which
external objects exist — and leaves out what it does not (health, the ``Status`` text's
times), so a stack whose healthchecks keep running keeps its fingerprint. Two equal
fingerprints of one stack with one desired version make the same plan.

Callers: ``reconcilers.observe`` and ``reconcilers.peek``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from kedge.specs import labels

__all__ = [
    "Probe",
    "as_time",
    "container_facts",
    "existing",
    "familiar_reference",
    "fingerprint",
    "resolve_images",
    "wanted_images",
]

#: what observing a stack asks Docker besides its labelled objects: the image references the
#: desired version names, and its external networks and volumes (``observe.probe_of``)
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


def as_time(text: str | None) -> datetime | None:
    """A time of Docker's inspect answers (None for its zero time ``0001-01-01…``)."""
    if not text or text.startswith("0001-"):
        return None
    # Docker writes nanoseconds; Python's parser takes up to microseconds
    head, _, rest = text.partition(".")
    fraction = rest.rstrip("Z")[:6]
    return datetime.fromisoformat(f"{head}.{fraction or '0'}+00:00")
