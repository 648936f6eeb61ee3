"""Service mounts: the short syntax (``data:/var/lib/x:ro``, ``./src:/app``, ``/cache``) and the
long form, normalised to a list of ``ServiceMount`` as compose-go's ``ParseVolume`` does.

Bind sources are resolved against the project folder given in the validation context (see
``compose_base.resolve_path``). Used by ``compose_service.Service.volumes``; read by the volume
and container reconcilers and by ``validation`` (undefined named volumes).
"""

from __future__ import annotations

import posixpath
from typing import Any, Literal

from pydantic import ValidationInfo, field_validator, model_validator

from kedge.specs.compose_base import Bool, Bytes, ComposeModel, ListOrDict, resolve_path

__all__ = ["ServiceMount", "expand_mounts", "parse_mount_spec"]

MountType = Literal["bind", "volume", "tmpfs", "cluster", "npipe", "image"]
_PROPAGATIONS = {"rprivate", "private", "rshared", "shared", "rslave", "slave"}


class BindOptions(ComposeModel):
    propagation: str | None = None
    create_host_path: Bool = True
    recursive: Literal["enabled", "disabled", "writable", "readonly"] | None = None
    selinux: Literal["z", "Z"] | None = None


class VolumeOptions(ComposeModel):
    labels: ListOrDict = {}
    nocopy: Bool = False
    subpath: str | None = None


class TmpfsOptions(ComposeModel):
    size: Bytes | None = None
    mode: int | None = None

    @field_validator("mode", mode="before")
    @classmethod
    def _octal(cls, value: Any) -> Any:
        if isinstance(value, str | bool):  # compose decodes the mode as a number only
            raise ValueError(f"mode must be a number such as 01777, got the text {value!r}")
        return value


class ImageOptions(ComposeModel):
    subpath: str | None = None


class ServiceMount(ComposeModel):
    """One mount of a service container (compose's long volume syntax)."""

    type: MountType
    source: str | None = None
    target: str | None = None
    read_only: Bool = False
    consistency: str | None = None
    bind: BindOptions | None = None
    volume: VolumeOptions | None = None
    tmpfs: TmpfsOptions | None = None
    image: ImageOptions | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill_options(cls, data: Any) -> Any:
        # short and long syntax meet here: a bind always has bind options (compose's short
        # syntax creates the host path), a volume's empty options are no options
        if isinstance(data, dict):
            data = dict(data)
            if data.get("type") == "bind" and data.get("bind") is None:
                data["bind"] = {}
            if data.get("volume") == {}:
                data.pop("volume")
        return data

    @field_validator("source")
    @classmethod
    def _resolve_bind(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and info.data.get("type") == "bind":
            return resolve_path(value, info)
        return value or None

    @field_validator("target")
    @classmethod
    def _clean_target(cls, value: str | None) -> str | None:
        if value and value.startswith("/"):
            return posixpath.normpath(value).replace("//", "/")
        return value

    @model_validator(mode="after")
    def _check(self) -> ServiceMount:
        if not self.target:
            raise ValueError(f"a {self.type} mount needs a target path in the container")
        if self.type in ("bind", "image", "npipe") and not self.source:
            raise ValueError(f"a {self.type} mount needs a source")
        if self.type == "tmpfs" and self.source:
            return self.model_copy(update={"source": None})  # compose accepts it; Docker would not
        return self


def expand_mounts(value: Any) -> Any:
    """Turn a ``volumes:`` list of short strings and mappings into long-form mappings."""
    if not isinstance(value, list):
        return value
    mounts: list[Any] = [parse_mount_spec(v) if isinstance(v, str) else v for v in value]
    # a later mount on the same target replaces an earlier one (compose merges by target)
    by_target: dict[Any, Any] = {}
    for index, mount in enumerate(mounts):
        target = mount.get("target") if isinstance(mount, dict) else None
        by_target[target if target is not None else ("#", index)] = mount
    return list(by_target.values())


def parse_mount_spec(spec: str) -> dict[str, Any]:
    """Parse ``[source:]target[:options]`` as compose-go's ``ParseVolume`` does."""
    if spec == "":
        raise ValueError("invalid empty volume spec; write 'source:/path' or '/path'")
    if len(spec) <= 2:
        return {"type": "volume", "target": spec}
    parts = _split_spec(spec)
    if any(part == "" for part in parts):
        raise ValueError(f"invalid volume {spec!r}: empty section between colons")
    if len(parts) > 3:
        raise ValueError(f"invalid volume {spec!r}: too many colons")
    if len(parts) == 1:
        return {"type": "volume", "target": parts[0]}
    mount: dict[str, Any] = {"source": parts[0], "target": parts[1]}
    options = parts[2].split(",") if len(parts) == 3 else []
    _apply_options(mount, options)
    if _is_file_path(parts[0]):
        mount["type"] = "bind"
        mount.setdefault("bind", {})
    else:
        mount["type"] = "volume"
        mount.pop("bind", None)
    return mount


def _split_spec(spec: str) -> list[str]:
    parts: list[str] = []
    buffer = ""
    for char in spec:
        # a Windows drive letter ("C:") is part of the path, not a separator
        if char == ":" and not (len(buffer) == 1 and buffer.isalpha()):
            parts.append(buffer)
            buffer = ""
        else:
            buffer += char
    parts.append(buffer)
    return parts


def _apply_options(mount: dict[str, Any], options: list[str]) -> None:
    for option in options:
        if option == "ro":
            mount["read_only"] = True
        elif option == "rw":
            mount["read_only"] = False
        elif option == "nocopy":
            mount["volume"] = {"nocopy": True}
        elif option in _PROPAGATIONS:
            mount.setdefault("bind", {})["propagation"] = option
        elif option in ("z", "Z"):
            mount.setdefault("bind", {})["selinux"] = option
        # compose ignores other options


def _is_file_path(source: str) -> bool:
    if source[0] in "./~" or source.startswith("\\\\"):
        return True
    return len(source) >= 2 and source[0].isalpha() and source[1] == ":"
