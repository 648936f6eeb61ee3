"""Stack versions in SQLite: the ``VersionStore`` of ``kedge.store.sqlite``.

The version rules of DESIGN.md, *Spec files*, hold inside one ``BEGIN IMMEDIATE``
transaction, so concurrent writers take numbers one after the other with no gap or
duplicate; the schema's triggers refuse any update or delete of a version.
``record`` is the one verb that records a spec: with ``desired`` it also makes the version
the stack's desired one, and with ``apply`` it enqueues its APPLY, all in that transaction,
so a crash keeps all of it or none. Callers: the controller's folder source, the API and
``kedge up`` record specs; the worker reads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlite_utils

from kedge import errors
from kedge.specs.commands import CommandReason, CommandType
from kedge.specs.versions import StackVersion
from kedge.store import queue
from kedge.store.cursors import check_limit, decode_cursor, encode_cursor
from kedge.store.database import Database, query_all, query_one, render_time
from kedge.store.records import Clock, Page, Recorded
from kedge.store.stacks import ensure_stack, set_status_in

__all__ = ["SqliteVersions"]

_RULE = "a spec that declares x-kedge.version: N is accepted only when N is the next number"
_RULE += " or N exists with the same content"


def _version(row: dict[str, Any]) -> StackVersion:
    return StackVersion.model_validate({**row, "document": json.loads(row["document"])})


def _must_fit(stack: str, *, declared: int, digest: str, existing: StackVersion | None) -> None:
    """Raise ``ConflictError`` when a declared number breaks a rule, saying which."""
    if existing is not None:
        raise errors.ConflictError(
            f"stack {stack!r} declares version {declared}, but version {declared} exists with"
            f" other content (digest {existing.digest[:12]}, this spec {digest[:12]}): {_RULE}"
            " (hint: remove x-kedge.version or declare the next number)"
        )


class SqliteVersions:
    """The immutable, numbered versions of each stack."""

    def __init__(self, database: Database, *, clock: Clock) -> None:
        self._database = database
        self._clock = clock

    def record(
        self,
        stack: str,
        document: Mapping[str, Any],
        *,
        digest: str,
        declared: int | None = None,
        source: str,
        created_by: str = "",
        commit: str | None = None,
        apply: CommandReason | None = None,
        apply_options: Mapping[str, Any] | None = None,
        desired: bool = False,
    ) -> Recorded:
        text = json.dumps(document, sort_keys=True, separators=(",", ":"))

        def write(db: sqlite_utils.Database) -> Recorded:
            moment = self._clock()  # inside the transaction: times follow commits
            now = render_time(moment)
            recorded = _record_in(db, stack, text, now=now, **facts)
            if desired:
                changes = {"desired_version": recorded.version.number}
                set_status_in(db, stack, changes, now=now)
            if apply is None:
                return recorded
            command = queue.enqueue_in(
                db,
                stack,
                CommandType.APPLY,
                reason=apply,
                version=recorded.version.number,
                created_by=created_by,
                options=apply_options,
                not_before=None,
                now=moment,
            )
            return recorded.model_copy(update={"command": command})

        facts: dict[str, Any] = {
            "digest": digest,
            "declared": declared,
            "source": source,
            "created_by": created_by,
            "commit": commit,
        }
        return self._database.write(write)

    def get(self, stack: str, number: int) -> StackVersion:
        version = self._database.read(lambda db: _get(db, stack, number))
        if version is None:
            raise errors.NotFoundError(f"stack {stack!r} has no version {number}")
        return version

    def latest(self, stack: str) -> StackVersion | None:
        row = self._database.read(
            lambda db: query_one(
                db,
                "SELECT * FROM versions WHERE stack = ? ORDER BY number DESC LIMIT 1",
                [stack],
            )
        )
        return None if row is None else _version(row)

    def find(self, stack: str, digest: str) -> StackVersion | None:
        return self._database.read(lambda db: _find(db, stack, digest))

    def list(self, stack: str, *, limit: int = 50, cursor: str | None = None) -> Page[StackVersion]:
        check_limit(limit)
        filters = {"stack": stack}
        before = None if cursor is None else decode_cursor(cursor, "versions", filters)
        rows = self._database.read(
            lambda db: query_all(
                db,
                "SELECT * FROM versions WHERE stack = ? AND (? IS NULL OR number < ?)"
                " ORDER BY number DESC LIMIT ?",
                [stack, before, before, limit + 1],
            )
        )
        items = [_version(row) for row in rows[:limit]]
        more = len(rows) > limit
        return Page(
            items=items,
            next_cursor=encode_cursor("versions", filters, items[-1].number) if more else None,
        )


def _record_in(
    db: sqlite_utils.Database,
    stack: str,
    text: str,
    *,
    now: str,
    digest: str,
    declared: int | None,
    source: str,
    created_by: str,
    commit: str | None,
) -> Recorded:
    """Apply the version rules inside the caller's transaction."""
    ensure_stack(db, stack, now=now)
    same = _find(db, stack, digest)
    if same is not None:
        _must_map(stack, declared=declared, same=same)
        return Recorded(version=same, created=False)
    top = query_one(db, "SELECT max(number) AS top FROM versions WHERE stack = ?", [stack])
    following = ((top or {}).get("top") or 0) + 1
    if declared is not None and declared != following:
        _must_fit(stack, declared=declared, digest=digest, existing=_get(db, stack, declared))
        raise errors.ConflictError(
            f"stack {stack!r} declares version {declared}, but the next version is"
            f" {following}: {_RULE}"
            f" (hint: declare version {following} or remove x-kedge.version)"
        )
    row = query_one(
        db,
        "INSERT INTO versions (stack, number, digest, document, declared, source,"
        ' created_by, "commit", created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'
        " RETURNING *",
        [stack, following, digest, text, declared, source, created_by, commit, now],
    )
    assert row is not None
    return Recorded(version=_version(row), created=True)


def _must_map(stack: str, *, declared: int | None, same: StackVersion) -> None:
    if declared is not None and declared != same.number:
        raise errors.ConflictError(
            f"stack {stack!r} declares version {declared}, but this content is already"
            f" version {same.number}: {_RULE}"
            f" (hint: declare version {same.number} or remove x-kedge.version)"
        )


def _get(db: sqlite_utils.Database, stack: str, number: int) -> StackVersion | None:
    row = query_one(db, "SELECT * FROM versions WHERE stack = ? AND number = ?", [stack, number])
    return None if row is None else _version(row)


def _find(db: sqlite_utils.Database, stack: str, digest: str) -> StackVersion | None:
    row = query_one(db, "SELECT * FROM versions WHERE stack = ? AND digest = ?", [stack, digest])
    return None if row is None else _version(row)
