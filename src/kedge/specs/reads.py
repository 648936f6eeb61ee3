"""Confined reads: the files a spec may read beyond itself, and the one place they are read.

A spec names other files: ``include``d and ``extends``ed compose files, ``env_file``,
``label_file``, secret and config ``file``s and ``build`` contexts. Kedge holds the Docker
socket, so which of them it reads is the operator's decision, not the spec's:

- ``Reads.inside(folder)``: a spec of the watched folder reads only inside that folder (or a
  spec posted to the API, inside the spec root the operator named with ``--spec-root``).
  A path is resolved with its symlinks first, so a link that leaves the folder is refused;
- ``Reads.nothing()``: a spec posted to the API, when the operator named no spec root,
  reads no server file at all; any file it names is refused;
- ``Reads.local()``: anywhere, for the compose-like local verbs (``validate``, ``plan``,
  ``up``), whose user could read those files anyway; compose reads ``../`` too;
- ``Reads.unrooted()``: a spec read locally from no folder (standard input, a document in
  memory): its service files (env and label files, secret and config files, build
  contexts) resolve from no folder and are left unread, as before this module existed.

In every mode only regular files are read (a device such as ``/dev/zero``, a FIFO, a socket
or a folder where a file is expected is refused), each up to ``MAX_FILE`` bytes; a build
context is walked without following symlinks, regular files only, up to ``MAX_CONTEXT_FILES``
entries and ``MAX_CONTEXT_BYTES`` bytes (``digests.context_digest`` counts them), each file
read up to the size ``stat`` gives (what ``docker build`` sends). Errors name the path and
the rule, never the content.

Called by ``loader`` (include, extends, ``.env``), ``service_files`` (env and label files,
secret/config digests, build contexts) and ``digests``. Pure but for reading files (``os``
and ``pathlib`` only).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kedge.errors import Location, SpecError

__all__ = ["MAX_CONTEXT_BYTES", "MAX_CONTEXT_FILES", "MAX_FILE", "Reads", "context_too_large"]

#: the largest file a spec reads (a compose file, an env file, a secret or a config)
MAX_FILE = 4 * 2**20
#: the most entries a build context may have; more is most likely a mistake (``build: /``)
MAX_CONTEXT_FILES = 100_000
#: the most bytes the files of a build context may hold in all (``build: /`` reaches
#: ``/proc/kcore``, whose size is the machine's address space)
MAX_CONTEXT_BYTES = 4 * 2**30

_ROOT_HINT = (
    "keep the files a spec reads inside its folder; the operator of kedge serve names the"
    " folder (--specs) and the spec root of posted specs (--spec-root)"
)


@dataclass(frozen=True, slots=True)
class Reads:
    """Which files a spec may read (see the module docstring); ``root`` None with
    ``anywhere`` False reads none."""

    root: Path | None
    anywhere: bool = False
    #: service files are left unread (``unrooted``)
    skips_service_files: bool = False
    max_file: int = MAX_FILE

    @classmethod
    def inside(cls, folder: Path | str) -> Reads:
        return cls(root=Path(os.path.realpath(folder)))

    @classmethod
    def nothing(cls) -> Reads:
        return cls(root=None)

    @classmethod
    def local(cls) -> Reads:
        return cls(root=None, anywhere=True)

    @classmethod
    def unrooted(cls) -> Reads:
        return cls(root=None, anywhere=True, skips_service_files=True)

    @property
    def reads_files(self) -> bool:
        return self.anywhere or self.root is not None

    def check(self, path: Path | str, *, what: str, where: Location) -> Path:
        """``path`` with its symlinks resolved, when this spec may read it; ``SpecError``
        naming ``what`` (e.g. ``env_file``) and the rule otherwise. Does not say whether the
        path exists."""
        given = str(path)
        if not self.reads_files:
            raise SpecError(
                f"{what} {given!r} would read a file of the server, and a spec posted to the"
                " API reads none",
                location=where,
                hint="send the spec resolved (kedge apply does), or have the operator name a"
                " spec root (kedge serve --spec-root DIR) and post a source inside it",
            )
        if not Path(given).is_absolute():
            if self.root is None:
                return Path(os.path.realpath(given))
            given = str(self.root / given)
        real = Path(os.path.realpath(given))
        if self.root is not None and not real.is_relative_to(self.root):
            shown = "" if real == Path(os.path.normpath(given)) else f" (a symlink to {real})"
            raise SpecError(
                f"{what} {str(path)!r}{shown} is outside the spec's folder {str(self.root)!r}",
                location=where,
                hint=_ROOT_HINT,
            )
        return real

    def read_bytes(self, path: Path | str, *, what: str, where: Location) -> bytes:
        """The content of the regular file at ``path``, confined and capped. ``OSError``
        (e.g. ``FileNotFoundError``) when it cannot be opened, as ``Path.read_bytes``;
        ``SpecError`` when it may not be read."""
        real = self.check(path, what=what, where=where)
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        try:
            self._must_be_regular(os.fstat(fd), path=path, what=what, where=where)
        except SpecError:
            os.close(fd)
            raise
        with os.fdopen(fd, "rb") as handle:
            content = handle.read(self.max_file + 1)
        if len(content) > self.max_file:
            raise SpecError(
                f"{what} {str(path)!r} is larger than {self.max_file} bytes",
                location=where,
                hint="a spec reads small files only; keep large data in a volume",
            )
        return content

    def is_file(self, path: Path | str, *, what: str, where: Location) -> bool:
        """Whether ``path`` exists (``SpecError`` when it may not be read at all)."""
        return os.path.lexists(self.check(path, what=what, where=where))

    def _must_be_regular(
        self, info: os.stat_result, *, path: Path | str, what: str, where: Location
    ) -> None:
        if stat.S_ISREG(info.st_mode):
            return
        kind = (
            "a folder"
            if stat.S_ISDIR(info.st_mode)
            else "a FIFO"
            if stat.S_ISFIFO(info.st_mode)
            else "a device"
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
            else "a socket"
            if stat.S_ISSOCK(info.st_mode)
            else "not a regular file"
        )
        raise SpecError(
            f"{what} {str(path)!r} is {kind}; a spec reads regular files only",
            location=where,
            hint="name a regular file",
        )

    def walk_context(
        self, folder: Path | str, *, what: str, where: Location, skip: frozenset[str]
    ) -> Iterator[Path]:
        """The regular files and symlinks of a build context, sorted, without following
        symlinks (folders named in ``skip`` left out); ``SpecError`` past
        ``MAX_CONTEXT_FILES`` entries. Paths are under the resolved ``folder``."""
        real = self.check(folder, what=what, where=where)
        count = 0
        for root, dirs, files in os.walk(real, followlinks=False):
            dirs[:] = sorted(d for d in dirs if d not in skip)
            count += len(dirs) + len(files)
            if count > MAX_CONTEXT_FILES:
                raise context_too_large(
                    folder, f"{MAX_CONTEXT_FILES} entries", what=what, where=where
                )
            yield from (Path(root) / name for name in sorted(files))


def context_too_large(folder: Path | str, bound: str, *, what: str, where: Location) -> SpecError:
    """The error of a build context past one of its bounds (``bound``: "N entries")."""
    return SpecError(
        f"{what} {str(folder)!r} holds more than {bound}",
        location=where,
        hint="point build.context at the folder the image is built from, and leave the rest"
        " out with a .dockerignore",
    )
