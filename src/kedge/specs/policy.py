"""The host-safety policy: which host-reaching compose keys a stack may use.

Kedge holds the Docker socket, which is root on the host; a spec that may set ``privileged``
or mount ``/`` is root on the host too. The operator (never the spec) owns a policy file::

    profile: restricted            # restricted (the default) or privileged (allows all)
    host_paths: [/srv/data]        # bind sources allowed under these roots
    variables: [TZ, "APP_*"]       # server variables a posted spec may read (names, globs)
    spec_root: /srv/specs          # where posted specs may read files (kedge serve)
    exceptions:
      - stacks: [monitoring, "ci-*"]     # by stack name or glob, and/or
        labels: {team: infra}            # by x-kedge.labels (all must match)
        allow: [docker-socket]           # rule names, or "*"
        host_paths: [/var/log]           # more allowed roots for those stacks

``restricted`` is modelled on Kubernetes' Pod Security Standards (``restricted``/``baseline``)
and has one rule per way out of a container (``RULES``). ``check(spec, policy)`` is a pure
function from a validated, resolved stack (``include``, ``extends`` and merge keys done) to
its ``Finding``s, each naming the key path, the rule, and how the operator allows it.
``kedge serve``/``kedge controller`` enforce them where a version enters (``loader.parse``
with ``policy=``); the local verbs warn unless given ``--policy``. The policy file is read by
``load_policy`` (a thin wrapper over ``parse_policy``).

Judged and left out: namespaced ``sysctls`` (Docker accepts only namespaced ones, and they
reach the host only with the host network, refused anyway), ``oom_kill_disable`` and
resource limits (they do not reach the host's files or processes), external networks.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from kedge.errors import Location, SpecError, SpecErrors
from kedge.specs import diagnostics, yamlsource
from kedge.specs.compose_service import Service
from kedge.specs.stack import StackSpec

__all__ = [
    "RULES",
    "SAFE_CAPABILITIES",
    "Exemption",
    "Finding",
    "Policy",
    "check",
    "errors",
    "load_policy",
    "parse_policy",
    "refusals",
]

#: the rules of ``restricted``: name → what it refuses
RULES: dict[str, str] = {
    "privileged": "a privileged container (or build) has every capability and device",
    "host-namespaces": "sharing the host's network, PID, IPC, UTS, user or cgroup namespace",
    "capabilities": "adding a capability beyond Docker's default set",
    "devices": "a host device or device cgroup rule",
    "unconfined": "turning off seccomp, AppArmor, SELinux labels or masked system paths",
    "host-paths": "a bind mount of a host path outside the allowed roots",
    "docker-socket": "the Docker socket (root on the host) inside a container",
    "disguised-binds": "a local volume whose driver options bind a host path",
    "foreign-containers": "joining a container this stack does not manage",
    "privileged-ports": "a port below 1024 published on every host address",
    "cgroup-parent": "placing the container in a cgroup of the host's choosing",
}

#: Docker's default capabilities: adding one of them changes nothing (PSS ``baseline``)
SAFE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)

_SOCKETS = ("docker.sock", "containerd.sock", "podman.sock")
_NAMESPACES = ("network_mode", "pid", "ipc", "uts", "userns_mode", "cgroup")
_OFF = {"seccomp": "unconfined", "apparmor": "unconfined", "label": "disable"}
_OFF["systempaths"] = "unconfined"
_UNCONFINED = frozenset(f"{key}{sep}{value}" for key, value in _OFF.items() for sep in "=:")
_ALL_ADDRESSES = ("", "0.0.0.0", "::", "[::]")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Exemption(_Model):
    """Rules allowed to some stacks: those named (or matching a glob) and/or labelled."""

    stacks: list[str] = []
    labels: dict[str, str] = {}
    allow: list[str] = Field(min_length=1)
    host_paths: list[str] = []

    @field_validator("allow")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        for rule in value:
            if rule != "*" and rule not in RULES:
                raise ValueError(f"unknown rule {rule!r}; the rules are {', '.join(RULES)}")
        return value

    @model_validator(mode="after")
    def _says_whom(self) -> Exemption:
        if not self.stacks and not self.labels:
            raise ValueError("an exception needs 'stacks' or 'labels' to say whom it is for")
        return self

    def covers(self, spec: StackSpec) -> bool:
        if self.stacks and not any(fnmatch.fnmatchcase(spec.name, p) for p in self.stacks):
            return False
        labels = spec.meta.labels
        return all(labels.get(key) == value for key, value in self.labels.items())


class Policy(_Model):
    """The operator's policy (see the module docstring); ``Policy()`` is ``restricted``."""

    profile: Literal["restricted", "privileged"] = "restricted"
    host_paths: list[str] = []
    variables: list[str] = []
    spec_root: str | None = None
    exceptions: list[Exemption] = []
    #: where it came from, for the hints of a refusal
    _source: str = PrivateAttr(default="")

    @property
    def source(self) -> str:
        return self._source

    @field_validator("host_paths")
    @classmethod
    def _absolute(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path.startswith("/"):
                raise ValueError(f"host path {path!r} must be absolute")
        return value

    def allows_variable(self, name: str) -> bool:
        """Whether a posted spec may read the server's variable ``name``."""
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.variables)


class Finding(_Model):
    """One use of a host-reaching key: where, which rule, and how the operator allows it."""

    path: tuple[str | int, ...]
    rule: str
    message: str
    allowed: bool = False

    @property
    def key(self) -> str:
        return ".".join(str(p) for p in self.path)

    def hint(self, stack: str, *, source: str = "") -> str:
        where = f" in the policy file {source}" if source else " in a policy file (--policy)"
        return (
            f"rule {self.rule}: the operator may allow it{where} with"
            f" 'exceptions: [{{stacks: [{stack}], allow: [{self.rule}]}}]'"
        )


def check(spec: StackSpec, policy: Policy) -> list[Finding]:
    """Every host-reaching key of ``spec`` under ``policy``; ``allowed`` marks the findings
    an exception (or the ``privileged`` profile) allows. Pure."""
    exceptions = [e for e in policy.exceptions if e.covers(spec)]
    allowed = {rule for e in exceptions for rule in e.allow}
    roots = [*policy.host_paths, *(p for e in exceptions for p in e.host_paths)]
    members = _members(spec)
    found = [
        *_volume_findings(spec, roots=roots),
        *(
            finding
            for name, service in sorted(spec.services.items())
            for finding in _service_findings(name, service, roots=roots, members=members)
        ),
    ]
    free = policy.profile == "privileged" or "*" in allowed
    return [f.model_copy(update={"allowed": free or f.rule in allowed}) for f in found]


def refusals(spec: StackSpec, policy: Policy) -> list[Finding]:
    """The findings that no exception allows."""
    return [f for f in check(spec, policy) if not f.allowed]


def errors(
    spec: StackSpec, policy: Policy, *, locate: Callable[[Sequence[str | int]], Location]
) -> list[SpecError]:
    """The refusals of ``spec`` as ``SpecError``s: the key, the rule, how to allow it."""
    return [
        SpecError(
            f"{finding.message} is refused by the host-safety policy ({RULES[finding.rule]})",
            location=locate(finding.path),
            hint=finding.hint(spec.name, source=policy.source),
        )
        for finding in refusals(spec, policy)
    ]


def _members(spec: StackSpec) -> set[str]:
    """Names of the containers this stack manages (compose's names and container_name)."""
    names: set[str] = set()
    for name, service in spec.services.items():
        names.add(name)
        if service.container_name:
            names.add(service.container_name)
        replicas = max(service.scale or 1, 1)
        names.update(f"{spec.name}-{name}-{n}" for n in range(1, replicas + 1))
    return names


def _finding(path: Sequence[str | int], rule: str, message: str) -> Finding:
    return Finding(path=tuple(path), rule=rule, message=message)


def _service_findings(
    name: str, service: Service, *, roots: list[str], members: set[str]
) -> Iterator[Finding]:
    at = ("services", name)
    if service.privileged:
        yield _finding((*at, "privileged"), "privileged", "privileged: true")
    build = service.build
    if build is not None and (build.privileged or build.entitlements):
        yield _finding((*at, "build"), "privileged", "a privileged build (or entitlements)")
    for key in _NAMESPACES:
        value = getattr(service, key)
        if value == "host":
            yield _finding((*at, key), "host-namespaces", f"{key}: host")
        elif _is_foreign(value, members=members) and key != "cgroup":
            yield _finding((*at, key), "foreign-containers", f"{key}: {value}")
    for index, item in enumerate(service.volumes_from):
        if _is_foreign(item.rsplit(":", 1)[0] if item.count(":") > 1 else item, members=members):
            yield _finding((*at, "volumes_from", index), "foreign-containers", item)
    for index, link in enumerate(service.external_links):
        yield _finding((*at, "external_links", index), "foreign-containers", link)
    yield from _capability_findings(at, service)
    for index, device in enumerate(service.devices):
        yield _finding((*at, "devices", index), "devices", f"device {device.source}")
    for index, rule in enumerate(service.device_cgroup_rules):
        yield _finding((*at, "device_cgroup_rules", index), "devices", f"device rule {rule}")
    for index, option in enumerate(service.security_opt):
        if option.replace(" ", "") in _UNCONFINED:
            yield _finding((*at, "security_opt", index), "unconfined", option)
    if service.cgroup_parent:
        yield _finding((*at, "cgroup_parent"), "cgroup-parent", "cgroup_parent")
    for index, mount in enumerate(service.volumes):
        if mount.type == "bind" and mount.source:
            yield from _bind_findings((*at, "volumes", index), mount.source, roots=roots)
    for index, port in enumerate(service.ports):
        if _is_privileged_port(port.published) and (port.host_ip or "") in _ALL_ADDRESSES:
            message = f"port {port.published} published on every address"
            yield _finding((*at, "ports", index), "privileged-ports", message)


def _is_foreign(value: object, *, members: set[str]) -> bool:
    """Whether ``value`` is ``container:NAME`` for a container this stack does not manage."""
    if not isinstance(value, str) or not value.startswith("container:"):
        return False
    return value.removeprefix("container:") not in members


def _capability_findings(at: tuple[str, str], service: Service) -> Iterator[Finding]:
    for index, capability in enumerate(service.cap_add):
        name = str(capability).upper().removeprefix("CAP_")
        if name not in SAFE_CAPABILITIES:
            yield _finding((*at, "cap_add", index), "capabilities", f"cap_add: {name}")


def _bind_findings(
    path: tuple[str | int, ...], source: str, *, roots: list[str]
) -> Iterator[Finding]:
    normal = posixpath.normpath(source) if source.startswith("/") else source
    if posixpath.basename(normal) in _SOCKETS or normal in ("/var/run", "/run"):
        yield _finding(path, "docker-socket", f"bind of {normal}")
    elif not _is_under(normal, roots):
        yield _finding(path, "host-paths", f"bind of host path {normal}")


def _volume_findings(spec: StackSpec, *, roots: list[str]) -> Iterator[Finding]:
    for key, volume in sorted(spec.volumes.items()):
        if volume.external or volume.driver not in (None, "local"):
            continue
        options = {str(k): str(v) for k, v in volume.driver_opts.items()}
        flags = {o.strip() for o in options.get("o", "").split(",")}
        device = options.get("device", "")
        if flags & {"bind", "rbind"} or options.get("type") == "none":
            if device and _is_under(posixpath.normpath(device), roots):
                continue
            message = f"local volume binding {device or 'a host path'}"
            yield _finding(("volumes", key, "driver_opts"), "disguised-binds", message)


def _is_under(path: str, roots: list[str]) -> bool:
    if not path.startswith("/"):
        return False  # relative to no folder: cannot be judged, so not allowed
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _is_privileged_port(published: str | None) -> bool:
    if not published:
        return False
    first = published.split("-")[0]
    return first.isdigit() and 0 < int(first) < 1024


# -- the policy file ------------------------------------------------------------------------


def parse_policy(content: bytes | str, *, source: str = "<policy>") -> Policy:
    """The policy of a policy file's text; ``SpecError`` with file:line when it is wrong."""
    document = yamlsource.load_yaml(content, source=source)
    data = document.data if document.data is not None else {}
    if not isinstance(data, Mapping):
        raise SpecError("a policy file is a mapping", location=document.locate(()))
    try:
        policy = Policy.model_validate(dict(data))
    except ValidationError as exc:
        errors = diagnostics.from_validation_error(
            exc, data=dict(data), model=Policy, locate=document.locate
        )
        raise SpecErrors(errors) from exc
    policy._source = source
    return policy


def load_policy(path: Path | str) -> Policy:
    """Read and parse the policy file at ``path``."""
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        raise SpecError(
            f"cannot read the policy file: {exc.strerror}",
            location=Location(str(path)),
            hint="check the path given to --policy",
        ) from exc
    return parse_policy(content, source=str(path))
