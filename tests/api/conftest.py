"""Fixtures of the API tests: a real SQLite store under tmp_path and the real app over it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kedge.api.app import create_app
from kedge.specs.commands import Command, CommandReason, CommandStatus, CommandType
from kedge.store.sqlite import SqliteStore


class Clock:
    """A clock the test moves, so that times and ages are known."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def document(stack: str, *, image: str = "busybox:1", replicas: int = 1) -> dict[str, Any]:
    return {
        "name": stack,
        "services": {"web": {"image": image, "deploy": {"replicas": replicas}}},
    }


class Seed:
    """Puts versions, commands and log lines in the store, as the controller would."""

    def __init__(self, store: SqliteStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def version(self, stack: str, *, image: str = "busybox:1", by: str = "test") -> int:
        self.clock.tick()
        recorded = self.store.versions.record(
            stack,
            document(stack, image=image),
            digest=f"sha256:{stack}-{image}",
            source=f"/specs/{stack}.yaml",
            created_by=by,
        )
        return recorded.version.number

    def command(
        self,
        stack: str,
        *,
        type: CommandType = CommandType.APPLY,
        version: int | None = None,
        end: CommandStatus | None = CommandStatus.DONE,
        lines: int = 0,
    ) -> Command:
        self.clock.tick()
        command = self.store.commands.enqueue(
            stack, type, reason=CommandReason.FILE, version=version, created_by="test"
        )
        if end in (None, CommandStatus.PENDING):
            return command
        claimed = self.store.commands.claim("w1")
        assert claimed is not None
        assert claimed.id == command.id
        for n in range(lines):
            self.store.commands.log(claimed.id, token=claimed.token, message=f"line {n + 1}")
        if end is CommandStatus.RUNNING:
            return self.store.commands.get(claimed.id)
        self.clock.tick()
        finished = self.store.commands.finish(
            claimed.id, token=claimed.token, status=end, outcome="ok", error=None
        )
        return finished.command

    def applied(self, stack: str, version: int, *, health: str = "Healthy") -> None:
        self.store.stacks.set_status(
            stack, sync="Synced", health=health, applied_version=version, desired_version=version
        )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[SqliteStore]:
    found = SqliteStore.open(tmp_path / "kedge.db", clock=clock)
    yield found
    found.close()


@pytest.fixture
def seed(store: SqliteStore, clock: Clock) -> Seed:
    return Seed(store, clock)


@pytest.fixture
def client(store: SqliteStore) -> Iterator[TestClient]:
    with TestClient(create_app(store, None), base_url="http://127.0.0.1") as found:
        yield found
