"""The converged rows behind ``kedge up``'s no-op fast path, on a real SQLite store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kedge import errors
from kedge.specs.commands import CommandReason, CommandStatus, CommandType
from kedge.store import SqliteStore, Store, converged, migrations, schema


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "kedge.db"


@pytest.fixture
def store(db: Path):
    opened = SqliteStore.open(db)
    yield opened
    opened.close()


def _pass(store: Store, stack: str = "shop", version: int = 1) -> int:
    """A DONE apply, as ``passes.run_now`` leaves one."""
    command = store.commands.enqueue(
        stack, CommandType.APPLY, reason=CommandReason.CLI, version=version
    )
    claimed = store.commands.claim("test")
    assert claimed is not None
    assert claimed.id == command.id
    store.commands.finish(command.id, token=claimed.token, status=CommandStatus.DONE, actions=3)
    return command.id


def _remember(db: Path, command_id: int, inputs: str = "in-1") -> None:
    row = converged.Converged(
        stack="shop",
        inputs=inputs,
        version=1,
        observed="seen-1",
        probe={"images": ["a:1"], "networks": [], "volumes": []},
        command_id=command_id,
        warnings=["the version key is obsolete"],
    )
    converged.remember(db, row)


def test_it_knows_every_migration_of_the_schema():
    # the names moved from converged.MIGRATIONS (a pinned copy) to store.migrations, which
    # the schema registers its migrations under and converged reads
    assert list(migrations.NAMES) == schema.migration_names()


def test_a_remembered_row_is_recalled_by_its_inputs(db: Path, store: Store):
    store.versions.record("shop", {}, digest="a", source="cli")
    _remember(db, _pass(store))
    row = converged.recall(db, inputs="in-1")
    assert row is not None
    assert (row.stack, row.version, row.observed) == ("shop", 1, "seen-1")
    assert row.probe == {"images": ["a:1"], "networks": [], "volumes": []}
    assert row.warnings == ("the version key is obsolete",)
    assert converged.recall(db, inputs="in-2") is None


def test_a_noop_is_recorded_as_a_full_pass_records_one(db: Path, store: Store):
    store.versions.record("shop", {}, digest="a", source="cli")
    first = _pass(store)
    _remember(db, first)
    row = converged.recall(db, inputs="in-1")
    assert row is not None
    noop = converged.record_noop(db, row, worker="cli:h:1", created_by="cli:me", options={})
    assert noop is not None
    assert noop > first
    command = store.commands.get(noop)
    assert (command.type, command.status, command.version) == (
        CommandType.APPLY,
        CommandStatus.DONE,
        1,
    )
    assert (command.actions, command.outcome, command.plan) == (0, "0 actions in 0.00 s", "")
    assert command.reason is CommandReason.CLI
    assert command.started_at is not None
    assert command.finished_at is not None
    lines = store.commands.logs(noop)
    assert [line.message for line in lines] == ["planned: nothing to do"]
    # the row now names the noop, so the next up is fast again
    again = converged.recall(db, inputs="in-1")
    assert again is not None
    assert again.command_id == noop


def test_any_newer_command_of_the_stack_voids_the_row(db: Path, store: Store):
    store.versions.record("shop", {}, digest="a", source="cli")
    _remember(db, _pass(store))
    row = converged.recall(db, inputs="in-1")
    assert row is not None
    store.commands.enqueue("shop", CommandType.DELETE, reason=CommandReason.CLI)
    assert converged.recall(db, inputs="in-1") is None  # pending
    assert converged.record_noop(db, row, worker="w", created_by="c", options={}) is None
    claimed = store.commands.claim("test")
    assert claimed is not None
    assert converged.recall(db, inputs="in-1") is None  # running
    store.commands.finish(claimed.id, token=claimed.token, status=CommandStatus.DONE)
    assert converged.recall(db, inputs="in-1") is None  # done, and newer than the row's


def test_a_command_waiting_for_another_stack_voids_it_too(db: Path, store: Store):
    store.versions.record("shop", {}, digest="a", source="cli")
    store.versions.record("blog", {}, digest="b", source="cli")
    _remember(db, _pass(store))
    store.commands.enqueue("blog", CommandType.APPLY, reason=CommandReason.API, version=1)
    assert converged.recall(db, inputs="in-1") is None


def test_an_unknown_schema_or_no_store_gives_no_row(db: Path, store: Store, tmp_path: Path):
    store.versions.record("shop", {}, digest="a", source="cli")
    _remember(db, _pass(store))
    assert converged.recall(tmp_path / "none.db", inputs="in-1") is None
    with sqlite3.connect(db) as raw:
        raw.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('kedge.store', '0099_from_the_future', 'now')"
        )
    assert converged.recall(db, inputs="in-1") is None


def test_a_noop_holds_a_fencing_token_no_claim_had(db: Path, store: Store):
    store.versions.record("shop", {}, digest="a", source="cli")
    first = _pass(store)
    _remember(db, first)
    row = converged.recall(db, inputs="in-1")
    assert row is not None
    noop = converged.record_noop(db, row, worker="w", created_by="c", options={"wait": True})
    assert noop is not None
    command = store.commands.get(noop)
    assert command.token > store.commands.get(first).token
    assert command.options == {"wait": True}
    store.commands.enqueue("shop", CommandType.DELETE, reason=CommandReason.CLI)
    claimed = store.commands.claim("test")
    assert claimed is not None
    assert claimed.token > command.token


def test_a_store_that_fails_is_a_store_error(tmp_path: Path):
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database, " * 100)
    assert converged.recall(broken, inputs="in-1") is None  # not a store Kedge knows
    row = converged.Converged(
        stack="shop", inputs="in-1", version=1, observed="seen-1", probe={}, command_id=1
    )
    with pytest.raises(errors.StoreError, match=r"broken\.db"):
        converged.remember(broken, row)
