"""The durable command queue in SQLite: the ``CommandStore`` of ``kedge.store.sqlite``.

Each write is one ``BEGIN IMMEDIATE`` transaction, so enqueue-and-supersede, claim, finish
with its retry, and recovery each happen whole or not at all. The holder's writes check the
fencing token in the same statement that writes. The read queries live in
``kedge.store.history``; the text of the writes another writer shares (a command row, a log
line, the fencing token: ``kedge up``'s fast no-op, ``store.converged``) in
``kedge.store.statements``, which imports the standard library alone. Callers: the
controller's sources (enqueue), worker (claim, heartbeat, log, record_plan, finish) and
recovery (recover, prune); the API (enqueue, cancel).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from kedge import errors
from kedge.specs.commands import (
    FINAL_STATUSES,
    Command,
    CommandReason,
    CommandStatus,
    CommandType,
)
from kedge.store import history, statements
from kedge.store.database import Database, query_all, query_one, render_time
from kedge.store.records import (
    Clock,
    Finished,
    LogLine,
    Page,
    Pruned,
    RetentionPolicy,
    RetryPolicy,
)
from kedge.store.stacks import ensure_stack, set_status_in

__all__ = ["SUPERSEDING", "SqliteCommands", "enqueue_in"]

#: The types of command that carry a stack's desired state: only the newest one matters.
SUPERSEDING = frozenset({CommandType.APPLY, CommandType.ROLLBACK, CommandType.RECONCILE})
_SUPERSEDING_SQL = "(" + ", ".join(f"'{kind}'" for kind in sorted(SUPERSEDING)) + ")"

# The oldest PENDING command of each stack is its head; a head may run when its not-before
# time has passed and its stack has no RUNNING command. The oldest such head is claimed:
# PENDING commands are scanned oldest first and the first that qualifies is taken. A scan
# passes over only the PENDING commands of busy or waiting stacks, and those stay few,
# because a new APPLY/ROLLBACK/RECONCILE supersedes the older ones of its stack.
_CLAIM = """
UPDATE commands
SET status = 'RUNNING', worker = :worker, started_at = :now, heartbeat_at = :now,
    token = (SELECT value + 1 FROM counters WHERE name = 'fencing_token')
WHERE id = (
    SELECT c.id FROM commands AS c INDEXED BY commands_pending_in_order
    WHERE c.status = 'PENDING'
      AND (c.not_before IS NULL OR c.not_before <= :now)
      AND NOT EXISTS (
        SELECT 1 FROM commands AS r WHERE r.stack = c.stack AND r.status = 'RUNNING'
      )
      AND NOT EXISTS (
        SELECT 1 FROM commands AS o INDEXED BY commands_pending
        WHERE o.stack = c.stack AND o.status = 'PENDING' AND o.id < c.id
      )
    ORDER BY c.id LIMIT 1
)
RETURNING *
"""


_BUSY = "SELECT 1 FROM commands WHERE stack = ? AND status IN ('PENDING', 'RUNNING') LIMIT 1"


class SqliteCommands:
    """Enqueue, claim, hold, finish, cancel, recover and prune commands; read them back."""

    def __init__(self, database: Database, *, clock: Clock) -> None:
        self._database = database
        self._clock = clock

    # Each write reads the clock inside its transaction, after the write lock is taken, so
    # that the times it keeps follow the order in which writes commit.
    def _now(self) -> datetime:
        return self._clock()

    def _stamp(self) -> str:
        return render_time(self._clock())

    def enqueue(
        self,
        stack: str,
        type: CommandType,
        *,
        reason: CommandReason,
        version: int | None = None,
        created_by: str = "",
        options: Mapping[str, Any] | None = None,
        not_before: datetime | None = None,
        desired: bool = False,
    ) -> Command:
        def write(db: sqlite_utils.Database) -> Command:
            now = self._now()
            command = enqueue_in(
                db,
                stack,
                type,
                reason=reason,
                version=version,
                created_by=created_by,
                options=options,
                not_before=not_before,
                now=now,
            )
            if desired:  # what the stack should run, in the same transaction as the command
                set_status_in(db, stack, {"desired_version": version}, now=render_time(now))
            return command

        return self._database.write(write)

    def enqueue_repair(
        self,
        stack: str,
        *,
        version: int,
        reason: CommandReason,
        created_by: str = "",
        not_before: datetime | None = None,
    ) -> Command | None:
        def write(db: sqlite_utils.Database) -> Command | None:
            busy = query_one(db, _BUSY, [stack])
            stack_row = query_one(db, "SELECT applied_version FROM stacks WHERE name = ?", [stack])
            if busy is not None or stack_row is None or stack_row["applied_version"] != version:
                return None
            return enqueue_in(
                db,
                stack,
                CommandType.RECONCILE,
                reason=reason,
                version=version,
                created_by=created_by,
                options=None,
                not_before=not_before,
                now=self._now(),
            )

        return self._database.write(write)

    def claim(self, worker: str) -> Command | None:
        def write(db: sqlite_utils.Database) -> Command | None:
            row = query_one(db, _CLAIM, {"worker": worker, "now": render_time(self._now())})
            if row is None:
                return None
            db.execute("UPDATE counters SET value = ? WHERE name = 'fencing_token'", [row["token"]])
            return history.command_from_row(row)

        return self._database.write(write)

    def heartbeat(self, command_id: int, *, token: int) -> Command:
        return self._database.write(
            lambda db: _hold(db, command_id, token=token, changes={"heartbeat_at": self._stamp()})
        )

    def record_plan(self, command_id: int, *, token: int, plan: str) -> Command:
        return self._database.write(
            lambda db: _hold(
                db, command_id, token=token, changes={"plan": plan, "heartbeat_at": self._stamp()}
            )
        )

    def log(
        self,
        command_id: int,
        *,
        token: int,
        message: str,
        level: str = "info",
        fields: Mapping[str, Any] | None = None,
    ) -> LogLine:
        extra = statements.encode_fields(fields)

        def write(db: sqlite_utils.Database) -> LogLine:
            now = self._stamp()
            _hold(db, command_id, token=token, changes={"heartbeat_at": now})
            row = query_one(
                db, statements.APPEND_LOG, [command_id, now, level, message, extra, command_id]
            )
            assert row is not None
            return history.log_line_from_row(row)

        return self._database.write(write)

    def finish(
        self,
        command_id: int,
        *,
        token: int,
        status: CommandStatus,
        error: str | None = None,
        outcome: str | None = None,
        actions: int | None = None,
        retry: RetryPolicy | None = None,
    ) -> Finished:
        if status not in FINAL_STATUSES:
            raise errors.ConflictError(
                f"command #{command_id} can only finish as DONE, FAILED or CANCELLED, not {status}"
            )

        def write(db: sqlite_utils.Database) -> Finished:
            now = self._now()
            changes = {
                "status": CommandStatus(status).value,
                "finished_at": render_time(now),
                "heartbeat_at": render_time(now),
                "error": error,
                "outcome": outcome,
                "actions": actions,
            }
            command = _hold(db, command_id, token=token, changes=changes)
            if command.status is CommandStatus.FAILED and retry is not None:
                return _retry(db, command, policy=retry, now=now)
            _applied(db, command, now=now)
            return Finished(command=command)

        return self._database.write(write)

    def cancel(self, command_id: int, *, by: str = "") -> Command:
        def write(db: sqlite_utils.Database) -> Command:
            now = self._stamp()
            command = _get(db, command_id)
            changes: dict[str, Any]
            if command.status is CommandStatus.PENDING:
                changes = {
                    "status": CommandStatus.CANCELLED.value,
                    "finished_at": now,
                    "outcome": f"cancelled by {by}" if by else "cancelled",
                }
            elif command.status is CommandStatus.RUNNING:
                changes = {"cancel_requested": 1}
            else:
                raise errors.ConflictError(
                    f"command #{command_id} is already {command.status}; only a PENDING or"
                    " RUNNING command can be cancelled"
                )
            return _update(db, command_id, changes)

        return self._database.write(write)

    def recover(
        self, *, lease: timedelta, policy: RetryPolicy, converge: RetryPolicy | None = None
    ) -> list[Finished]:
        def write(db: sqlite_utils.Database) -> list[Finished]:
            now = self._now()
            stale = query_all(
                db,
                "SELECT id, worker, heartbeat_at FROM commands"
                " WHERE status = 'RUNNING' AND heartbeat_at < ? ORDER BY id",
                [render_time(now - lease)],
            )
            resolved = []
            for row in stale:
                error = (
                    f"worker lost: no heartbeat from {row['worker']} since {row['heartbeat_at']}"
                )
                changes = {
                    "status": CommandStatus.FAILED.value,
                    "finished_at": render_time(now),
                    "error": error,
                }
                command = _update(db, row["id"], changes)
                kept = converge if converge and command.type in SUPERSEDING else policy
                resolved.append(_retry(db, command, policy=kept, now=now))
            return resolved

        return self._database.write(write)

    def prune(self, policy: RetentionPolicy) -> Pruned:
        def write(db: sqlite_utils.Database) -> Pruned:
            now = self._now()
            logs_before = render_time(now - policy.logs_for)
            noop_before = render_time(now - policy.noop_reconciles_for)
            noop = (
                "FROM commands WHERE type = 'RECONCILE' AND status = 'DONE' AND actions = 0"
                " AND finished_at < ?"
            )
            lines = db.execute(
                "DELETE FROM command_logs WHERE command_id IN (SELECT id FROM commands"
                " WHERE status IN ('DONE', 'FAILED', 'CANCELLED') AND finished_at < ?"
                f" UNION SELECT id {noop})",
                [logs_before, noop_before],
            ).rowcount
            commands = db.execute(f"DELETE {noop}", [noop_before]).rowcount
            return Pruned(log_lines=lines, commands=commands)

        return self._database.write(write)

    def get(self, command_id: int) -> Command:
        return self._database.read(lambda db: _get(db, command_id))

    def logs(self, command_id: int, *, after: int = 0, limit: int = 1000) -> list[LogLine]:
        return self._database.read(
            lambda db: history.list_log_lines(db, command_id, after=after, limit=limit)
        )

    def latest(self, stacks: Sequence[str]) -> dict[str, Command]:
        names = sorted(set(stacks))
        if not names:
            return {}
        # one index seek per stack (MAX over commands_by_stack), not a scan of their commands
        values = ", ".join("(?)" for _ in names)
        rows = self._database.read(
            lambda db: query_all(
                db,
                "SELECT * FROM commands WHERE id IN (SELECT (SELECT MAX(id) FROM commands"
                f" WHERE stack = v.column1) FROM (VALUES {values}) AS v)",
                names,
            )
        )
        return {row["stack"]: history.command_from_row(row) for row in rows}

    def list(
        self,
        *,
        stack: str | None = None,
        status: CommandStatus | None = None,
        type: CommandType | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Command]:
        query = history.CommandQuery(
            stack=stack, status=status, type=type, since=since, until=until
        )
        return self._database.read(
            lambda db: history.list_commands(db, query, limit=limit, cursor=cursor)
        )


def enqueue_in(
    db: sqlite_utils.Database,
    stack: str,
    type: CommandType,
    *,
    reason: CommandReason,
    version: int | None,
    created_by: str,
    options: Mapping[str, Any] | None,
    not_before: datetime | None,
    now: datetime,
) -> Command:
    """Enqueue inside the caller's transaction, superseding older PENDING commands."""
    ensure_stack(db, stack, now=render_time(now))
    if version is not None:
        _must_have_version(db, stack, version)
    fields = {
        "stack": stack,
        "type": CommandType(type).value,
        "version": version,
        "reason": CommandReason(reason).value,
        "created_by": created_by,
        "options": statements.encode_options(options),
        "not_before": None if not_before is None else render_time(not_before),
    }
    command = _insert(db, fields, now=now)
    # a newer desired state replaces older ones; a DELETE also replaces retries still waiting
    # for their backoff, which would otherwise hold it back for up to the backoff's cap
    replaced = ""
    if command.type in SUPERSEDING:
        replaced = f"type IN {_SUPERSEDING_SQL}"
    elif command.type is CommandType.DELETE:
        replaced = f"type IN {_SUPERSEDING_SQL} AND reason = '{CommandReason.RETRY.value}'"
    if replaced:
        db.execute(
            "UPDATE commands SET status = 'CANCELLED', finished_at = ?, outcome = ?"
            f" WHERE stack = ? AND status = 'PENDING' AND {replaced} AND id < ?",
            [render_time(now), f"superseded by #{command.id}", stack, command.id],
        )
    return command


def _applied(db: sqlite_utils.Database, command: Command, *, now: datetime) -> None:
    """What a DONE pass leaves applied, in its finish's transaction: a repair checks the
    applied version in its own (``enqueue_repair``), so no window may open between a pass's
    end and the version it applied, where a repair of the older version would slip in and
    undo it (the crash test caught one while the worker looked at the stack after a pass)."""
    if command.status is not CommandStatus.DONE:
        return
    if command.type in SUPERSEDING and command.version is not None:
        applied: dict[str, Any] = {"applied_version": command.version, "last_error": None}
    elif command.type is CommandType.DELETE:
        applied = {"applied_version": None, "last_error": None}
    else:
        return
    set_status_in(db, command.stack, applied, now=render_time(now))


def _must_have_version(db: sqlite_utils.Database, stack: str, version: int) -> None:
    row = query_one(db, "SELECT 1 FROM versions WHERE stack = ? AND number = ?", [stack, version])
    if row is None:
        raise errors.NotFoundError(
            f"stack {stack!r} has no version {version}; record the version before a command"
            " names it"
        )


def _insert(db: sqlite_utils.Database, fields: Mapping[str, Any], *, now: datetime) -> Command:
    row = {**fields, "status": CommandStatus.PENDING.value, "created_at": render_time(now)}
    inserted = query_one(db, statements.insert_command(row), list(row.values()))
    assert inserted is not None
    return history.command_from_row(inserted)


def _get(db: sqlite_utils.Database, command_id: int) -> Command:
    row = query_one(db, "SELECT * FROM commands WHERE id = ?", [command_id])
    if row is None:
        raise errors.NotFoundError(f"no command #{command_id}")
    return history.command_from_row(row)


def _update(db: sqlite_utils.Database, command_id: int, changes: Mapping[str, Any]) -> Command:
    assignments = ", ".join(f"{name} = ?" for name in changes)
    row = query_one(
        db,
        f"UPDATE commands SET {assignments} WHERE id = ? RETURNING *",
        [*changes.values(), command_id],
    )
    if row is None:
        raise errors.NotFoundError(f"no command #{command_id}")
    return history.command_from_row(row)


def _hold(
    db: sqlite_utils.Database, command_id: int, *, token: int, changes: Mapping[str, Any]
) -> Command:
    """Write ``changes`` if the caller holds the command with the current token, else
    ``FencingError``; checking and writing are one statement."""
    assignments = ", ".join(f"{name} = ?" for name in changes)
    row = query_one(
        db,
        f"UPDATE commands SET {assignments}"
        " WHERE id = ? AND status = 'RUNNING' AND token = ? RETURNING *",
        [*changes.values(), command_id, token],
    )
    if row is not None:
        return history.command_from_row(row)
    command = _get(db, command_id)
    if command.status is not CommandStatus.RUNNING:
        raise errors.FencingError(
            f"command #{command_id} is {command.status}, no longer RUNNING: the holder with"
            f" token {token} lost it ({command.error or command.outcome or 'no reason kept'})"
        )
    raise errors.FencingError(
        f"command #{command_id} is held with token {command.token} by {command.worker};"
        f" token {token} is stale"
    )


def _retry(
    db: sqlite_utils.Database, command: Command, *, policy: RetryPolicy, now: datetime
) -> Finished:
    """Enqueue the retry of a FAILED command when the policy allows it and nothing newer is
    queued for its stack (a newer command carries newer intent, so it stands)."""
    if not policy.allows_retry(command.attempt):
        return Finished(command=command)
    newer = query_one(
        db,
        "SELECT min(id) AS id FROM commands WHERE stack = ? AND status = 'PENDING' AND id > ?",
        [command.stack, command.id],
    )
    if newer is not None and newer["id"] is not None:
        return Finished(command=command)
    fields = {
        "stack": command.stack,
        "type": command.type.value,
        "version": command.version,
        "reason": CommandReason.RETRY.value,
        "created_by": f"retry policy (attempt {command.attempt} failed)",
        "options": statements.encode_options(command.options),
        "attempt": command.attempt + 1,
        "retry_of": command.id,
        "not_before": render_time(now + policy.delay(command.attempt)),
    }
    return Finished(command=command, retry=_insert(db, fields, now=now))
