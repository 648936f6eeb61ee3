"""The spec folder, read: which files are spec files, and which of them are complete.

``scan_folder`` lists the top level of the watched folder and reads every file that may be a
spec: a regular ``*.yaml``/``*.yml`` file (or a link that stays inside the folder) that is not
hidden and not an editor's swap or backup file. A file changed less than ``settle`` ago may
still be being written; it is reported as unsettled and read on a later scan, so a
half-written file never becomes a version (a file must also parse: ``controller.folder_source``
decides that). ``decide_prune`` is the guard Flux and Argo CD have: a scan in which the folder
is missing or empty, or in which more than half of the stacks vanish at once, deletes nothing.

Callers: ``controller.folder_source`` (the watch loop). Pure except for reading the folder.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Ignored",
    "Prune",
    "Scan",
    "SpecFile",
    "decide_prune",
    "git_commit",
    "ignore_reason",
    "scan_folder",
]

SPEC_SUFFIXES = (".yaml", ".yml")
#: editors' swap, backup and temporary files (vim, emacs, JetBrains, many tools)
SWAP_SUFFIXES = (".swp", ".swo", ".swx", ".tmp", ".bak", ".orig", "~")
SWAP_PREFIXES = (".#", "#", "~$")


@dataclass(frozen=True, slots=True)
class SpecFile:
    """A complete candidate spec file and the content read from it."""

    path: Path
    text: str
    mtime_ns: int
    size: int


@dataclass(frozen=True, slots=True)
class Ignored:
    """A file of the folder that is not a spec file, and why."""

    path: Path
    reason: str


@dataclass(frozen=True, slots=True)
class Scan:
    """One look at the folder: complete spec files, files still settling, ignored files."""

    folder: Path
    exists: bool
    files: tuple[SpecFile, ...] = ()
    unsettled: tuple[Path, ...] = ()
    ignored: tuple[Ignored, ...] = ()
    #: how long until the first unsettled file has settled (0 when none is)
    settles_in_ns: int = 0


def ignore_reason(path: Path, folder: Path) -> str:
    """Why ``path`` (an entry of ``folder``) is not a spec file, or '' when it may be one."""
    name = path.name
    if name.startswith(SWAP_PREFIXES) or name.endswith(SWAP_SUFFIXES):
        return "an editor's swap or backup file"
    if name.startswith("."):
        return "a hidden file"
    if not name.endswith(SPEC_SUFFIXES):
        return "not a YAML file (*.yaml, *.yml)"
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(folder.resolve()):
            return f"a link that leaves the folder (to {target})"
    if not path.is_file():
        return "not a regular file"
    return ""


def scan_folder(folder: Path, *, now_ns: int, settle_ns: int) -> Scan:
    """Read the folder's spec files; files modified within ``settle_ns`` are left for later."""
    if not folder.is_dir():
        return Scan(folder=folder, exists=False)
    files: list[SpecFile] = []
    unsettled: list[Path] = []
    ignored: list[Ignored] = []
    settles_in = settle_ns
    for path in sorted(folder.iterdir()):
        reason = ignore_reason(path, folder)
        if reason:
            ignored.append(Ignored(path, reason))
            continue
        read = _read_settled(path, now_ns=now_ns, settle_ns=settle_ns)
        if isinstance(read, SpecFile):
            files.append(read)
        else:
            unsettled.append(path)
            settles_in = min(settles_in, read)
    wait = settles_in if unsettled else 0
    return Scan(folder, True, tuple(files), tuple(unsettled), tuple(ignored), wait)


def _read_settled(path: Path, *, now_ns: int, settle_ns: int) -> SpecFile | int:
    """The file's content if it did not change while read nor within the settle window,
    else how long (ns) to wait before looking again."""
    try:
        before = path.stat()
        age = now_ns - before.st_mtime_ns
        if age < settle_ns:
            return max(settle_ns - age, 1_000_000)
        text = path.read_text(encoding="utf-8", errors="replace")
        after = path.stat()
    except FileNotFoundError:
        return settle_ns  # removed meanwhile: the next scan sees it gone
    if (before.st_mtime_ns, before.st_size) != (after.st_mtime_ns, after.st_size):
        return settle_ns
    return SpecFile(path, text, after.st_mtime_ns, after.st_size)


@dataclass(frozen=True, slots=True)
class Prune:
    """What a scan may delete: ``delete``, or nothing and ``refused`` says why."""

    delete: frozenset[str] = frozenset()
    refused: str = ""


def decide_prune(
    known: frozenset[str], present: frozenset[str], *, folder_exists: bool, enabled: bool = True
) -> Prune:
    """The stacks to delete because their file vanished, unless the guard says no."""
    vanished = known - present
    if not vanished:
        return Prune()
    if not enabled:
        return Prune(refused=f"prune is off; {len(vanished)} stack(s) left running")
    if not folder_exists:
        return Prune(refused="the spec folder is missing; nothing is deleted")
    if not present:
        return Prune(refused="the spec folder has no spec file; nothing is deleted")
    if len(vanished) * 2 > len(known):
        return Prune(
            refused=f"{len(vanished)} of {len(known)} stacks vanished at once "
            "(more than half); nothing is deleted"
        )
    return Prune(delete=frozenset(vanished))


def git_commit(folder: Path) -> str | None:
    """The commit checked out in the folder's git work tree, or None when it is not one."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--verify", "--quiet", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None
