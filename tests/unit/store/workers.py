"""Worker processes for the store's multi-process tests (importable, so that spawn and
forkserver children can run them).

Each worker writes a journal: one line per event, flushed before it goes on, so that the
parent can compare what the worker saw (or acknowledged) with what the database holds. A
worker that meets any error writes ``error <repr>`` and exits 1.
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from kedge.specs.commands import CommandReason, CommandStatus, CommandType
from kedge.store import RetryPolicy, SqliteStore

CHURN_POLICY = RetryPolicy(max_attempts=2, backoff=timedelta(0))
CHURN_STACKS = ["s0", "s1", "s2", "s3", "s4"]


def _note(journal: TextIO, line: str) -> None:
    journal.write(line + "\n")
    journal.flush()


def _guard(journal_path: str, work: object, *args: object) -> None:
    with open(journal_path, "a", encoding="utf-8") as journal:
        try:
            work(journal, *args)  # type: ignore[operator]
        except BaseException as exc:
            _note(journal, f"error {exc!r}")
            sys.exit(1)


def claim_and_finish(db: str, worker: str, journal_path: str) -> None:
    """Claim and finish commands until none is left; journal each claim and finish."""
    _guard(journal_path, _claim_and_finish, db, worker)


def _claim_and_finish(journal: TextIO, db: str, worker: str) -> None:
    store = SqliteStore.open(db)
    idle = 0
    while True:
        held = store.commands.claim(worker)
        if held is None:
            if not store.commands.list(status=CommandStatus.PENDING, limit=1).items:
                break
            idle += 1
            time.sleep(0.001)
            continue
        _note(journal, f"claim {held.id} {held.stack} {held.token} {time.monotonic_ns()}")
        store.commands.heartbeat(held.id, token=held.token)
        store.commands.log(held.id, token=held.token, message=f"run by {worker}")
        _note(journal, f"finish {held.id} {held.stack} {held.token} {time.monotonic_ns()}")
        store.commands.finish(held.id, token=held.token, status=CommandStatus.DONE, actions=1)
    _note(journal, f"done idle={idle}")
    store.close()


def record_versions(db: str, worker: str, journal_path: str, count: int) -> None:
    """Record ``count`` specs of their own and one shared spec of stack ``shop``."""
    _guard(journal_path, _record_versions, db, worker, count)


def _record_versions(journal: TextIO, db: str, worker: str, count: int) -> None:
    store = SqliteStore.open(db)
    digests = [f"{worker}-{n}" for n in range(count)]
    digests.insert(count // 2, "shared")
    for digest in digests:
        recorded = store.versions.record("shop", {"d": digest}, digest=digest, source=worker)
        _note(journal, f"version {digest} {recorded.version.number} {int(recorded.created)}")
    store.close()


def churn(db: str, journal_path: str, seed: int) -> None:
    """Enqueue, claim, log and finish at random, forever; acknowledge each committed write.

    The parent kills it with SIGKILL; every line in the journal is a write that committed.
    """
    _guard(journal_path, _churn, db, seed)


def _churn(journal: TextIO, db: str, seed: int) -> None:
    rng = random.Random(seed)
    store = SqliteStore.open(db)
    worker = f"churn-{os.getpid()}"
    held: list[tuple[int, int]] = []
    _note(journal, "ready")
    while True:
        roll = rng.random()
        if roll < 0.3:
            kind = rng.choice([CommandType.APPLY, CommandType.DEPLOY, CommandType.RECONCILE])
            command = store.commands.enqueue(
                rng.choice(CHURN_STACKS), kind, reason=CommandReason.API
            )
            _note(journal, f"enqueue {command.id}")
        elif roll < 0.4:
            digest = f"{seed}-{rng.random()}"
            version = store.versions.record(
                rng.choice(CHURN_STACKS), {"d": digest}, digest=digest, source="churn"
            ).version
            _note(journal, f"version {version.stack} {version.number} {digest}")
        elif roll < 0.6 and len(held) < 3:
            claimed = store.commands.claim(worker)
            if claimed is not None:
                held.append((claimed.id, claimed.token))
                _note(journal, f"claim {claimed.id} {claimed.token} {worker}")
        elif roll < 0.8 and held:
            command_id, token = rng.choice(held)
            line = store.commands.log(command_id, token=token, message=f"m{rng.random()}")
            _note(journal, f"log {command_id} {line.seq} {line.message}")
        elif held:
            command_id, token = held.pop(rng.randrange(len(held)))
            status = rng.choice([CommandStatus.DONE, CommandStatus.FAILED])
            finished = store.commands.finish(
                command_id, token=token, status=status, retry=CHURN_POLICY
            )
            retry = finished.retry.id if finished.retry else 0
            _note(journal, f"finish {command_id} {status.value} {retry}")


def write_steadily(db: str, journal_path: str, per_second: float, seconds: float) -> None:
    """Enqueue commands at a steady rate; acknowledge each."""
    _guard(journal_path, _write_steadily, db, per_second, seconds)


def _write_steadily(journal: TextIO, db: str, per_second: float, seconds: float) -> None:
    store = SqliteStore.open(db)
    _note(journal, "ready")
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        command = store.commands.enqueue(
            f"s{n % 7}", CommandType.DEPLOY, reason=CommandReason.API, options={"n": n}
        )
        _note(journal, f"enqueue {command.id}")
        n += 1
        time.sleep(max(0.0, n / per_second - (time.monotonic() - start)))
    store.close()


def read_journal(path: Path) -> list[list[str]]:
    """The complete lines of a journal, split into words (a torn last line is dropped)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = text.split("\n")[:-1]  # whatever follows the last newline was not acknowledged
    return [line.split(" ") for line in lines]
