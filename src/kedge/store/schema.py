"""The store's schema, as sqlite-utils ``Migrations`` applied in order from an empty file.

The schema version is the number of applied migrations. Rules that must hold whatever code
writes are made constraints here: versions can be neither updated nor deleted, at most one
command per stack is RUNNING (a unique partial index), a final command never changes status.
Callers: ``kedge.store.sqlite`` (applies them on open) and ``kedge db check`` (reads them).
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

from kedge.store import migrations

__all__ = ["MIGRATIONS", "migration_names"]

MIGRATIONS = Migrations(migrations.SET)

_FINAL = "('DONE', 'FAILED', 'CANCELLED')"

_INITIAL = [
    """
    CREATE TABLE stacks (
        name TEXT PRIMARY KEY,
        sync TEXT NOT NULL DEFAULT 'unknown',
        health TEXT NOT NULL DEFAULT 'unknown',
        applied_version INTEGER,
        desired_version INTEGER,
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE versions (
        stack TEXT NOT NULL REFERENCES stacks(name),
        number INTEGER NOT NULL CHECK (number >= 1),
        digest TEXT NOT NULL,
        document TEXT NOT NULL,
        declared INTEGER,
        source TEXT NOT NULL,
        created_by TEXT NOT NULL DEFAULT '',
        "commit" TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (stack, number),
        UNIQUE (stack, digest)
    )
    """,
    """
    CREATE TRIGGER versions_are_immutable BEFORE UPDATE ON versions
    BEGIN SELECT RAISE(ABORT, 'stack versions are immutable'); END
    """,
    """
    CREATE TRIGGER versions_are_kept BEFORE DELETE ON versions
    BEGIN SELECT RAISE(ABORT, 'stack versions are never deleted'); END
    """,
    """
    CREATE TABLE commands (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        stack TEXT NOT NULL REFERENCES stacks(name),
        type TEXT NOT NULL
            CHECK (type IN ('APPLY', 'ROLLBACK', 'DELETE', 'DEPLOY', 'RECONCILE')),
        status TEXT NOT NULL
            CHECK (status IN ('PENDING', 'RUNNING', 'DONE', 'FAILED', 'CANCELLED')),
        version INTEGER,
        reason TEXT NOT NULL,
        created_by TEXT NOT NULL DEFAULT '',
        options TEXT NOT NULL DEFAULT '{}',
        attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
        retry_of INTEGER REFERENCES commands(id) ON DELETE SET NULL,
        created_at TEXT NOT NULL,
        not_before TEXT,
        started_at TEXT,
        finished_at TEXT,
        heartbeat_at TEXT,
        worker TEXT,
        token INTEGER NOT NULL DEFAULT 0,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        plan TEXT,
        outcome TEXT,
        actions INTEGER,
        FOREIGN KEY (stack, version) REFERENCES versions(stack, number)
    )
    """,
    # The invariant "at most one RUNNING command per stack", kept by the database.
    "CREATE UNIQUE INDEX commands_one_running_per_stack ON commands(stack)"
    " WHERE status = 'RUNNING'",
    "CREATE INDEX commands_pending ON commands(stack, id) WHERE status = 'PENDING'",
    "CREATE INDEX commands_by_stack ON commands(stack, id)",
    "CREATE INDEX commands_by_status ON commands(status, id)",
    "CREATE INDEX commands_by_created ON commands(created_at, id)",
    "CREATE INDEX commands_retry_of ON commands(retry_of) WHERE retry_of IS NOT NULL",
    f"""
    CREATE TRIGGER commands_final_is_final BEFORE UPDATE OF status ON commands
    WHEN OLD.status IN {_FINAL} AND NEW.status IS NOT OLD.status
    BEGIN SELECT RAISE(ABORT, 'a finished command never changes status'); END
    """,
    """
    CREATE TABLE command_logs (
        command_id INTEGER NOT NULL REFERENCES commands(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL CHECK (seq >= 1),
        at TEXT NOT NULL,
        level TEXT NOT NULL,
        message TEXT NOT NULL,
        fields TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (command_id, seq)
    ) WITHOUT ROWID
    """,
    # Fencing tokens come from one counter so that every claim gets a larger token than any
    # claim before it, even after old commands are pruned.
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    "INSERT INTO counters (name, value) VALUES ('fencing_token', 0)",
]


@MIGRATIONS(name=migrations.INITIAL)
def create_initial(db: sqlite_utils.Database) -> None:
    for statement in _INITIAL:
        db.execute(statement)


@MIGRATIONS(name=migrations.PENDING_IN_ORDER)
def index_pending_in_order(db: sqlite_utils.Database) -> None:
    """Claims scan PENDING commands oldest first; this index holds just those."""
    db.execute("CREATE INDEX commands_pending_in_order ON commands(id) WHERE status = 'PENDING'")


@MIGRATIONS(name=migrations.CONVERGED)
def create_converged(db: sqlite_utils.Database) -> None:
    """What ``kedge up`` last saw converged, per stack: its no-op fast path (``converged``)."""
    db.execute(
        """
        CREATE TABLE converged (
            stack TEXT PRIMARY KEY REFERENCES stacks(name),
            inputs TEXT NOT NULL,
            version INTEGER NOT NULL,
            observed TEXT NOT NULL,
            probe TEXT NOT NULL DEFAULT '{}',
            command_id INTEGER NOT NULL,
            at TEXT NOT NULL,
            FOREIGN KEY (stack, version) REFERENCES versions(stack, number)
        )
        """
    )


@MIGRATIONS(name=migrations.CONVERGED_WARNINGS)
def add_converged_warnings(db: sqlite_utils.Database) -> None:
    """The load warnings of a converged row's spec, which its fast no-ops print again."""
    db.execute("ALTER TABLE converged ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]'")


@MIGRATIONS(name=migrations.TOKENS)
def create_tokens(db: sqlite_utils.Database) -> None:
    """Kedge's own API tokens (``store.tokens``): the SHA-256 of each secret, never the secret."""
    db.execute(
        """
        CREATE TABLE tokens (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
            stacks TEXT NOT NULL,
            digest TEXT NOT NULL UNIQUE CHECK (length(digest) = 64),
            created_at TEXT NOT NULL,
            expires_at TEXT,
            revoked_at TEXT,
            last_used_at TEXT
        )
        """
    )


@MIGRATIONS(name=migrations.AUDIT)
def create_audit(db: sqlite_utils.Database) -> None:
    """The audit trail (``store.audit``): who did what, from where, allowed or refused."""
    db.execute(
        """
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            identity TEXT NOT NULL,
            identity_kind TEXT NOT NULL,
            token_name TEXT,
            role TEXT,
            client TEXT NOT NULL,
            method TEXT NOT NULL,
            route TEXT NOT NULL,
            stack TEXT,
            verb TEXT,
            outcome TEXT NOT NULL CHECK (outcome IN ('allowed', 'refused')),
            status INTEGER NOT NULL,
            reason TEXT,
            command_id INTEGER,
            version INTEGER
        )
        """
    )
    db.execute("CREATE INDEX audit_by_stack ON audit(stack, id)")
    db.execute("CREATE INDEX audit_by_identity ON audit(identity, id)")


def migration_names() -> list[str]:
    """The names of all migrations this Kedge knows, in order."""
    return [migration.name for migration in MIGRATIONS._migrations]
