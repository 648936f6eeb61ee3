"""The inputs of a compose project, as one fingerprint that changes whenever its spec may.

``kedge up`` records, with each stack it converged, the fingerprint of the files it loaded
(``-f`` in order, or those compose discovers: ``discovery``); the next ``kedge up`` of the
same project compares fingerprints before loading anything, and loads (and validates, and
digests) only when they differ. So the fingerprint must change whenever
``loader.load_project`` could return another spec:

- the Kedge release (the loader and the planner may have changed) and the rule's own version
  (``kedge-inputs/2``: the stack is named by compose's project rules), each file's absolute
  path (the stack name — the first one's folder's — and relative paths come from it) and its
  bytes;
- the ``.env`` of the first file's folder and, for discovered files, of the working
  directory (a ``.env`` there that names ``COMPOSE_FILE`` gives no fingerprint; neither does
  ``COMPOSE_FILE`` in the environment when no ``-f`` is given);
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

Only files, or none, are fingerprinted: ``kedge up`` with ``-p``, ``--env-file`` or
``--profile`` records none and its fast path never answers them
(``projects.ProjectOptions.files_only``).

Pure but for reading the files and their ``.env``; the standard library only, as ``cli.quick``
imports it before anything else.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kedge import __version__
from kedge.specs import discovery

__all__ = ["fingerprint", "project_fingerprint"]

_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
#: words that make a spec read files other than itself and its .env
_READS_FILES = frozenset(
    {b"include", b"extends", b"env_file", b"label_file", b"build", b"file", b"dockerfile"}
)


def fingerprint(path: Path | str, *, env: Mapping[str, str] | None = None) -> str | None:
    """The fingerprint of the project of the one file ``path`` (``kedge up -f PATH``)."""
    return project_fingerprint([path], cwd=Path.cwd(), env=env)


def project_fingerprint(
    files: Sequence[Path | str], *, cwd: Path, env: Mapping[str, str] | None = None
) -> str | None:
    """The sha256 of what loading the project of ``files`` depends on (``-f`` in order; none:
    the files compose discovers from ``cwd``), or None when it cannot be told."""
    env = os.environ if env is None else env
    found = _files(files, cwd=cwd, env=env)
    if found is None:
        return None
    paths, dotenvs = found
    try:
        contents = [path.read_bytes() for path in paths]
        texts = [_read_optional(dotenv) for dotenv in dotenvs]
    except OSError:
        return None
    words = set().union(*(_WORD.findall(content) for content in contents))
    if words & _READS_FILES:
        return None
    for text in texts:
        words |= set(_WORD.findall(text or b""))
        if not files and text is not None and b"COMPOSE_FILE" in text:
            return None  # a .env that chooses the files: the full path reads it
    names = {w.decode() for w in words} | {n for n in env if n.startswith("COMPOSE_")}
    summary = hashlib.sha256()
    _add(summary, b"kedge-inputs/2", __version__.encode())
    for path, content in zip(paths, contents, strict=True):
        _add(summary, str(path).encode(), content)
    for dotenv, text in zip(dotenvs, texts, strict=True):
        seen = b"no .env" if text is None else b".env:" + hashlib.sha256(text).digest()
        _add(summary, str(dotenv).encode(), seen)
    for name in sorted(names):
        value = env.get(name)
        _add(
            summary,
            f"{name}\0{'unset' if value is None else f'={value}'}".encode(
                "utf-8", "surrogateescape"
            ),
        )
    if words & {b"secrets", b"configs"} and b"environment" in words:
        # a secret may be read from one of those variables: kept in the store, the fingerprint
        # must cost a guess as much as the secret's own digest does (digests.value_digest)
        slow = hashlib.scrypt(
            summary.digest(), salt=b"kedge-inputs", n=2**14, r=8, p=1, maxmem=64 * 2**20
        )
        return "scrypt:" + slow.hex()
    return "sha256:" + summary.hexdigest()


def _files(
    files: Sequence[Path | str], *, cwd: Path, env: Mapping[str, str]
) -> tuple[list[Path], list[Path]] | None:
    """The project's files and the ``.env`` files the full path reads (``specs.projects``):
    the first file's, and the working directory's first when the files were discovered."""
    if files:
        paths = [Path(os.path.normpath(cwd / Path(f).expanduser())) for f in files]
        return paths, [paths[0].parent / ".env"]
    if env.get("COMPOSE_FILE"):
        return None
    paths = list(discovery.discover(cwd))
    if not paths:
        return None
    working = cwd / ".env"
    dotenvs = [working] if cwd != paths[0].parent and working.is_file() else []
    return paths, [*dotenvs, paths[0].parent / ".env"]


def _add(summary: Any, *parts: bytes) -> None:
    for part in parts:
        summary.update(len(part).to_bytes(8, "big") + part)


def _read_optional(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
