"""The store under real processes: concurrent claims and versions, SIGKILL at random points,
and a backup while another process writes (issue 3, *Done when* 2, 3 and 5).

Children come from the forkserver context with the store preloaded, so each starts fast;
each journals what it saw or acknowledged, and the tests compare the journals with the
database.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import random
import signal
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from kedge.specs.commands import CommandReason, CommandStatus, CommandType
from kedge.store import SqliteStore

from . import workers

CTX = multiprocessing.get_context("forkserver")
CTX.set_forkserver_preload(["kedge.store", "tests.unit.store.workers"])


def run_all(processes: list[multiprocessing.process.BaseProcess], timeout: float = 90) -> None:
    for process in processes:
        process.start()
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.1, deadline - time.monotonic()))
    alive = [p for p in processes if p.is_alive()]
    for process in alive:
        process.kill()
    assert not alive, f"{len(alive)} workers did not finish in {timeout}s"


def errors_in(journals: list[Path]) -> list[str]:
    return [" ".join(w) for j in journals for w in workers.read_journal(j) if w[0] == "error"]


def test_eight_processes_claim_and_finish_400_commands(tmp_path: Path) -> None:
    db = tmp_path / "kedge.db"
    store = SqliteStore.open(db)
    for n in range(400):
        store.commands.enqueue(f"stack-{n % 20}", CommandType.DEPLOY, reason=CommandReason.API)
    journals = [tmp_path / f"worker-{n}.journal" for n in range(8)]
    run_all(
        [
            CTX.Process(target=workers.claim_and_finish, args=(str(db), f"w{n}", str(journal)))
            for n, journal in enumerate(journals)
        ]
    )
    assert errors_in(journals) == []  # in particular, no "database is locked"

    claims = [w for j in journals for w in workers.read_journal(j) if w[0] == "claim"]
    claimed_ids = [int(w[1]) for w in claims]
    assert sorted(claimed_ids) == list(range(1, 401)), "each command claimed exactly once"
    assert len({int(w[3]) for w in claims}) == 400, "each claim got its own token"

    # What the workers saw: per stack, no two claim..finish windows overlap.
    windows: dict[str, list[tuple[int, int]]] = defaultdict(list)
    starts = {(w[1]): int(w[4]) for w in claims}
    for j in journals:
        for w in workers.read_journal(j):
            if w[0] == "finish":
                windows[w[2]].append((starts[w[1]], int(w[4])))
    assert sum(len(v) for v in windows.values()) == 400
    for stack, spans in windows.items():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start > end, f"two commands of {stack} ran at once"

    # What the database says: all DONE, and per stack the RUNNING spans never overlap.
    done = []
    cursor = None
    while True:
        page = store.commands.list(limit=1000, cursor=cursor)
        done += page.items
        if (cursor := page.next_cursor) is None:
            break
    assert {c.status for c in done} == {CommandStatus.DONE}
    by_stack: dict[str, list[tuple[object, object]]] = defaultdict(list)
    for command in done:
        by_stack[command.stack].append((command.started_at, command.finished_at))
    for stack, spans_db in by_stack.items():
        spans_db.sort()
        for (_, end), (start, _) in itertools.pairwise(spans_db):
            assert start >= end, f"two commands of {stack} were RUNNING at once"  # type: ignore[operator]
    assert store.check().ok
    store.close()


def test_eight_processes_record_versions_without_gaps(tmp_path: Path) -> None:
    db = tmp_path / "kedge.db"
    SqliteStore.open(db).close()
    journals = [tmp_path / f"worker-{n}.journal" for n in range(8)]
    run_all(
        [
            CTX.Process(target=workers.record_versions, args=(str(db), f"w{n}", str(j), 15))
            for n, j in enumerate(journals)
        ]
    )
    assert errors_in(journals) == []
    seen = [w for j in journals for w in workers.read_journal(j) if w[0] == "version"]
    own = {w[1]: int(w[2]) for w in seen if w[1] != "shared"}
    shared = [(int(w[2]), w[3]) for w in seen if w[1] == "shared"]
    expected = 8 * 15 + 1
    assert sorted([*own.values(), shared[0][0]]) == list(range(1, expected + 1))
    assert len({number for number, _ in shared}) == 1, "the shared spec maps to one version"
    assert sorted(created for _, created in shared) == ["0"] * 7 + ["1"]
    store = SqliteStore.open(db)
    for digest, number in own.items():
        assert store.versions.get("shop", number).digest == digest
    latest = store.versions.latest("shop")
    assert latest is not None
    assert latest.number == expected
    store.close()


def check_acknowledged(store: SqliteStore, journal: list[list[str]]) -> None:
    """Every write the child acknowledged is in the database."""
    for words in journal:
        match words:
            case ["enqueue", command_id]:
                store.commands.get(int(command_id))
            case ["version", stack, number, digest]:
                assert store.versions.get(stack, int(number)).digest == digest
            case ["claim", command_id, token, worker]:
                command = store.commands.get(int(command_id))
                assert (command.token, command.worker) == (int(token), worker)
                assert command.status is not CommandStatus.PENDING
            case ["log", command_id, seq, message]:
                lines = store.commands.logs(int(command_id), after=int(seq) - 1, limit=1)
                assert [(line.seq, line.message) for line in lines] == [(int(seq), message)]
            case ["finish", command_id, status, retry]:
                assert store.commands.get(int(command_id)).status == status
                if retry != "0":
                    assert store.commands.get(int(retry)).retry_of == int(command_id)


def recover_and_check(store: SqliteStore) -> int:
    """Resolve the dead child's RUNNING commands by the policy; return how many."""
    running = store.commands.list(status=CommandStatus.RUNNING, limit=1000).items
    resolved = store.commands.recover(lease=timedelta(0), policy=workers.CHURN_POLICY)
    assert sorted(f.command.id for f in resolved) == sorted(c.id for c in running)
    for finished in resolved:
        lost = finished.command
        assert lost.status is CommandStatus.FAILED
        assert lost.error is not None
        assert lost.error.startswith("worker lost")
        newer = [
            c
            for c in store.commands.list(stack=lost.stack, status=CommandStatus.PENDING).items
            if c.id > lost.id and c.id != (finished.retry.id if finished.retry else 0)
        ]
        should_retry = workers.CHURN_POLICY.allows_retry(lost.attempt) and not newer
        assert (finished.retry is not None) == should_retry, lost
        if finished.retry is not None:
            assert (finished.retry.attempt, finished.retry.retry_of) == (lost.attempt + 1, lost.id)
    assert store.commands.list(status=CommandStatus.RUNNING).items == []
    return len(resolved)


def test_sigkill_at_twenty_random_points_loses_no_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "kedge.db"
    SqliteStore.open(db).close()
    rng = random.Random(3)
    recovered = 0
    for round_ in range(20):
        journal = tmp_path / f"churn-{round_}.journal"
        child = CTX.Process(target=workers.churn, args=(str(db), str(journal), round_))
        child.start()
        deadline = time.monotonic() + 30
        while not workers.read_journal(journal) and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.01, 0.25))
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
        assert child.exitcode == -signal.SIGKILL
        acknowledged = workers.read_journal(journal)
        assert acknowledged[0] == ["ready"]
        assert errors_in([journal]) == []

        store = SqliteStore.open(db)
        report = store.check()
        assert report.ok, report.problems
        check_acknowledged(store, acknowledged)
        recovered += recover_and_check(store)
        store.close()
    assert recovered > 0, "the kills left no RUNNING command to recover; the test proves little"


def test_a_backup_taken_during_fifty_writes_per_second_is_sound(tmp_path: Path) -> None:
    db = tmp_path / "kedge.db"
    store = SqliteStore.open(db)
    journal = tmp_path / "writer.journal"
    writer = CTX.Process(target=workers.write_steadily, args=(str(db), str(journal), 50, 2.0))
    writer.start()
    while len(workers.read_journal(journal)) < 40:  # about 0.8 s of writes
        time.sleep(0.01)
    before = len(workers.read_journal(journal)) - 1
    store.backup(tmp_path / "backup.db")
    after = len(workers.read_journal(journal)) - 1
    writer.join(30)
    assert writer.exitcode == 0
    assert errors_in([journal]) == []
    total = len(workers.read_journal(journal)) - 1
    assert total >= 60, f"the writer made only {total} writes in 2 s (50/s asked)"
    assert after < total, "the backup did not overlap the writes"

    copy = SqliteStore.open(tmp_path / "backup.db", migrate=False)
    assert copy.check().ok
    copied = copy.commands.list(limit=1000).items
    assert before <= len(copied) <= after + 1
    assert sorted(c.id for c in copied) == list(range(1, len(copied) + 1)), "a consistent prefix"
    copy.close()
    store.close()
