"""Kedge's store on one SQLite file: the ``Store`` protocol's first backend.

``SqliteStore.open`` opens (or creates) the file in WAL mode with a busy timeout and the
chosen ``Durability``, and applies the schema's migrations under the write lock, so several
processes may open the same file at once. ``backup`` copies the file with SQLite's online
backup API while others keep writing; ``check`` runs ``PRAGMA integrity_check`` and
compares the applied migrations with the known ones. Callers: ``__main__`` (the
composition root), ``kedge db`` and the tests.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

from kedge import errors
from kedge.store import schema
from kedge.store.audit import SqliteAudit
from kedge.store.database import Database, query_all
from kedge.store.protocol import Store
from kedge.store.queue import SqliteCommands
from kedge.store.records import CheckReport, Clock, Durability, utc_now
from kedge.store.stacks import SqliteStacks
from kedge.store.tokens import SqliteTokens
from kedge.store.versions import SqliteVersions

__all__ = ["SqliteStore", "open_store"]


class SqliteStore:
    """The store on a SQLite file; share one per process (it is thread-safe)."""

    def __init__(self, database: Database, *, clock: Clock) -> None:
        self._database = database
        self._stacks = SqliteStacks(database, clock=clock)
        self._versions = SqliteVersions(database, clock=clock)
        self._commands = SqliteCommands(database, clock=clock)
        self._tokens = SqliteTokens(database, clock=clock)
        self._audit = SqliteAudit(database, clock=clock)

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        clock: Clock = utc_now,
        durability: Durability = Durability.NORMAL,
        busy_timeout: float = 5.0,
        retry_for: float = 60.0,
        migrate: bool = True,
    ) -> SqliteStore:
        """Open the store at ``path``, creating it and migrating its schema when ``migrate``;
        without ``migrate`` the file must exist (``NotFoundError``) and is not changed."""
        path = Path(path)
        if not migrate and not path.exists():
            raise errors.NotFoundError(f"no Kedge database at {path}")
        database = Database(
            path,
            durability=durability,
            busy_timeout=busy_timeout,
            retry_for=retry_for,
            wal=migrate,
        )
        if migrate:
            database.write(schema.MIGRATIONS.apply)
        return cls(database, clock=clock)

    @property
    def stacks(self) -> SqliteStacks:
        return self._stacks

    @property
    def versions(self) -> SqliteVersions:
        return self._versions

    @property
    def commands(self) -> SqliteCommands:
        return self._commands

    @property
    def tokens(self) -> SqliteTokens:
        return self._tokens

    @property
    def audit(self) -> SqliteAudit:
        return self._audit

    @property
    def path(self) -> Path:
        return self._database.path

    def backup(self, path: Path) -> None:
        """Copy the store to ``path`` (replacing it) with SQLite's online backup API.

        The copy is made in one step from a read snapshot, so it is consistent; in WAL mode
        the snapshot does not block writers. It is written beside ``path`` and renamed into
        place, so ``path`` never holds half a backup.
        """
        path = Path(path)
        partial = path.with_name(f".{path.name}.partial")

        def copy(db: sqlite_utils.Database) -> None:
            partial.unlink(missing_ok=True)
            target = sqlite3.connect(str(partial))
            try:
                db.conn.backup(target, pages=-1)
                target.execute("PRAGMA journal_mode=DELETE")
            finally:
                target.close()
            os.replace(partial, path)

        self._database.run_outside_transaction(copy)

    def check(self) -> CheckReport:
        """Integrity problems (none when healthy) and the schema version."""

        def inspect(db: sqlite_utils.Database) -> CheckReport:
            try:
                rows = query_all(db, "PRAGMA integrity_check")
            except sqlite3.DatabaseError as exc:  # damage so bad the check cannot finish
                if exc.sqlite_errorcode != sqlite3.SQLITE_CORRUPT:
                    raise
                rows = [{"integrity_check": f"the check stopped: {exc}"}]
            problems = [str(v) for row in rows for v in row.values() if v != "ok"]
            problems += [
                f"foreign key broken: {row}" for row in query_all(db, "PRAGMA foreign_key_check")
            ]
            applied = [m.name for m in schema.MIGRATIONS.applied(db)]
            known = schema.migration_names()
            if not applied:
                problems.append("the file holds no Kedge schema: no Kedge migration was applied")
            return CheckReport(
                problems=problems,
                schema_version=len(applied),
                latest_schema_version=len(known),
                pending_migrations=[name for name in known if name not in applied],
                unknown_migrations=[name for name in applied if name not in known],
            )

        return self._database.run_outside_transaction(inspect)

    def settings(self) -> dict[str, Any]:
        """The connection's journal mode, synchronous level, busy timeout and foreign keys."""

        def read(db: sqlite_utils.Database) -> dict[str, Any]:
            names = ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            return {name: db.execute(f"PRAGMA {name}").fetchone()[0] for name in names}

        return self._database.run_outside_transaction(read)

    def close(self) -> None:
        self._database.close()


def open_store(
    path: Path | str, *, clock: Clock = utc_now, durability: Durability = Durability.NORMAL
) -> Store:
    """Open the SQLite store at ``path`` as a ``Store`` (mypy checks that it keeps the protocol)."""
    return SqliteStore.open(path, clock=clock, durability=durability)
