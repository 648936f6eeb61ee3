"""The command queue's statements: the SQL of its rows, with the standard library alone.

``store.queue`` owns the ``commands`` and ``command_logs`` tables; the text of its writes that
another writer needs lives here, so that the columns are written down once: inserting a
command row (``insert_command``), appending a log line (``APPEND_LOG``), taking the next
fencing token (``NEXT_TOKEN``), and the three together as one finished command with one log
line (``record_finished``). ``store.converged`` — ``kedge up``'s no-op fast path, which must
load neither sqlite-utils nor pydantic — executes these on its ``sqlite3`` connection, inside
its own ``BEGIN IMMEDIATE`` transaction, as the queue executes them inside its.

Callers: ``store.queue`` and ``store.converged``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "APPEND_LOG",
    "NEXT_TOKEN",
    "encode_fields",
    "encode_options",
    "insert_command",
    "record_finished",
]

#: the next fencing token, taken: every holder of a command gets one no earlier holder had
NEXT_TOKEN = "UPDATE counters SET value = value + 1 WHERE name = 'fencing_token' RETURNING value"

#: one log line of a command, numbered after its last one (parameters: command id, time,
#: level, message, fields as ``encode_fields``, command id again)
APPEND_LOG = (
    "INSERT INTO command_logs (command_id, seq, at, level, message, fields)"
    " SELECT ?, coalesce(max(seq), 0) + 1, ?, ?, ?, ? FROM command_logs"
    " WHERE command_id = ? RETURNING *"
)


def insert_command(columns: Iterable[str], *, returning: str = "*") -> str:
    """The INSERT of one ``commands`` row with these columns (parameters in their order)."""
    names = list(columns)
    marks = ", ".join("?" for _ in names)
    return f"INSERT INTO commands ({', '.join(names)}) VALUES ({marks}) RETURNING {returning}"


def encode_options(options: Mapping[str, Any] | None) -> str:
    """A command's options as its ``options`` column keeps them."""
    return json.dumps(dict(options or {}), sort_keys=True)


def encode_fields(fields: Mapping[str, Any] | None) -> str:
    """A log line's fields as its ``fields`` column keeps them."""
    return json.dumps(dict(fields or {}), sort_keys=True, default=str)


def record_finished(
    db: sqlite3.Connection,
    command: Mapping[str, Any],
    *,
    now: str,
    message: str,
    fields: Mapping[str, Any] | None = None,
) -> int:
    """Insert ``command`` (its columns: stack, type, status, version, …) as started and
    finished at ``now`` under a new fencing token, with one info log line; its id.
    Inside the caller's transaction."""
    (token,) = db.execute(NEXT_TOKEN).fetchone()
    row = {
        **command,
        "options": encode_options(command.get("options")),
        "created_at": now,
        "started_at": now,
        "finished_at": now,
        "heartbeat_at": now,
        "token": token,
    }
    (command_id,) = db.execute(insert_command(row, returning="id"), list(row.values())).fetchone()
    db.execute(
        APPEND_LOG, [command_id, now, "info", message, encode_fields(fields), command_id]
    ).fetchall()
    return int(command_id)
