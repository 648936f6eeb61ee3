"""The CLI's token: where ``kedge login`` keeps it and which one a remote verb sends.

``KEDGE_TOKEN`` wins; else the file ``$XDG_CONFIG_HOME/kedge/token`` (``~/.config`` when
unset), written by ``kedge login`` with mode 0600 in a folder of mode 0700, so that only its
owner reads it. The standard library only (``kedge up`` imports no client library).
Callers: ``cli.client`` (sends it as ``Authorization: Bearer``), ``cli.auth`` (``login``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV", "path", "read", "write"]

ENV = "KEDGE_TOKEN"


def path() -> Path:
    """The token file of this user."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kedge" / "token"


def read() -> str | None:
    """The token a remote verb sends: ``KEDGE_TOKEN``, else the file's, else None."""
    found = os.environ.get(ENV, "").strip()
    if found:
        return found
    try:
        return path().read_text(encoding="utf-8").strip() or None
    except OSError:  # no file (not logged in) or not readable: the verb goes anonymous
        return None


def write(token: str) -> Path:
    """Keep ``token`` for this user: mode 0600 from the start (never world-readable for a
    moment), replacing the file whole so that a crash leaves the old token or the new."""
    target = path()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # whatever the umask
        os.write(descriptor, (token + "\n").encode("utf-8"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(partial, target)
    return target
