"""The recipes of the local images, and the digest that keys each one's tag.

A recipe says everything its image is made from: the root filesystem (``BusyboxRoot``: one
static busybox binary and a link per applet; ``DebianRoot``: ``debootstrap`` of a suite with
some packages) and the image settings given to ``docker import`` (``changes``). Its digest is
the sha256 of all of that in a canonical JSON form, the busybox binary's own sha256 included;
a Debian root is keyed by its suite and package names, not by the packages' versions of the
day it was built (remove the tag, or ``python -m images --rebuild``, to take newer ones).
Pure but for reading the busybox binary. Callers: ``images.builder``, ``images.__main__``.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import shutil
import struct
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BUSYBOX", "PYTHON_BASE", "RECIPES", "BusyboxRoot", "DebianRoot", "Recipe"]

#: the label every recipe's image carries: the whole digest (the tag holds 12 digits of it)
DIGEST_LABEL = "kedge.recipe-digest"
_PT_INTERP = 3  # an ELF program header that names a dynamic loader


@dataclass(frozen=True)
class BusyboxRoot:
    """A root filesystem of one static busybox binary, a symlink per applet, and a few files."""

    binary: Path = Path("/bin/busybox")
    dirs: tuple[str, ...] = (
        "bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "tmp", "var", "root", "data",
    )  # fmt: skip
    files: tuple[tuple[str, str], ...] = (
        ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"),
        ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
    )

    def problem(self) -> str | None:
        """Why this root cannot be made on this host, or None."""
        if not self.binary.is_file():
            return f"{self.binary} is missing: install Debian's busybox-static"
        if not _is_static(self.binary):
            return f"{self.binary} is not a static binary: install Debian's busybox-static"
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "busybox",
            "binary": _file_sha256(self.binary) if self.binary.is_file() else None,
            "dirs": list(self.dirs),
            "files": [list(f) for f in self.files],
        }

    def write_tar(self, path: Path) -> None:
        applets = subprocess.run(
            [str(self.binary), "--list-full"], check=True, capture_output=True, text=True
        ).stdout.split()
        with tarfile.open(path, mode="w") as tar:
            for name in self.dirs:
                info = tarfile.TarInfo(name)
                info.type = tarfile.DIRTYPE
                info.mode = 0o1777 if name == "tmp" else 0o755
                tar.addfile(info)
            tar.add(str(self.binary), arcname="bin/busybox")
            for applet in applets:
                if applet != "bin/busybox":
                    link = tarfile.TarInfo(applet)
                    link.type = tarfile.SYMTYPE
                    link.linkname = "/bin/busybox"
                    tar.addfile(link)
            for name, text in self.files:
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))


@dataclass(frozen=True)
class DebianRoot:
    """A Debian root filesystem made by ``debootstrap`` (needs root and the Debian mirror)."""

    suite: str
    packages: tuple[str, ...]
    variant: str = "minbase"
    mirror: str = "http://deb.debian.org/debian"

    def problem(self) -> str | None:
        if shutil.which("debootstrap") is None and not Path("/usr/sbin/debootstrap").exists():
            return "debootstrap is missing: apt-get install debootstrap"
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "debootstrap",
            "suite": self.suite,
            "packages": sorted(self.packages),
            "variant": self.variant,
            "mirror": self.mirror,
        }

    def write_tar(self, path: Path) -> None:
        rootfs = path.parent / "rootfs"
        debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
        subprocess.run(
            [
                debootstrap,
                f"--variant={self.variant}",
                f"--include={','.join(self.packages)}",
                self.suite,
                str(rootfs),
                self.mirror,
            ],
            check=True,
            capture_output=True,
        )
        with tarfile.open(path, mode="w") as tar:
            tar.add(rootfs, arcname=".")


@dataclass(frozen=True)
class Recipe:
    """An image: its repository, its root filesystem, ``docker import``'s changes, aliases."""

    name: str
    repository: str
    root: BusyboxRoot | DebianRoot
    changes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # stable tags that examples, tests and charts name

    def digest(self) -> str:
        document = {
            "repository": self.repository,
            "root": self.root.describe(),
            "changes": list(self.changes),
        }
        text = json.dumps(document, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def tag(self) -> str:
        """The tag keyed by the digest: ``kedge-local/busybox:3f2a9c0d1e4b``."""
        return f"{self.repository}:{self.digest()[:12]}"


@functools.lru_cache(maxsize=8)
def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _is_static(binary: Path) -> bool:
    """An ELF binary with no program header naming a dynamic loader (``PT_INTERP``)."""
    data = binary.read_bytes()
    if data[:4] != b"\x7fELF":
        return False
    order = "<" if data[5] == 1 else ">"
    if data[4] == 2:  # 64-bit
        (phoff,) = struct.unpack_from(order + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 0x36)
    else:
        (phoff,) = struct.unpack_from(order + "I", data, 0x1C)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 0x2A)
    kinds = (struct.unpack_from(order + "I", data, phoff + i * phentsize)[0] for i in range(phnum))
    return _PT_INTERP not in kinds


#: busybox from Debian's busybox-static: the examples' stand-in for every service, and the
#: tests' image (``kedge-test/busybox:1``, the tag the test suite has always used)
BUSYBOX = Recipe(
    name="busybox",
    repository="kedge-local/busybox",
    root=BusyboxRoot(),
    changes=('CMD ["sh"]', "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin"),
    aliases=("kedge-local/busybox:1", "kedge-test/busybox:1"),
)

#: Debian bookworm with Python 3.11: the base of Kedge's own image in its image test
PYTHON_BASE = Recipe(
    name="python-base",
    repository="kedge-local/python-base",
    root=DebianRoot(suite="bookworm", packages=("python3", "python3-venv", "ca-certificates")),
    changes=("ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",),
    aliases=("kedge-local/python-base:3.11", "kedge-test/python-base:3.11"),
)

RECIPES = {recipe.name: recipe for recipe in (BUSYBOX, PYTHON_BASE)}
