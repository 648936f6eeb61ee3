"""The audit trail in SQLite: the ``AuditStore`` of ``kedge.store.sqlite`` (issue #16, *Audit*).

One row per request the API's edge records (``api.audit`` decides which: every write, and
every refusal): who (``identity`` such as ``token:ci`` or ``anonymous``, its kind, token name
and role), from where (the client address), what (method, the route's template path, the
stack it named, the verb), and how it ended (``allowed`` or ``refused``, the status code, the
reason of a refusal, the command or version a write made). Never a query string, a body or a
header: those may carry secrets.

``list`` is keyset-paginated, newest first (by ``id``), filtered by stack, identity, outcome
and ``since``. The table keeps the newest ``KEEP_ROWS`` rows: every ``PRUNE_EVERY``-th append
of this process deletes the older ones, so the bound costs one delete per many writes.
Callers: ``kedge.store.sqlite`` (``store.audit``) and the API (``api.audit``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kedge.store import cursors
from kedge.store.database import Database, parse_time, query_all, query_one, render_time
from kedge.store.records import AuditEntry, Clock, Page

__all__ = ["KEEP_ROWS", "OUTCOMES", "PRUNE_EVERY", "SqliteAudit"]

#: how many rows the trail keeps (the newest)
KEEP_ROWS = 100_000
#: an append in this many prunes the rows past ``KEEP_ROWS``
PRUNE_EVERY = 1_000
OUTCOMES = ("allowed", "refused")
_LISTING = "audit"
_COLUMNS = (
    "identity",
    "identity_kind",
    "token_name",
    "role",
    "client",
    "method",
    "route",
    "stack",
    "verb",
    "outcome",
    "status",
    "reason",
    "command_id",
    "version",
)


def _entry(row: dict[str, Any]) -> AuditEntry:
    at = parse_time(row["at"])
    assert at is not None
    return AuditEntry(**{**row, "at": at})


class SqliteAudit:
    """The audit trail: appended by the API's edge, listed by ``GET /api/v1/audit``."""

    def __init__(self, database: Database, *, clock: Clock, keep: int = KEEP_ROWS) -> None:
        self._database = database
        self._clock = clock
        self._keep = keep
        self._appended = 0

    def append(self, entry: AuditEntry) -> AuditEntry:
        """Record one request; its ``id`` and ``at`` are the store's."""
        values = entry.model_dump(include=set(_COLUMNS))
        at = render_time(self._clock())
        names = ", ".join(_COLUMNS)
        marks = ", ".join("?" for _ in _COLUMNS)
        row = self._database.write(
            lambda db: query_one(
                db,
                f"INSERT INTO audit (at, {names}) VALUES (?, {marks}) RETURNING *",
                [at, *(values[c] for c in _COLUMNS)],
            )
        )
        assert row is not None
        self._appended += 1
        if self._appended % PRUNE_EVERY == 0:
            self.prune()
        return _entry(row)

    def prune(self) -> int:
        """Delete the rows past the newest ``keep``; how many went."""
        keep = self._keep
        return self._database.write(
            lambda db: (
                db.execute(
                    "DELETE FROM audit WHERE id <= (SELECT max(id) FROM audit) - ?", [keep]
                ).rowcount
            )
        )

    def list(
        self,
        *,
        stack: str | None = None,
        identity: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[AuditEntry]:
        """Rows newest first, filtered; ``next_cursor`` names the next page (None: the last)."""
        cursors.check_limit(limit)
        filters = {"stack": stack, "identity": identity, "outcome": outcome, "since": since}
        where, params = _where(filters)
        if cursor is not None:
            where.append("id < ?")
            params.append(cursors.decode_cursor(cursor, _LISTING, filters))
        sql = "SELECT * FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        rows = self._database.read(lambda db: query_all(db, sql, [*params, limit + 1]))
        more = len(rows) > limit
        items = [_entry(row) for row in rows[:limit]]
        after = cursors.encode_cursor(_LISTING, filters, items[-1].id) if more else None
        return Page[AuditEntry](items=items, next_cursor=after)


def _where(filters: dict[str, Any]) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    for column in ("stack", "identity", "outcome"):
        if filters[column] is not None:
            where.append(f"{column} = ?")
            params.append(filters[column])
    if filters["since"] is not None:
        where.append("at >= ?")
        params.append(render_time(filters["since"]))
    return where, params
