"""The executor's DAG: what starts when, what a failure stops, how many run at once (#15).

The scheduling is Kedge's own logic, so its carry-out step is played by a ``_Run`` whose
actions sleep and record, without Docker; ``tests/integration`` runs real plans.
"""

from __future__ import annotations

import threading
import time

import pytest

from kedge import errors
from kedge.planning.actions import Action, ActionKind, Plan, WaitFor
from kedge.reconcilers import executor
from kedge.reconcilers.desired import Desired

K = ActionKind


def action(n: int, kind: ActionKind, name: str, *after: int) -> Action:
    condition = WaitFor.HEALTHY if kind is K.WAIT else None
    target = f"service:{name}" if kind is K.WAIT else f"container:{name}"
    return Action(
        kind=kind, target=target, cause="t", id=n, after=after, name=name, condition=condition
    )


class Played(executor._Run):  # the scheduler is what is tested
    """A run whose actions sleep ``seconds[name]`` (0.01 by default) and may fail."""

    def __init__(self, seconds: dict[str, float], *, failing: str = "") -> None:
        super().__init__(
            None,
            desired=Desired("shop"),
            log=lambda *_: None,  # type: ignore[arg-type]
            is_cancelled=lambda: False,
            watch=None,
        )
        self.seconds = seconds
        self.failing = failing
        self.started: list[str] = []
        self.ended: list[str] = []
        self.at_once = 0
        self.most = 0
        self.count = threading.Lock()

    def carry_out(self, action: Action) -> str:
        calls = action.kind is not K.WAIT
        with self.count:
            self.started.append(action.name)
            self.at_once += calls
            self.most = max(self.most, self.at_once)
        time.sleep(self.seconds.get(action.name, 0.01))
        with self.count:
            self.at_once -= calls
            self.ended.append(action.name)
        if action.name == self.failing:
            raise errors.EngineError(f"{action.name} failed")
        return ""


def run(plan: Plan, played: Played, *, parallel: int = 4) -> None:
    played.all(executor.graph(plan), parallel=parallel)


def test_a_slow_gate_holds_back_its_dependents_only() -> None:
    plan = Plan(
        stack="shop",
        actions=(
            action(1, K.START_CONTAINER, "db"),
            action(2, K.START_CONTAINER, "cache"),
            action(3, K.WAIT, "db-healthy", 1),
            action(4, K.START_CONTAINER, "web", 3),
            action(5, K.START_CONTAINER, "worker", 2),
        ),
    )
    played = Played({"db-healthy": 0.4})
    run(plan, played)
    assert played.ended[2:] == ["worker", "db-healthy", "web"]  # worker waits for no gate


def test_a_failure_stops_its_dependents_and_starts_nothing_new() -> None:
    plan = Plan(
        stack="shop",
        actions=(
            action(1, K.START_CONTAINER, "db"),
            action(2, K.START_CONTAINER, "slow"),
            action(3, K.START_CONTAINER, "web", 1),
            action(4, K.START_CONTAINER, "after-slow", 2),
        ),
    )
    played = Played({"db": 0.01, "slow": 0.3}, failing="db")
    with pytest.raises(errors.EngineError, match="db failed"):
        run(plan, played)
    assert sorted(played.started) == ["db", "slow"]  # neither web nor after-slow
    assert "slow" in played.ended  # the running one finished


def test_at_most_parallel_actions_call_docker_at_once() -> None:
    plan = Plan(
        stack="shop",
        actions=tuple(action(n, K.CREATE_CONTAINER, f"c{n}") for n in range(1, 11)),
    )
    played = Played({f"c{n}": 0.05 for n in range(1, 11)})
    run(plan, played, parallel=3)
    assert played.most == 3
    assert played.started == [f"c{n}" for n in range(1, 11)]  # ready ones start in plan order


def test_settle_waits_come_after_every_action_and_a_cut_plan_keeps_its_edges() -> None:
    plan = Plan(
        stack="shop",
        actions=(
            action(1, K.CREATE_CONTAINER, "db"),
            action(2, K.START_CONTAINER, "db", 1),
            action(4, K.START_CONTAINER, "web", 3),  # 3 was cut out of the plan
        ),
    )
    nodes = executor.graph(plan, settle=True)
    assert [n.after for n in nodes] == [(), (0,), (), (1, 2), (1, 2)]
    assert [n.action.condition for n in nodes[3:]] == [WaitFor.READY, WaitFor.READY]
