"""Contract: the command queue — enqueue and supersede, claim, the holder's writes under a
fencing token, cancel, recovery with the retry policy, and pruning."""

from __future__ import annotations

import pathlib
from datetime import datetime, timedelta, timezone

import pytest

from kedge import errors
from kedge.specs.commands import Command, CommandReason, CommandStatus, CommandType
from kedge.store import RetentionPolicy, RetryPolicy, SqliteStore, Store

from .conftest import MovableClock

APPLY, ROLLBACK, DELETE, DEPLOY, RECONCILE = (
    CommandType.APPLY,
    CommandType.ROLLBACK,
    CommandType.DELETE,
    CommandType.DEPLOY,
    CommandType.RECONCILE,
)
LEASE = timedelta(seconds=30)
POLICY = RetryPolicy(
    max_attempts=3, backoff=timedelta(seconds=10), backoff_cap=timedelta(seconds=15)
)


def enqueue(store: Store, stack: str = "shop", kind: CommandType = DEPLOY, **kw: object) -> Command:
    return store.commands.enqueue(stack, kind, reason=CommandReason.API, **kw)  # type: ignore[arg-type]


def claim(store: Store, worker: str = "w1") -> Command:
    command = store.commands.claim(worker)
    assert command is not None
    return command


def test_enqueue_records_a_pending_command(store: Store, clock: MovableClock) -> None:
    store.versions.record("shop", {}, digest="a", source="api")
    command = store.commands.enqueue(
        "shop",
        APPLY,
        reason=CommandReason.FILE,
        version=1,
        created_by="watcher",
        options={"allow_data_loss": True},
    )
    assert command.status is CommandStatus.PENDING
    assert (command.stack, command.type, command.version) == ("shop", APPLY, 1)
    assert (command.reason, command.created_by) == (CommandReason.FILE, "watcher")
    assert command.options == {"allow_data_loss": True}
    assert (command.attempt, command.retry_of, command.token) == (1, None, 0)
    assert command.created_at == clock.now
    assert store.commands.get(command.id) == command
    assert store.stacks.get("shop").stack == "shop"


def test_enqueue_of_a_missing_version_is_refused(store: Store) -> None:
    with pytest.raises(errors.NotFoundError, match="has no version 3"):
        enqueue(store, kind=APPLY, version=3)


@pytest.mark.parametrize(
    ("older", "newer", "cancelled"),
    [
        pytest.param([APPLY], APPLY, [True], id="apply-supersedes-apply"),
        pytest.param([DELETE, RECONCILE], ROLLBACK, [False, True], id="rollback-supersedes"),
        pytest.param([APPLY], RECONCILE, [True], id="reconcile-supersedes-apply"),
        pytest.param([DELETE, DEPLOY], APPLY, [False, False], id="apply-keeps-delete-deploy"),
        pytest.param([APPLY], DELETE, [False], id="delete-supersedes-nothing"),
        pytest.param([APPLY], DEPLOY, [False], id="deploy-supersedes-nothing"),
    ],
)
def test_supersede(
    store: Store, older: list[CommandType], newer: CommandType, cancelled: list[bool]
) -> None:
    store.versions.record("shop", {}, digest="a", source="api")
    olds = [enqueue(store, kind=kind, version=1) for kind in older]
    other = enqueue(store, stack="other", kind=APPLY)
    new = enqueue(store, kind=newer, version=1)
    for old, is_cancelled in zip(olds, cancelled, strict=True):
        seen = store.commands.get(old.id)
        if is_cancelled:
            assert seen.status is CommandStatus.CANCELLED
            assert seen.outcome == f"superseded by #{new.id}"
            assert seen.finished_at is not None
        else:
            assert seen.status is CommandStatus.PENDING
    assert store.commands.get(other.id).status is CommandStatus.PENDING


def test_supersede_leaves_a_running_command(store: Store) -> None:
    running = claim(store) if enqueue(store, kind=APPLY) else None
    assert running is not None
    enqueue(store, kind=APPLY)
    assert store.commands.get(running.id).status is CommandStatus.RUNNING


def test_claim_takes_the_oldest_and_one_per_stack(store: Store) -> None:
    a1 = enqueue(store, "a")
    b1 = enqueue(store, "b")
    a2 = enqueue(store, "a")
    first = claim(store, "w1")
    second = claim(store, "w2")
    assert (first.id, second.id) == (a1.id, b1.id)
    assert first.status is CommandStatus.RUNNING
    assert (first.worker, first.started_at is not None, first.heartbeat_at) == (
        "w1",
        True,
        first.started_at,
    )
    assert store.commands.claim("w3") is None  # a2 waits for a1
    store.commands.finish(first.id, token=first.token, status=CommandStatus.DONE)
    assert claim(store, "w3").id == a2.id
    assert store.commands.claim("w3") is None


def test_tokens_grow_with_every_claim(store: Store) -> None:
    for stack in "abc":
        enqueue(store, stack)
    tokens = [claim(store).token for _ in range(3)]
    assert tokens == sorted(tokens)
    assert len(set(tokens)) == 3
    assert tokens[0] >= 1


def test_not_before_holds_a_command_and_its_stack(store: Store, clock: MovableClock) -> None:
    later = enqueue(store, "a", not_before=clock.now + timedelta(seconds=5))
    after = enqueue(store, "a")
    other = enqueue(store, "b")
    assert claim(store).id == other.id
    assert store.commands.claim("w") is None  # a's head is not due, and a keeps its order
    clock.advance(timedelta(seconds=5))
    held = claim(store)
    assert held.id == later.id
    store.commands.finish(held.id, token=held.token, status=CommandStatus.DONE)
    assert claim(store).id == after.id


def test_the_holder_heartbeats_logs_plans_and_finishes(store: Store, clock: MovableClock) -> None:
    enqueue(store)
    held = claim(store)
    clock.advance(timedelta(seconds=3))
    beat = store.commands.heartbeat(held.id, token=held.token)
    assert beat.heartbeat_at == clock.now
    assert not beat.cancel_requested
    line = store.commands.log(held.id, token=held.token, message="pulled", fields={"n": 1})
    assert (line.seq, line.message, line.fields, line.level) == (1, "pulled", {"n": 1}, "info")
    assert store.commands.record_plan(held.id, token=held.token, plan="create x").plan == "create x"
    done = store.commands.finish(
        held.id, token=held.token, status=CommandStatus.DONE, outcome="1 created", actions=1
    )
    assert done.retry is None
    assert done.command.status is CommandStatus.DONE
    assert (done.command.outcome, done.command.actions) == ("1 created", 1)
    assert done.command.finished_at == clock.now


def test_finish_only_to_a_final_status(store: Store) -> None:
    enqueue(store)
    held = claim(store)
    with pytest.raises(errors.ConflictError, match="DONE, FAILED or CANCELLED"):
        store.commands.finish(held.id, token=held.token, status=CommandStatus.PENDING)


def test_a_wrong_token_is_fenced(store: Store) -> None:
    enqueue(store)
    held = claim(store)
    stale = held.token - 1
    with pytest.raises(errors.FencingError, match="is stale"):
        store.commands.heartbeat(held.id, token=stale)
    with pytest.raises(errors.FencingError):
        store.commands.log(held.id, token=stale, message="x")
    with pytest.raises(errors.FencingError):
        store.commands.finish(held.id, token=stale, status=CommandStatus.DONE)
    assert store.commands.logs(held.id) == []
    store.commands.finish(held.id, token=held.token, status=CommandStatus.DONE)
    with pytest.raises(errors.FencingError, match="no longer RUNNING"):
        store.commands.finish(held.id, token=held.token, status=CommandStatus.FAILED)


def test_a_holder_whose_lease_was_taken_over_cannot_write(
    store: Store, clock: MovableClock
) -> None:
    enqueue(store, kind=APPLY)
    lost = claim(store, "slow")
    store.commands.log(lost.id, token=lost.token, message="before")
    clock.advance(LEASE + timedelta(seconds=1))
    [resolved] = store.commands.recover(lease=LEASE, policy=RetryPolicy(backoff=timedelta(0)))
    assert resolved.retry is not None
    taker = claim(store, "fast")
    assert taker.id == resolved.retry.id
    assert taker.token > lost.token
    for write in (
        lambda: store.commands.finish(lost.id, token=lost.token, status=CommandStatus.DONE),
        lambda: store.commands.log(lost.id, token=lost.token, message="after"),
        lambda: store.commands.heartbeat(lost.id, token=lost.token),
        lambda: store.commands.record_plan(lost.id, token=lost.token, plan="p"),
        lambda: store.commands.log(taker.id, token=lost.token, message="into the new one"),
        lambda: store.commands.finish(taker.id, token=lost.token, status=CommandStatus.DONE),
    ):
        with pytest.raises(errors.FencingError):
            write()
    assert store.commands.get(lost.id).status is CommandStatus.FAILED
    assert [line.message for line in store.commands.logs(lost.id)] == ["before"]
    assert store.commands.logs(taker.id) == []
    finished = store.commands.finish(taker.id, token=taker.token, status=CommandStatus.DONE)
    assert finished.command.status is CommandStatus.DONE


def test_cancel(store: Store) -> None:
    pending = enqueue(store, "a")
    enqueue(store, "b")
    running = claim(store) if store.commands.cancel(pending.id, by="ann") else None
    assert store.commands.get(pending.id).status is CommandStatus.CANCELLED
    assert store.commands.get(pending.id).outcome == "cancelled by ann"
    assert running is not None
    asked = store.commands.cancel(running.id)
    assert (asked.status, asked.cancel_requested) == (CommandStatus.RUNNING, True)
    assert store.commands.heartbeat(running.id, token=running.token).cancel_requested
    store.commands.finish(running.id, token=running.token, status=CommandStatus.CANCELLED)
    with pytest.raises(errors.ConflictError, match="already CANCELLED"):
        store.commands.cancel(running.id)
    with pytest.raises(errors.NotFoundError, match="no command #999"):
        store.commands.cancel(999)


@pytest.mark.parametrize(
    ("attempt", "delay"),
    [
        pytest.param(1, 10, id="first"),
        pytest.param(2, 20, id="doubles"),
        pytest.param(3, 40, id="doubles-again"),
        pytest.param(6, 60, id="capped"),
        pytest.param(100_000, 60, id="capped-without-overflow"),
    ],
)
def test_retry_backoff(attempt: int, delay: int) -> None:
    policy = RetryPolicy(
        max_attempts=9, backoff=timedelta(seconds=10), backoff_cap=timedelta(seconds=60)
    )
    assert policy.delay(attempt) == timedelta(seconds=delay)


def test_failed_commands_retry_until_the_attempt_limit(store: Store, clock: MovableClock) -> None:
    enqueue(store, kind=APPLY, options={"volumes": True})
    attempts = []
    while (held := store.commands.claim("w")) is not None:
        attempts.append(held)
        finished = store.commands.finish(
            held.id, token=held.token, status=CommandStatus.FAILED, error="boom", retry=POLICY
        )
        if finished.retry is not None:
            retry = finished.retry
            assert (retry.attempt, retry.retry_of) == (held.attempt + 1, held.id)
            assert retry.reason is CommandReason.RETRY
            assert (retry.type, retry.options) == (APPLY, {"volumes": True})
            assert retry.not_before == clock.now + POLICY.delay(held.attempt)
            assert store.commands.claim("w") is None  # not due yet
            clock.advance(POLICY.delay(held.attempt))
    assert [c.attempt for c in attempts] == [1, 2, 3]


def _fail(store: Store, held: Command, policy: RetryPolicy) -> Command | None:
    return store.commands.finish(
        held.id, token=held.token, status=CommandStatus.FAILED, error="boom", retry=policy
    ).retry


KEEP_CONVERGING = RetryPolicy(
    max_attempts=None, backoff=timedelta(seconds=10), backoff_cap=timedelta(minutes=5)
)


def test_without_an_attempt_limit_retries_go_on_at_the_cap(
    store: Store, clock: MovableClock
) -> None:
    store.versions.record("shop", {}, digest="a", source="api")
    enqueue(store, kind=APPLY, version=1)
    delays = []
    for _ in range(8):
        retry = _fail(store, claim(store), KEEP_CONVERGING)
        assert retry is not None
        assert retry.not_before is not None
        delays.append((retry.not_before - clock.now).total_seconds())
        assert store.commands.claim("w") is None  # not due yet
        clock.advance(retry.not_before - clock.now)
    assert delays == [10, 20, 40, 80, 160, 300, 300, 300]
    assert claim(store).attempt == 9


def test_a_waiting_retry_is_in_the_store_and_survives_a_restart(
    tmp_path: pathlib.Path, clock: MovableClock
) -> None:
    first = SqliteStore.open(tmp_path / "kedge.db", clock=clock)
    first.versions.record("shop", {}, digest="a", source="api")
    enqueue(first, kind=APPLY, version=1)
    retry = _fail(first, claim(first), KEEP_CONVERGING)
    first.close()  # the controller stops while the retry waits
    again = SqliteStore.open(tmp_path / "kedge.db", clock=clock)
    try:
        assert again.commands.claim("w") is None
        clock.advance(timedelta(seconds=10))
        taken = claim(again)
        assert retry is not None
        assert (taken.id, taken.retry_of, taken.attempt) == (retry.id, retry.retry_of, 2)
    finally:
        again.close()


@pytest.mark.parametrize(
    ("newer", "cancelled"),
    [
        pytest.param(APPLY, True, id="a-new-version-replaces-it"),
        pytest.param(DELETE, True, id="a-delete-does-not-wait-behind-it"),
        pytest.param(DEPLOY, False, id="a-deploy-waits"),
    ],
)
def test_a_waiting_retry_is_superseded(store: Store, newer: CommandType, cancelled: bool) -> None:
    store.versions.record("shop", {}, digest="a", source="api")
    enqueue(store, kind=APPLY, version=1)
    retry = _fail(store, claim(store), KEEP_CONVERGING)
    assert retry is not None
    new = enqueue(store, kind=newer, version=1)
    seen = store.commands.get(retry.id)
    assert (seen.status is CommandStatus.CANCELLED) == cancelled
    if cancelled:
        assert seen.outcome == f"superseded by #{new.id}"


def test_no_retry_when_something_newer_is_queued(store: Store) -> None:
    enqueue(store, kind=APPLY)
    held = claim(store)
    newer = enqueue(store, kind=DELETE)
    finished = store.commands.finish(
        held.id, token=held.token, status=CommandStatus.FAILED, retry=POLICY
    )
    assert finished.retry is None
    assert claim(store).id == newer.id


def test_recover_fails_stale_commands_and_retries_them(store: Store, clock: MovableClock) -> None:
    enqueue(store, "lost", kind=APPLY)
    enqueue(store, "alive")
    lost = claim(store, "w-lost")
    alive = claim(store, "w-alive")
    clock.advance(LEASE)
    store.commands.heartbeat(alive.id, token=alive.token)
    assert store.commands.recover(lease=LEASE, policy=POLICY) == []  # not older than the lease
    clock.advance(timedelta(seconds=1))
    [resolved] = store.commands.recover(lease=LEASE, policy=POLICY)
    assert resolved.command.id == lost.id
    assert resolved.command.status is CommandStatus.FAILED
    assert resolved.command.error is not None
    assert resolved.command.error.startswith("worker lost: no heartbeat from w-lost")
    assert resolved.retry is not None
    assert (resolved.retry.attempt, resolved.retry.retry_of) == (2, lost.id)
    assert resolved.retry.not_before == clock.now + POLICY.backoff
    assert store.commands.get(alive.id).status is CommandStatus.RUNNING


def test_recover_stops_at_the_attempt_limit(store: Store, clock: MovableClock) -> None:
    enqueue(store)
    policy = RetryPolicy(max_attempts=2, backoff=timedelta(0))
    held = [claim(store)]
    clock.advance(LEASE * 2)
    [first] = store.commands.recover(lease=LEASE, policy=policy)
    assert first.retry is not None
    held.append(claim(store))
    clock.advance(LEASE * 2)
    [second] = store.commands.recover(lease=LEASE, policy=policy)
    assert second.retry is None
    assert [c.attempt for c in held] == [1, 2]
    assert store.commands.claim("w") is None


@pytest.mark.parametrize(
    ("kind", "retried"),
    [
        pytest.param(APPLY, True, id="apply-keeps-converging"),
        pytest.param(DEPLOY, False, id="deploy"),
    ],
)
def test_recover_keeps_converging_commands_past_the_attempt_limit(
    store: Store, clock: MovableClock, kind: CommandType, retried: bool
) -> None:
    enqueue(store, kind=kind)
    policy = RetryPolicy(max_attempts=1, backoff=timedelta(0))
    claim(store)
    clock.advance(LEASE * 2)
    [lost] = store.commands.recover(lease=LEASE, policy=policy, converge=KEEP_CONVERGING)
    assert (lost.retry is not None) == retried
    if lost.retry is not None:
        assert lost.retry.not_before == clock.now + KEEP_CONVERGING.backoff


def test_prune(store: Store, clock: MovableClock) -> None:
    def run(kind: CommandType, actions: int) -> Command:
        enqueue(store, kind=kind)
        held = claim(store)
        store.commands.log(held.id, token=held.token, message="line 1")
        store.commands.log(held.id, token=held.token, message="line 2")
        store.commands.finish(held.id, token=held.token, status=CommandStatus.DONE, actions=actions)
        return held

    old_noop = run(RECONCILE, 0)
    old_change = run(RECONCILE, 2)
    old_apply = run(APPLY, 0)
    clock.advance(timedelta(days=3))
    new_noop = run(RECONCILE, 0)
    policy = RetentionPolicy(logs_for=timedelta(days=2), noop_reconciles_for=timedelta(days=1))
    pruned = store.commands.prune(policy)
    assert (pruned.commands, pruned.log_lines) == (1, 6)
    with pytest.raises(errors.NotFoundError):
        store.commands.get(old_noop.id)
    assert store.commands.logs(old_change.id) == []
    assert store.commands.get(old_apply.id).status is CommandStatus.DONE
    assert len(store.commands.logs(new_noop.id)) == 2
    assert store.commands.prune(policy) == pruned.model_copy(update={"commands": 0, "log_lines": 0})


def test_logs_follow_by_sequence_number(store: Store) -> None:
    enqueue(store)
    held = claim(store)
    for n in range(5):
        store.commands.log(held.id, token=held.token, message=f"line {n}", level="debug")
    assert [line.seq for line in store.commands.logs(held.id)] == [1, 2, 3, 4, 5]
    tail = store.commands.logs(held.id, after=3)
    assert [(line.seq, line.message) for line in tail] == [(4, "line 3"), (5, "line 4")]
    assert store.commands.logs(held.id, after=5) == []
    assert [line.seq for line in store.commands.logs(held.id, after=1, limit=2)] == [2, 3]
    with pytest.raises(errors.NotFoundError):
        store.commands.logs(12345)


def _repair(store: Store, version: int = 1) -> Command | None:
    return store.commands.enqueue_repair("shop", version=version, reason=CommandReason.DRIFT)


def test_a_repair_goes_towards_the_applied_version_of_an_idle_stack(store: Store) -> None:
    store.versions.record("shop", {}, digest="a", source="api")
    store.stacks.set_status("shop", applied_version=1)
    repair = _repair(store)
    assert repair is not None
    assert (repair.type, repair.version, repair.reason) == (RECONCILE, 1, CommandReason.DRIFT)


def test_a_repair_is_not_queued_while_another_command_will_converge_the_stack(
    store: Store,
) -> None:
    """The drift sources check and enqueue in one transaction: a repair towards version 1
    queued behind a RUNNING apply of version 2 would put version 1 back after it."""
    store.versions.record("shop", {}, digest="a", source="api")
    store.versions.record("shop", {"x": 1}, digest="b", source="api")
    store.stacks.set_status("shop", applied_version=1)
    enqueue(store, kind=APPLY, version=2)
    assert _repair(store) is None  # an APPLY is PENDING
    held = claim(store)
    assert _repair(store) is None  # it is RUNNING
    store.commands.finish(held.id, token=held.token, status=CommandStatus.DONE)
    store.stacks.set_status("shop", applied_version=2)
    assert _repair(store, version=1) is None  # version 1 is no longer applied
    repair = _repair(store, version=2)
    assert repair is not None
    assert repair.version == 2
    assert [
        c.id for c in store.commands.list(stack="shop", status=CommandStatus.PENDING).items
    ] == [repair.id]


def test_a_time_at_the_calendars_edge_filters_rather_than_fails(store: Store) -> None:
    """``since=0001-01-01T00:00:00+00:01`` (found by the API's schema fuzzing) is before year
    1 in UTC: it means "from the beginning", not an overflow and a 500."""
    store.commands.enqueue("shop", CommandType.APPLY, reason=CommandReason.API)
    edge = datetime(1, 1, 1, tzinfo=timezone(timedelta(minutes=1)))
    assert len(store.commands.list(since=edge).items) == 1
    late = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(minutes=-1)))
    assert store.commands.list(since=late).items == []
