"""The SQLite backend itself: its schema from empty, the rules the database enforces whatever
code writes, its settings, the busy boundary, backup and check, and ``kedge db``."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kedge import errors
from kedge.cli.main import app
from kedge.specs.commands import CommandReason, CommandStatus, CommandType
from kedge.store import Durability, SqliteStore
from kedge.store import schema as store_schema

from .conftest import MovableClock


def raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=5, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def test_migrations_apply_from_empty_once(tmp_path: Path) -> None:
    path = tmp_path / "kedge.db"
    SqliteStore.open(path).close()
    store = SqliteStore.open(path)  # a second open applies nothing again
    report = store.check()
    assert report.ok
    # 6 since migration 0006_audit (issue #16: the audit trail)
    assert report.schema_version == report.latest_schema_version == 6
    assert report.pending_migrations == []
    store.close()
    tables = {row[0] for row in raw(path).execute("SELECT name FROM sqlite_master")}
    kept = {"stacks", "versions", "commands", "command_logs", "_sqlite_migrations", "converged"}
    assert kept <= tables


@pytest.mark.parametrize(
    ("durability", "synchronous"),
    [pytest.param(Durability.NORMAL, 1, id="normal"), pytest.param(Durability.FULL, 2, id="full")],
)
def test_settings(tmp_path: Path, durability: Durability, synchronous: int) -> None:
    store = SqliteStore.open(tmp_path / "kedge.db", durability=durability, busy_timeout=2.5)
    assert store.settings() == {
        "journal_mode": "wal",
        "synchronous": synchronous,
        "busy_timeout": 2500,
        "foreign_keys": 1,
    }
    store.close()


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("UPDATE versions SET digest = 'other'", id="update-version"),
        pytest.param("DELETE FROM versions", id="delete-version"),
        pytest.param(
            "UPDATE commands SET status = 'RUNNING', token = 9 WHERE id = 2",
            id="second-running-of-a-stack",
        ),
        pytest.param("UPDATE commands SET status = 'PENDING' WHERE id = 3", id="final-to-pending"),
        pytest.param("UPDATE commands SET status = 'WAITING' WHERE id = 2", id="unknown-status"),
        pytest.param(
            "INSERT INTO commands (stack, type, status, reason, created_at)"
            " VALUES ('nowhere', 'APPLY', 'PENDING', 'api', 'x')",
            id="unknown-stack",
        ),
        pytest.param(
            "INSERT INTO commands (stack, type, status, reason, version, created_at)"
            " VALUES ('shop', 'APPLY', 'PENDING', 'api', 7, 'x')",
            id="unknown-version",
        ),
    ],
)
def test_the_database_refuses_what_breaks_a_rule(sqlite_store: SqliteStore, statement: str) -> None:
    sqlite_store.versions.record("shop", {}, digest="a", source="api")
    for _ in range(3):
        sqlite_store.commands.enqueue("shop", CommandType.DEPLOY, reason=CommandReason.API)
    held = sqlite_store.commands.claim("w")
    assert held is not None
    sqlite_store.commands.cancel(3)
    with pytest.raises(sqlite3.IntegrityError):
        raw(sqlite_store.path).execute(statement)


def test_busy_is_waited_out_not_reported(tmp_path: Path, clock: MovableClock) -> None:
    path = tmp_path / "kedge.db"
    store = SqliteStore.open(path, clock=clock, busy_timeout=0.01)
    blocker = raw(path)
    blocker.execute("BEGIN IMMEDIATE")
    releaser = threading.Timer(0.3, blocker.execute, args=["COMMIT"])
    releaser.start()
    started = time.monotonic()
    command = store.commands.enqueue("shop", CommandType.DEPLOY, reason=CommandReason.API)
    assert time.monotonic() - started >= 0.25  # it waited for the lock
    assert command.id == 1
    releaser.join()
    store.close()


def test_a_lock_held_too_long_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "kedge.db"
    store = SqliteStore.open(path, busy_timeout=0.01, retry_for=0.2)
    blocker = raw(path)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(errors.StoreError, match="still busy after") as caught:
        store.commands.enqueue("shop", CommandType.DEPLOY, reason=CommandReason.API)
    assert caught.value.temporary
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    blocker.execute("ROLLBACK")
    store.close()


def test_naive_times_are_refused(sqlite_store: SqliteStore) -> None:
    from datetime import datetime

    with pytest.raises(ValueError, match="naive"):
        sqlite_store.commands.enqueue(
            "shop", CommandType.DEPLOY, reason=CommandReason.API, not_before=datetime(2026, 1, 1)
        )


def test_backup_copies_everything(sqlite_store: SqliteStore, tmp_path: Path) -> None:
    sqlite_store.versions.record("shop", {"a": 1}, digest="a", source="api")
    sqlite_store.commands.enqueue("shop", CommandType.APPLY, reason=CommandReason.API, version=1)
    target = tmp_path / "copies" / "backup.db"
    target.parent.mkdir()
    sqlite_store.backup(target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["backup.db"]
    copy = SqliteStore.open(target, migrate=False)
    assert copy.check().ok
    assert copy.versions.get("shop", 1) == sqlite_store.versions.get("shop", 1)
    assert copy.commands.get(1) == sqlite_store.commands.get(1)
    copy.close()


def test_check_without_a_file(tmp_path: Path) -> None:
    with pytest.raises(errors.NotFoundError, match="no Kedge database"):
        SqliteStore.open(tmp_path / "missing.db", migrate=False)
    assert not (tmp_path / "missing.db").exists()


def test_check_of_a_file_that_is_not_kedges(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = raw(other)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    store = SqliteStore.open(other, migrate=False)
    report = store.check()
    assert report.problems == ["the file holds no Kedge schema: no Kedge migration was applied"]
    assert (report.schema_version, report.ok) == (0, False)
    store.close()
    assert raw(other).execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # untouched
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, just some words that fill a page " * 40)
    with pytest.raises(errors.StoreError, match="file is not a database"):
        SqliteStore.open(text, migrate=False)


def test_check_reports_pending_and_unknown_migrations(tmp_path: Path) -> None:
    path = tmp_path / "kedge.db"
    SqliteStore.open(path).close()
    conn = raw(path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
        " VALUES (?, '9999_from_the_future', 'x')",
        [store_schema.MIGRATIONS.name],
    )
    conn.close()
    store = SqliteStore.open(path, migrate=False)
    report = store.check()
    assert report.unknown_migrations == ["9999_from_the_future"]
    assert not report.ok
    store.close()


def corrupt(path: Path) -> None:
    """Overwrite the root page of an index with zeros, as a failing disk might: the file still
    opens, and only an integrity check finds the damage."""
    store = SqliteStore.open(path)
    for n in range(300):
        store.versions.record("shop", {"n": n}, digest=f"digest-{n:04}-" + "x" * 60, source="api")
    store.close()
    conn = raw(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    [root] = conn.execute(
        "SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = 'versions'"
        " AND sql IS NULL ORDER BY rootpage DESC LIMIT 1"
    ).fetchone()
    conn.close()
    with path.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\0" * page_size)


def test_kedge_db_check_and_backup(tmp_path: Path) -> None:
    runner = CliRunner()
    path = tmp_path / "kedge.db"
    SqliteStore.open(path).close()
    ok = runner.invoke(app, ["db", "check", "--db", str(path)])
    assert ok.exit_code == 0, ok.output
    # 6 of 6 since migration 0006_audit (issue #16)
    assert "ok; integrity ok; schema version 6 of 6" in ok.output

    backup = runner.invoke(app, ["db", "backup", str(tmp_path / "b.db"), "--db", str(path)])
    assert backup.exit_code == 0, backup.output
    assert (tmp_path / "b.db").exists()

    missing = runner.invoke(app, ["db", "check", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 1
    assert "no Kedge database" in missing.output

    corrupt(path)
    broken = runner.invoke(app, ["db", "check", "--db", str(path)])
    assert broken.exit_code == 1, broken.output
    assert "integrity: " in broken.output
    assert "FAILED" in broken.output


def test_one_store_is_shared_by_threads(tmp_path: Path) -> None:
    store = SqliteStore.open(tmp_path / "kedge.db")
    for n in range(200):
        store.commands.enqueue(f"s{n % 10}", CommandType.DEPLOY, reason=CommandReason.API)
    claimed: list[int] = []
    failures: list[BaseException] = []

    def work(worker: str) -> None:
        try:
            while (held := store.commands.claim(worker)) is not None:
                claimed.append(held.id)
                store.commands.log(held.id, token=held.token, message=worker)
                store.commands.finish(held.id, token=held.token, status=CommandStatus.DONE)
        except BaseException as exc:  # reported below, with the thread's error
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert sorted(claimed) == list(range(1, 201))
    assert len(store.commands.list(status=CommandStatus.DONE, limit=1000).items) == 200
    store.close()
