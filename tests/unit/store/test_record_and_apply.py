"""Record-and-apply is one transaction (issue 15, *Done when* 3): ``versions.record`` with
``desired`` and ``apply`` records the version, makes it the stack's desired one and enqueues
its APPLY, and a failure or a crash between those steps leaves none of them.

The failures are real: a trigger that refuses a step, and a process killed with SIGKILL
while it holds the write (a trigger keeps it busy at the last step).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from kedge import errors
from kedge.specs.commands import CommandReason, CommandStatus, CommandType
from kedge.store import SqliteStore, Store

CTX = multiprocessing.get_context("forkserver")
CTX.set_forkserver_preload(["kedge.store"])


def record_two(store: Store) -> None:
    store.versions.record(
        "shop", {"v": 2}, digest="b", source="api", apply=CommandReason.API, desired=True
    )


def assert_only_version_one(store: Store) -> None:
    """What a first, whole record-and-apply left, and nothing of the second."""
    assert [v.number for v in store.versions.list("shop").items] == [1]
    assert store.stacks.get("shop").desired_version == 1
    commands = store.commands.list(stack="shop").items
    assert [(c.type, c.version, c.status) for c in commands] == [
        (CommandType.APPLY, 1, CommandStatus.PENDING)
    ]


def test_record_with_desired_and_apply_does_all_three(store: Store) -> None:
    recorded = store.versions.record(
        "shop",
        {"v": 1},
        digest="a",
        source="api",
        created_by="ann",
        apply=CommandReason.API,
        desired=True,
    )
    assert recorded.created
    assert recorded.command is not None
    assert_only_version_one(store)
    again = store.versions.record("shop", {"v": 1}, digest="a", source="api", desired=True)
    assert (again.created, again.command) == (False, None)
    plain = store.versions.record("shop", {"v": 3}, digest="c", source="api")
    assert plain.version.number == 2
    assert store.stacks.get("shop").desired_version == 1  # without desired: not desired


@pytest.mark.parametrize(
    "refusal",
    [
        "BEFORE INSERT ON commands",  # the last step: enqueue the APPLY
        "BEFORE UPDATE OF desired_version ON stacks",  # the middle one: set desired_version
    ],
)
def test_a_refused_step_leaves_nothing_half_done(sqlite_store: SqliteStore, refusal: str) -> None:
    store: Store = sqlite_store
    store.versions.record(
        "shop", {"v": 1}, digest="a", source="api", apply=CommandReason.API, desired=True
    )
    with sqlite3.connect(sqlite_store.path) as raw:
        raw.execute(f"CREATE TRIGGER refuse {refusal} BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with pytest.raises(errors.ConflictError, match="refused"):
        record_two(store)
    assert_only_version_one(store)


def record_until_killed(db: str) -> None:
    """A child: the second record-and-apply, which a trigger holds at its last step."""
    store = SqliteStore.open(Path(db))
    record_two(store)


def _write_is_held(db: Path) -> bool:
    raw = sqlite3.connect(db, timeout=0)
    try:
        raw.execute("BEGIN IMMEDIATE")
        raw.rollback()
        return False
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return True
    finally:
        raw.close()


def test_a_crash_between_the_steps_leaves_nothing_half_done(tmp_path: Path) -> None:
    db = tmp_path / "kedge.db"
    store = SqliteStore.open(db)
    store.versions.record(
        "shop", {"v": 1}, digest="a", source="api", apply=CommandReason.API, desired=True
    )
    with sqlite3.connect(db) as raw:
        # a join of 10^12 rows: the enqueue step runs until the process is killed
        raw.execute("CREATE TABLE spin (n INTEGER)")
        raw.executemany("INSERT INTO spin VALUES (?)", [(n,) for n in range(10_000)])
        raw.execute(
            "CREATE TRIGGER hold BEFORE INSERT ON commands BEGIN"
            " SELECT count(*) FROM spin a, spin b, spin c; END"
        )
    child = CTX.Process(target=record_until_killed, args=(str(db),))
    child.start()
    try:
        deadline = time.monotonic() + 30
        while not _write_is_held(db):
            assert child.is_alive(), "the child ended before it wrote"
            assert time.monotonic() < deadline, "the child never wrote"
            time.sleep(0.01)
        time.sleep(0.3)  # the version and desired_version take a millisecond; then it spins
        assert child.is_alive()
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.join(10)
    assert child.exitcode == -signal.SIGKILL
    with sqlite3.connect(db) as raw:
        raw.execute("DROP TRIGGER hold")
    assert_only_version_one(store)
    record_two(store)  # the write lock died with the child
    assert [v.number for v in store.versions.list("shop").items] == [2, 1]
    assert store.stacks.get("shop").desired_version == 2
    store.close()


def test_a_rollback_or_delete_makes_its_version_desired_in_its_transaction(
    sqlite_store: SqliteStore,
) -> None:
    """``commands.enqueue(desired=True)`` (the API's rollback and delete, the folder's prune):
    the command and the desired version are written together, or neither is."""
    store: Store = sqlite_store
    store.versions.record(
        "shop", {"v": 1}, digest="a", source="api", apply=CommandReason.API, desired=True
    )
    store.versions.record("shop", {"v": 2}, digest="b", source="api")
    with sqlite3.connect(sqlite_store.path) as raw:
        raw.execute(
            "CREATE TRIGGER refuse BEFORE UPDATE OF desired_version ON stacks"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    with pytest.raises(errors.ConflictError, match="refused"):
        store.commands.enqueue(
            "shop", CommandType.ROLLBACK, reason=CommandReason.API, version=2, desired=True
        )
    assert store.stacks.get("shop").desired_version == 1
    assert [c.type for c in store.commands.list(stack="shop").items] == [CommandType.APPLY]
    with sqlite3.connect(sqlite_store.path) as raw:
        raw.execute("DROP TRIGGER refuse")
    store.commands.enqueue(
        "shop", CommandType.ROLLBACK, reason=CommandReason.API, version=2, desired=True
    )
    assert store.stacks.get("shop").desired_version == 2
    store.commands.enqueue("shop", CommandType.DELETE, reason=CommandReason.API, desired=True)
    assert store.stacks.get("shop").desired_version is None
