"""``kedge up``'s no-op fast path: nothing changed, so nothing is loaded.

``kedge up [-f FILE]...`` in a CI job or a timer mostly finds nothing to do. The full path pays
for Python's imports (typer, pydantic's compose models, docker-py, sqlite-utils) before it
can say so; this one uses the standard library alone:

1. the fingerprint of the project's inputs (``specs.inputs``: the files given, or those
   compose discovers) — None for a spec that reads other files, which always takes the
   full path;
2. the converged row those inputs made (``store.converged.recall``): the version, what Docker
   had then, and the command that saw it, still the stack's newest;
3. a peek at Docker with the same list calls as a pass's observe (``reconcilers.peek``);
4. when Docker's fingerprint is the row's, a DONE command with no actions is recorded
   (``store.converged.record_noop``) and printed as a full pass prints it.

Anything else — other options (``-p``, ``--env-file``, ``--profile``: ``kedge up``
remembers no pass for them), no row, another fingerprint, a daemon that is not a local
socket, any error — returns None and ``kedge.cli.entry`` runs the full verb, which says
properly what is wrong.
``KEDGE_FULL_PASS=1`` turns the fast path off.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from pathlib import Path

from kedge import errors
from kedge.reconcilers import peek
from kedge.specs import inputs
from kedge.store import converged

__all__ = ["up"]


def up(args: Sequence[str]) -> int | None:
    """Run ``kedge up ARGS`` if nothing is to be done; None when the full verb must run."""
    parsed = _parse(args)
    if parsed is None or os.environ.get("KEDGE_FULL_PASS"):
        return None
    files, db, wait = parsed
    fingerprint = inputs.project_fingerprint(files, cwd=Path.cwd())
    if fingerprint is None:
        return None
    try:
        row = converged.recall(db, inputs=fingerprint)
        if row is None:
            return None
        looker = peek.Peek.from_env()
        if looker is None:
            return None
        try:
            seen = looker.stack(row.stack, row.probe)
        finally:
            looker.close()
        if seen != row.observed:
            return None
        command_id = converged.record_noop(
            db,
            row,
            worker=f"cli:{socket.gethostname()}:{os.getpid()}",
            created_by=f"cli:{os.environ.get('USER', '')}".rstrip(":"),
            options={"wait": True} if wait else {},
        )
    except errors.KedgeError:  # peek and converged translate their failures; the full verb
        return None  # then says properly what is wrong
    if command_id is None:
        return None
    for warning in row.warnings:
        print(f"warning: {warning}")
    print(f"stack {row.stack}: version {row.version} (unchanged)")
    print(converged.NOOP_LOG)
    print(f"command #{command_id} done: 0 actions in 0.00 s")
    return 0


def _parse(args: Sequence[str]) -> tuple[list[str], str, bool] | None:
    """``-f/--file FILE`` (none, one or several), ``--db DB`` and ``--wait/--no-wait``, as
    the full verb takes them; None for anything else: ``-p``, ``--env-file``, ``--profile``,
    ``--help``."""
    files: list[str] = []
    db = os.environ.get("KEDGE_DB") or "kedge.db"
    wait = False
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("--wait", "--no-wait"):
            wait = arg == "--wait"
            continue
        if arg in ("-f", "--file", "--db") and rest:
            name, value = arg, rest.pop(0)
        elif arg.startswith(("--file=", "--db=")):
            name, _, value = arg.partition("=")
        else:
            return None
        if name == "--db":
            db = value
        else:
            files.append(value)
    return files, db, wait
