"""The inputs of a spec file, as one fingerprint that changes whenever the loaded spec may.

``kedge up`` records, with each stack it converged, the fingerprint of the file it loaded;
the next ``kedge up`` of the same file compares fingerprints before loading anything, and
loads (and validates, and digests) only when they differ. So the fingerprint must change
whenever ``loader.load_file`` could return another spec:

- the Kedge release (the loader and the planner may have changed) and the rule's own version
  (``kedge-inputs/2``: the stack is named by compose's project rules), the file's absolute
  path (the stack name — its folder's — and relative paths come from it) and its bytes;
- the ``.env`` beside it;
- every environment variable the file or the ``.env`` could read: each word of their text
  that is a variable name (``${NAME}``, ``$NAME``, and ``environment: [NAME]`` all name it),
  with its value or its absence, plus every ``COMPOSE_*`` variable (``COMPOSE_PROFILES``).

When the spec may read a secret or config from a variable (its words include ``secrets`` or
``configs``, and ``environment``), the fingerprint is a scrypt of that sha256: it is kept in
the store, and must not let a weak secret be guessed faster than its digest in the config
hash allows (``digests.value_digest``).

A spec that can read any other file — ``include``, ``extends``, ``env_file``,
``label_file``, file-based secrets and configs, a ``build`` context — has no fingerprint
(``None``): those files are not hashed here, so such a spec is always loaded. The test is on
the words of the text, so it errs only towards loading.

Pure but for reading the file and its ``.env``; the standard library only, as ``cli.quick``
imports it before anything else.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path

from kedge import __version__

__all__ = ["fingerprint"]

_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
#: words that make a spec read files other than itself and its .env
_READS_FILES = frozenset(
    {b"include", b"extends", b"env_file", b"label_file", b"build", b"file", b"dockerfile"}
)


def fingerprint(path: Path | str, *, env: Mapping[str, str] | None = None) -> str | None:
    """The sha256 of what loading ``path`` depends on, or None when it cannot be told."""
    env = os.environ if env is None else env
    path = Path(path).absolute()
    try:
        content = path.read_bytes()
        dotenv = _read_optional(path.parent / ".env")
    except OSError:
        return None
    words = set(_WORD.findall(content))
    if words & _READS_FILES:
        return None
    if dotenv is not None:
        words |= set(_WORD.findall(dotenv))
    names = {w.decode() for w in words} | {n for n in env if n.startswith("COMPOSE_")}
    summary = hashlib.sha256()
    for part in (b"kedge-inputs/2", __version__.encode(), str(path).encode(), content):
        summary.update(len(part).to_bytes(8, "big") + part)
    summary.update(b"no .env" if dotenv is None else b".env:" + hashlib.sha256(dotenv).digest())
    for name in sorted(names):
        value = env.get(name)
        entry = (f"{name}\0" + ("unset" if value is None else f"={value}")).encode(
            "utf-8", "surrogateescape"
        )
        summary.update(len(entry).to_bytes(8, "big") + entry)
    if words & {b"secrets", b"configs"} and b"environment" in words:
        # a secret may be read from one of those variables: kept in the store, the fingerprint
        # must cost a guess as much as the secret's own digest does (digests.value_digest)
        slow = hashlib.scrypt(
            summary.digest(), salt=b"kedge-inputs", n=2**14, r=8, p=1, maxmem=64 * 2**20
        )
        return "scrypt:" + slow.hex()
    return "sha256:" + summary.hexdigest()


def _read_optional(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
