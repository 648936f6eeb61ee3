"""What ``kedge up`` last saw converged, per stack, and the no-op pass it allows.

After a ``kedge up`` whose command is DONE, the CLI observes the stack again and, when the
plan from that observation is empty, ``remember``s the stack's row: the fingerprint of the
spec file's inputs (``specs.inputs``), the version they made, the fingerprint of what Docker
had (``reconcilers.listing.fingerprint``), what observing asks besides labelled objects (the
probe), and the command that made it so, and the warnings loading the spec gave (printed
again by each fast no-op, as compose prints them at every run).

The next ``kedge up`` of the same file reads the row (``recall``), peeks at Docker, and when
both fingerprints are the same and the row's command is still the stack's newest, records
a DONE command with no actions (``record_noop``) — the same row, plan and log line a full
pass with an empty plan records — and loads nothing. Any other command of the stack (a
``down``, a rollback, a server's apply) is newer than the row's, so the next ``up`` takes
the full path; so does any store whose migrations are not exactly the ones this module
knows (``store.migrations``).

The standard library's ``sqlite3`` only (``cli.quick`` imports it before anything else);
every write is one ``BEGIN IMMEDIATE`` transaction, like ``store.database``'s. The no-op's
command row and log line are written with the queue's own statements (``store.statements``),
not a copy of them. Every failure of ``sqlite3``, or of a row that cannot be read, is an
``errors.StoreError``, translated here (``_connected``), as ``store.database`` translates
the full store's.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kedge import errors
from kedge.store import migrations, statements

__all__ = ["NOOP_LOG", "Converged", "recall", "record_noop", "remember"]

NOOP_LOG = "planned: nothing to do"


class Converged:
    """One stack's row: with these inputs and this observation, version ``version`` had an
    empty plan, as command ``command_id`` found. (A plain class: ``dataclasses`` costs the
    fast path ``inspect``'s import.)"""

    __slots__ = ("command_id", "inputs", "observed", "probe", "stack", "version", "warnings")

    def __init__(
        self,
        *,
        stack: str,
        inputs: str,
        version: int,
        observed: str,
        probe: Mapping[str, Sequence[str]],
        command_id: int,
        warnings: Sequence[str] = (),
    ) -> None:
        self.stack = stack
        self.inputs = inputs
        self.version = version
        self.observed = observed
        self.probe = probe
        self.command_id = command_id
        self.warnings = tuple(warnings)


@contextmanager
def _connected(path: Path | str) -> Iterator[sqlite3.Connection]:
    """A connection to the store, whose failures (and unreadable rows) are ``StoreError``."""
    try:
        with closing(sqlite3.connect(str(path), timeout=5.0, isolation_level=None)) as db:
            db.execute("PRAGMA foreign_keys = ON")
            yield db
    except (sqlite3.Error, ValueError, LookupError) as exc:
        raise errors.StoreError(f"the store at {path} failed: {exc}") from exc


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _known_schema(db: sqlite3.Connection) -> bool:
    try:
        rows = db.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY id",
            [migrations.SET],
        ).fetchall()
    except sqlite3.Error:
        return False
    return tuple(name for (name,) in rows) == migrations.NAMES


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def remember(path: Path | str, row: Converged) -> None:
    """Keep ``row`` as its stack's converged row (replacing the one before)."""
    with _connected(path) as db, _transaction(db):
        db.execute(
            "INSERT OR REPLACE INTO converged"
            " (stack, inputs, version, observed, probe, command_id, at, warnings)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                row.stack,
                row.inputs,
                row.version,
                row.observed,
                json.dumps(row.probe),
                row.command_id,
                _now(),
                json.dumps(list(row.warnings)),
            ],
        )


def recall(path: Path | str, *, inputs: str) -> Converged | None:
    """The converged row made from these inputs, if the store has one and it still holds."""
    if not Path(path).is_file():
        return None
    with _connected(path) as db:
        if not _known_schema(db):
            return None
        row = db.execute(
            "SELECT stack, inputs, version, observed, probe, command_id, warnings FROM converged"
            " WHERE inputs = ?",
            [inputs],
        ).fetchone()
        if row is None or not _still_holds(db, row[0], row[5]):
            return None
        return Converged(
            stack=row[0],
            inputs=row[1],
            version=row[2],
            observed=row[3],
            probe=json.loads(row[4]),
            command_id=row[5],
            warnings=json.loads(row[6]),
        )


def _still_holds(db: sqlite3.Connection, stack: str, command_id: int) -> bool:
    """The row's command is the stack's newest, and no command waits or runs anywhere
    (a local pass refuses to run beside a server's queue, ``passes.run_now``)."""
    newest = db.execute("SELECT max(id) FROM commands WHERE stack = ?", [stack]).fetchone()
    busy = db.execute(
        "SELECT 1 FROM commands WHERE status IN ('PENDING', 'RUNNING') LIMIT 1"
    ).fetchone()
    return newest is not None and newest[0] == command_id and busy is None


def record_noop(
    path: Path | str,
    converged: Converged,
    *,
    worker: str,
    created_by: str,
    options: Mapping[str, Any],
) -> int | None:
    """Record a DONE APPLY of the row's version with no actions, as a full pass with an empty
    plan would; None (and nothing written) when the row no longer holds."""
    with _connected(path) as db, _transaction(db):
        if not _still_holds(db, converged.stack, converged.command_id):
            return None
        now = _now()
        command = {
            "stack": converged.stack,
            "type": "APPLY",
            "status": "DONE",
            "version": converged.version,
            "reason": "cli",
            "created_by": created_by,
            "options": options,
            "worker": worker,
            "plan": "",
            "outcome": "0 actions in 0.00 s",
            "actions": 0,
        }
        command_id = statements.record_finished(
            db, command, now=now, message=NOOP_LOG, fields={"unchanged_since": converged.command_id}
        )
        db.execute(
            "UPDATE converged SET command_id = ?, at = ? WHERE stack = ?",
            [command_id, now, converged.stack],
        )
    return command_id
