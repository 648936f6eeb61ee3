"""The store's connection to its SQLite file: pragmas, transactions, and the one boundary
where ``sqlite3`` errors become Kedge errors.

Callers: the SQLite store's parts (``stacks``, ``versions``, ``queue``) run every statement
through ``Database.write`` or ``Database.read``.

- Writes run in ``BEGIN IMMEDIATE`` transactions, so concurrent processes serialize on the
  write lock at the start of a transaction instead of failing when a read upgrades to a
  write. sqlite-utils' ``Database.atomic()`` opens a plain (deferred) ``BEGIN`` and has no
  way to ask for ``IMMEDIATE``, so writes open the transaction here; reads use ``atomic()``
  for a consistent snapshot, and the schema uses sqlite-utils' ``Migrations``.
- ``SQLITE_BUSY``/``SQLITE_LOCKED`` are waited out first by SQLite's busy timeout, then by
  retrying the whole transaction with a jittered backoff until ``retry_for`` runs out; only
  then a ``StoreError`` is raised. "database is locked" never reaches a caller as such.
- A constraint of the schema (the one-RUNNING-per-stack index, the immutability triggers)
  becomes a ``ConflictError``; every other ``sqlite3`` error a ``StoreError``.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from kedge import errors
from kedge.store.records import Durability

__all__ = ["Database", "parse_time", "query_all", "query_one", "render_time"]

T = TypeVar("T")

_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def render_time(moment: datetime) -> str:
    """A datetime as the store keeps it: UTC ISO text whose order is the time order."""
    if moment.tzinfo is None:
        raise ValueError(f"the store keeps aware datetimes only, got naive {moment!r}")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # within a day of year 1 or 9999 by its offset: the end it is past
        utc = (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)
    return utc.isoformat(timespec="microseconds")


def parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _BUSY_CODES
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Database:
    """One connection to the store's file, safe to share between the threads of a process."""

    def __init__(
        self,
        path: Path,
        *,
        durability: Durability = Durability.NORMAL,
        busy_timeout: float = 5.0,
        retry_for: float = 60.0,
        wal: bool = True,
    ) -> None:
        self.path = path
        self._retry_for = retry_for
        self._lock = threading.RLock()
        conn = sqlite3.connect(
            str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self.db = sqlite_utils.Database(conn, execute_plugins=False)
        self._run(lambda: self._configure(durability, wal=wal))

    def _configure(self, durability: Durability, *, wal: bool) -> None:
        if wal:  # a file in WAL mode stays so; only a store that writes needs to switch it
            self.db.enable_wal()
        self.db.execute(f"PRAGMA synchronous={durability.value}")
        self.db.execute("PRAGMA foreign_keys=ON")

    def write(self, work: Callable[[sqlite_utils.Database], T]) -> T:
        """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction, retried as a whole when busy."""
        return self._run(lambda: self._in_transaction("BEGIN IMMEDIATE", work))

    def read(self, work: Callable[[sqlite_utils.Database], T]) -> T:
        """Run ``work`` on one consistent snapshot."""

        def snapshot() -> T:
            with self.db.atomic():
                return work(self.db)

        return self._run(snapshot)

    def run_outside_transaction(self, work: Callable[[sqlite_utils.Database], T]) -> T:
        """Run ``work`` with no transaction open (e.g. a backup or an integrity check)."""
        return self._run(lambda: work(self.db))

    def _in_transaction(self, begin: str, work: Callable[[sqlite_utils.Database], T]) -> T:
        self.db.execute(begin)
        try:
            result = work(self.db)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.rollback()
            raise
        return result

    def _run(self, attempt: Callable[[], T]) -> T:
        deadline = time.monotonic() + self._retry_for
        pause = 0.001
        with self._lock:
            while True:
                try:
                    return attempt()
                except sqlite3.IntegrityError as exc:
                    raise errors.ConflictError(f"the store refused the write: {exc}") from exc
                except sqlite3.Error as exc:
                    busy = _is_busy(exc)
                    if not busy or time.monotonic() >= deadline:
                        waited = f" (still busy after {self._retry_for:g}s)" if busy else ""
                        raise errors.StoreError(
                            f"the store at {self.path} failed: {exc}{waited}"
                        ) from exc
                time.sleep(pause * (0.5 + random.random()))
                pause = min(pause * 2, 0.1)

    def close(self) -> None:
        with self._lock:
            self.db.close()


def query_one(db: sqlite_utils.Database, sql: str, params: Any = ()) -> dict[str, Any] | None:
    """The first row of a query as a dict, or None."""
    rows = query_all(db, sql, params)  # fetch all: a RETURNING statement must run to its end
    return rows[0] if rows else None


def query_all(db: sqlite_utils.Database, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    """All rows of a query as dicts."""
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
