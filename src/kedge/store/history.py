"""Reading commands and their log lines back from SQLite: filtered, keyset-paginated listings.

Rows become frozen ``Command`` and ``LogLine`` models here and nowhere else. Callers:
``kedge.store.queue`` (which serves the ``CommandStore`` reads through these functions).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from kedge import errors
from kedge.specs.commands import Command, CommandStatus, CommandType
from kedge.store.cursors import check_limit, decode_cursor, encode_cursor
from kedge.store.database import query_all, query_one, render_time
from kedge.store.records import LogLine, Page

__all__ = [
    "CommandQuery",
    "command_from_row",
    "list_commands",
    "list_log_lines",
    "log_line_from_row",
]


def command_from_row(row: dict[str, Any]) -> Command:
    return Command.model_validate(
        {
            **row,
            "options": json.loads(row["options"]),
            "cancel_requested": bool(row["cancel_requested"]),
        }
    )


def log_line_from_row(row: dict[str, Any]) -> LogLine:
    return LogLine.model_validate({**row, "fields": json.loads(row["fields"])})


@dataclass(frozen=True, slots=True)
class CommandQuery:
    """The filters of a command listing; ``since`` is inclusive, ``until`` exclusive."""

    stack: str | None = None
    status: CommandStatus | None = None
    type: CommandType | None = None
    since: datetime | None = None
    until: datetime | None = None

    def render_where(self) -> tuple[list[str], list[Any]]:
        """The SQL conditions and their parameters."""
        terms: list[str] = []
        params: list[Any] = []
        for column, value in (("stack", self.stack), ("status", self.status), ("type", self.type)):
            if value is not None:
                terms.append(f"{column} = ?")
                params.append(str(value))
        if self.since is not None:
            terms.append("created_at >= ?")
            params.append(render_time(self.since))
        if self.until is not None:
            terms.append("created_at < ?")
            params.append(render_time(self.until))
        return terms, params

    def fingerprint_fields(self) -> dict[str, Any]:
        return {name: None if v is None else str(v) for name, v in asdict(self).items()}


def list_commands(
    db: sqlite_utils.Database, query: CommandQuery, *, limit: int, cursor: str | None
) -> Page[Command]:
    """Commands newest first (by id, which follows creation order)."""
    check_limit(limit)
    filters = query.fingerprint_fields()
    terms, params = query.render_where()
    if cursor is not None:
        terms.append("id < ?")
        params.append(decode_cursor(cursor, "commands", filters))
    where = f"WHERE {' AND '.join(terms)}" if terms else ""
    rows = query_all(
        db, f"SELECT * FROM commands {where} ORDER BY id DESC LIMIT ?", [*params, limit + 1]
    )
    items = [command_from_row(row) for row in rows[:limit]]
    more = len(rows) > limit
    return Page(
        items=items,
        next_cursor=encode_cursor("commands", filters, items[-1].id) if more else None,
    )


def list_log_lines(
    db: sqlite_utils.Database, command_id: int, *, after: int, limit: int
) -> list[LogLine]:
    """Log lines with ``seq > after`` in order; follow a log by passing the last ``seq``."""
    check_limit(limit, most=10_000)
    if query_one(db, "SELECT 1 FROM commands WHERE id = ?", [command_id]) is None:
        raise errors.NotFoundError(f"no command #{command_id}")
    rows = query_all(
        db,
        "SELECT * FROM command_logs WHERE command_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        [command_id, after, limit],
    )
    return [log_line_from_row(row) for row in rows]
