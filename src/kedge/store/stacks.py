"""Stacks and their status in SQLite: the ``StackStore`` of ``kedge.store.sqlite``.

A stack row appears when a version or a command first names it (``ensure_stack``); the
controller then writes its status. Callers: the SQLite store, and its ``versions`` and
``queue`` parts through ``ensure_stack`` (``versions`` also through ``set_status_in``).
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from kedge import errors
from kedge.store.cursors import check_limit, decode_cursor, encode_cursor
from kedge.store.database import Database, query_all, query_one, render_time
from kedge.store.protocol import KEEP, Keep
from kedge.store.records import Clock, Page, StackStatus

__all__ = ["SqliteStacks", "ensure_stack", "set_status_in"]


def ensure_stack(db: sqlite_utils.Database, stack: str, *, now: str) -> None:
    """Create the stack's row if it does not exist yet (inside the caller's transaction)."""
    if not stack:
        raise errors.ConflictError("a stack needs a name; got an empty one")
    db.execute(
        "INSERT INTO stacks (name, created_at, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO NOTHING",
        [stack, now, now],
    )


def set_status_in(
    db: sqlite_utils.Database, stack: str, changes: dict[str, Any], *, now: str
) -> dict[str, Any] | None:
    """Change the given fields of the stack's status inside the caller's transaction."""
    ensure_stack(db, stack, now=now)
    assignments = ", ".join(f"{name} = ?" for name in [*changes, "updated_at"])
    return query_one(
        db,
        f"UPDATE stacks SET {assignments} WHERE name = ? RETURNING *",
        [*changes.values(), now, stack],
    )


def _status(row: dict[str, Any]) -> StackStatus:
    row = dict(row)
    row["stack"] = row.pop("name")
    return StackStatus.model_validate(row)


class SqliteStacks:
    """Stacks by name, with the status the controller last wrote."""

    def __init__(self, database: Database, *, clock: Clock) -> None:
        self._database = database
        self._clock = clock

    def get(self, stack: str) -> StackStatus:
        row = self._database.read(
            lambda db: query_one(db, "SELECT * FROM stacks WHERE name = ?", [stack])
        )
        if row is None:
            raise errors.NotFoundError(f"no stack {stack!r}: no version or command names it")
        return _status(row)

    def list(self, *, limit: int = 50, cursor: str | None = None) -> Page[StackStatus]:
        check_limit(limit)
        after = "" if cursor is None else str(decode_cursor(cursor, "stacks", {}))
        rows = self._database.read(
            lambda db: query_all(
                db,
                "SELECT * FROM stacks WHERE name > ? ORDER BY name LIMIT ?",
                [after, limit + 1],
            )
        )
        items = [_status(row) for row in rows[:limit]]
        more = len(rows) > limit
        return Page(
            items=items,
            next_cursor=encode_cursor("stacks", {}, items[-1].stack) if more else None,
        )

    def set_status(
        self,
        stack: str,
        *,
        sync: str | Keep = KEEP,
        health: str | Keep = KEEP,
        applied_version: int | Keep | None = KEEP,
        desired_version: int | Keep | None = KEEP,
        last_error: str | Keep | None = KEEP,
    ) -> StackStatus:
        changes = {
            name: value
            for name, value in {
                "sync": sync,
                "health": health,
                "applied_version": applied_version,
                "desired_version": desired_version,
                "last_error": last_error,
            }.items()
            if not isinstance(value, Keep)
        }

        def write(db: sqlite_utils.Database) -> dict[str, Any] | None:
            now = render_time(self._clock())  # inside the transaction: times follow commits
            return set_status_in(db, stack, changes, now=now)

        row = self._database.write(write)
        assert row is not None  # the row was ensured in the same transaction
        return _status(row)
