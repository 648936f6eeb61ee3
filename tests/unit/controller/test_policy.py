"""The follow-up policy (``controller.policy``): what comes after a pass, as a table.

Pure: a finished command, the look at the stack after it, the failed version's ``x-kedge``
and the backoff go in; the list of follow-ups comes out, in the order the worker applies it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kedge.controller import policy
from kedge.controller.assessor import Assessment
from kedge.controller.policy import Reconcile, Retry, RollBack, SetStatus
from kedge.controller.status import Sync
from kedge.planning.actions import Action, ActionKind, Plan
from kedge.planning.health import Health
from kedge.specs import loader
from kedge.specs.commands import Command, CommandReason, CommandStatus, CommandType
from kedge.specs.options import StackMeta
from kedge.store.records import Finished, StackStatus

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T, S = CommandType, CommandStatus


def command(
    type: CommandType = T.APPLY,
    status: CommandStatus = S.DONE,
    *,
    id: int = 7,
    version: int | None = 2,
    error: str | None = None,
    not_before: datetime | None = None,
    **options: object,
) -> Command:
    return Command(
        id=id,
        stack="shop",
        type=type,
        status=status,
        version=version,
        reason=CommandReason.API,
        created_at=NOW,
        error=error,
        not_before=not_before,
        options=dict(options),
    )


def retry_in(seconds: float) -> Command:
    return command(status=S.PENDING, id=8, not_before=NOW + timedelta(seconds=seconds), error=None)


def look(*, drift: str = "heal", actions: int = 1) -> Assessment:
    spec = loader.parse(
        f"name: shop\nx-kedge:\n  drift: {drift}\nservices:\n  web:\n    image: b:1\n"
    )
    found = tuple(
        Action(kind=ActionKind.START_CONTAINER, target="container:shop-web-1", cause="x", level=1)
        for _ in range(actions)
    )
    plan = Plan(stack="shop", actions=found)
    return Assessment(
        "shop",
        2,
        Sync.OUT_OF_SYNC if actions else Sync.SYNCED,
        Health.HEALTHY,
        plan=plan,
        spec=spec,
    )


ROLLS_BACK = StackMeta(on_failure="rollback")
STAYS = StackMeta()

CASES = [
    pytest.param(
        Finished(command=command()),
        look(actions=0),
        None,
        1,
        [SetStatus(applied_version=2, last_error=None)],
        id="apply-done-converges",
    ),
    pytest.param(
        Finished(command=command(T.DELETE, version=None)),
        None,
        None,
        1,
        [
            SetStatus(
                applied_version=None, last_error=None, sync="Synced", health="Missing", deleted=True
            )
        ],
        id="delete-done-leaves-it-missing",
    ),
    pytest.param(
        Finished(command=command(T.DEPLOY)),
        look(actions=0),
        None,
        1,
        [],
        id="deploy-done-changes-no-status",
    ),
    pytest.param(
        Finished(command=command(T.RECONCILE)),
        look(actions=2),
        None,
        2,
        [SetStatus(applied_version=2, last_error=None), Reconcile(version=2, delay=4.0)],
        id="drift-seen-after-a-pass-is-healed-after-the-repair-backoff",
    ),
    pytest.param(
        Finished(command=command()),
        look(drift="warn"),
        None,
        1,
        [SetStatus(applied_version=2, last_error=None)],
        id="drift-warn-is-not-healed",
    ),
    pytest.param(
        Finished(command=command(status=S.FAILED, error="boom"), retry=retry_in(30)),
        look(),
        None,
        1,
        [SetStatus(last_error="boom"), Retry(command=8, after=30.0)],
        id="failed-with-a-retry-wakes-when-it-may-run",
    ),
    pytest.param(
        Finished(command=command(status=S.FAILED, error="boom"), retry=retry_in(-5)),
        look(),
        None,
        1,
        [SetStatus(last_error="boom"), Retry(command=8, after=0.0)],
        id="a-retry-already-due-wakes-now",
    ),
    pytest.param(
        Finished(command=command(status=S.FAILED, error="boom")),
        look(),
        ROLLS_BACK,
        1,
        [SetStatus(last_error="boom"), RollBack(to=1)],
        id="failed-apply-rolls-back-when-asked",
    ),
    pytest.param(
        Finished(command=command(status=S.FAILED, error="boom")),
        look(),
        STAYS,
        1,
        [SetStatus(last_error="boom")],
        id="failed-apply-stays-by-default",
    ),
    pytest.param(
        Finished(command=command(status=S.FAILED, error="boom")),
        look(),
        ROLLS_BACK,
        2,
        [SetStatus(last_error="boom")],
        id="no-rollback-to-the-failed-version-itself",
    ),
    pytest.param(
        Finished(command=command(status=S.FAILED, error="boom")),
        look(),
        ROLLS_BACK,
        None,
        [SetStatus(last_error="boom")],
        id="no-rollback-without-an-applied-version",
    ),
    pytest.param(
        Finished(command=command(T.ROLLBACK, S.FAILED, error="boom")),
        look(),
        ROLLS_BACK,
        1,
        [SetStatus(last_error="boom")],
        id="only-an-apply-rolls-back",
    ),
    pytest.param(
        Finished(command=command(status=S.CANCELLED)),
        look(),
        None,
        1,
        [],
        id="cancelled-changes-nothing",
    ),
]


@pytest.mark.parametrize(("finished", "seen", "meta", "applied", "expected"), CASES)
def test_follow_ups(
    finished: Finished,
    seen: Assessment | None,
    meta: StackMeta | None,
    applied: int | None,
    expected: list[policy.FollowUp],
) -> None:
    state = policy.BackoffState(now=NOW, repair_delay=4.0)
    assert policy.follow_ups(finished, seen, meta, state, applied_version=applied) == expected


def test_the_stack_is_assessed_against_the_status_the_pass_leaves() -> None:
    before = StackStatus(
        stack="shop", applied_version=1, desired_version=2, created_at=NOW, updated_at=NOW
    )
    done = Finished(command=command())
    assert policy.status_after(before, done).applied_version == 2
    failed = Finished(command=command(status=S.FAILED, error="boom"))
    assert policy.status_after(before, failed) == before
    assert policy.is_assessed(done)
    assert not policy.is_assessed(Finished(command=command(T.DELETE, version=None)))
