"""Helpers of the convergence tests: a real store under ``tmp_path`` and the real engine.

``Kedge.up(text)`` does what ``kedge up -f FILE`` does: load the spec file, record its version
with its APPLY command and carry it out in-process through ``controller.passes``.
"""

from __future__ import annotations

import pathlib
from typing import Any

from kedge.controller import passes
from kedge.reconcilers.engine import Engine
from kedge.specs import digests, loader
from kedge.specs.commands import Command, CommandReason, CommandType
from kedge.store import SqliteStore


class Kedge:
    def __init__(self, folder: pathlib.Path, stack: str) -> None:
        self.folder = folder
        self.stack = stack
        self.store = SqliteStore.open(folder / "kedge.db")
        self.engine = Engine.from_env()
        self.lines: list[tuple[str, str]] = []

    def close(self) -> None:
        self.store.close()
        self.engine.close()

    def write(self, text: str, *, name: str = "spec.yaml") -> pathlib.Path:
        path = self.folder / name
        path.write_text(text.replace("STACK", self.stack))
        return path

    def up(self, text: str, **options: Any) -> Command:
        spec = loader.load_file(self.write(text))
        # as kedge up does it: the one record-and-apply (#15), then the pass in-process
        recorded = self.store.versions.record(
            spec.name,
            loader.canonical(spec),
            digest=digests.digest(spec),
            source="test",
            apply=CommandReason.CLI,
            apply_options=options,
            desired=True,
        )
        assert recorded.command is not None
        return passes.run_queued(self.store, self.engine, recorded.command, echo=self._echo)

    def rollback(self, version: int) -> Command:
        return self.run(CommandType.ROLLBACK, version=version)

    def down(self, *, volumes: bool = False) -> Command:
        return self.run(CommandType.DELETE, options={"remove_volumes": volumes})

    def run(self, type: CommandType, **fields: Any) -> Command:
        return passes.run_now(
            self.store, self.engine, stack=self.stack, type=type, echo=self._echo, **fields
        )

    def _echo(self, level: str, message: str) -> None:
        self.lines.append((level, message))
