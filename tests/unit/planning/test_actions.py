"""Plan shape: the DAG, render, options, refusal; observed snapshots are frozen and strict."""

from __future__ import annotations

import pydantic
import pytest

from kedge.errors import PlanError
from kedge.planning.actions import Action, ActionKind, Plan, PlanOptions, PlanRefused, Refusal
from kedge.planning.observed import ObservedContainer, ObservedStack

K = ActionKind


# the plan is a DAG now (issue 15): actions carry id, after and level, no wave; render() shows
# the level where it showed the wave, render_graph() the edges
def test_plan_renders_one_line_each_by_level_and_its_edges() -> None:
    def db(number: int) -> Action:
        target = f"container:shop-db-{number}"
        return Action(kind=K.CREATE_CONTAINER, target=target, cause="missing", after=(1,), level=2)

    network = Action(kind=K.CREATE_NETWORK, target="network:shop_default", cause="missing")
    plan = Plan(
        stack="shop",
        actions=(
            network.model_copy(update={"id": 1, "level": 1}),
            db(1).model_copy(update={"id": 2}),
            db(2).model_copy(update={"id": 3}),
        ),
    )
    assert len(plan) == 3
    assert not plan.is_empty
    assert plan.render() == (
        "1  create_network   network:shop_default: missing\n"
        "2  create_container container:shop-db-1: missing\n"
        "2  create_container container:shop-db-2: missing"
    )
    assert plan.render_graph() == (
        "[] -> #1 create_network network:shop_default: missing\n"
        "[1] -> #2 create_container container:shop-db-1: missing\n"
        "[1] -> #3 create_container container:shop-db-2: missing"
    )
    assert plan.summary() == "2 create_container, 1 create_network"


def test_an_empty_plan_renders_empty() -> None:
    plan = Plan(stack="shop")
    assert plan.is_empty
    assert len(plan) == 0
    assert plan.render() == ""
    assert plan.summary() == "nothing to do"


def test_a_refused_plan_is_an_error_that_keeps_the_plan() -> None:
    plan = Plan(stack="shop", refusals=(Refusal(target="volume:shop_data", cause="no"),))
    error = PlanRefused(plan)
    assert isinstance(error, PlanError)
    assert error.plan is plan
    assert "volume:shop_data: no" in str(error)
    assert plan.render() == "!! refused         volume:shop_data: no"
    assert not error.temporary


@pytest.mark.parametrize(
    ("clears", "temporary"),
    [
        pytest.param((True,), True, id="clears"),
        pytest.param((True, False), False, id="one-that-does-not-clear"),
        pytest.param((False,), False, id="does-not-clear"),
    ],
)
def test_a_refused_plan_is_temporary_when_every_refusal_clears_by_itself(
    clears: tuple[bool, ...], temporary: bool
) -> None:
    refusals = tuple(Refusal(target=f"x:{n}", cause="c", clears=c) for n, c in enumerate(clears))
    assert PlanRefused(Plan(stack="shop", refusals=refusals)).temporary is temporary


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({}, PlanOptions(), id="default"),
        pytest.param({"allow_data_loss": True}, PlanOptions(allow_data_loss=True), id="loss"),
        pytest.param({"volumes": True}, PlanOptions(remove_volumes=True), id="down-volumes"),
        pytest.param({"remove_volumes": True, "x": 1}, PlanOptions(remove_volumes=True), id="rv"),
    ],
)
def test_options_from_a_command(options: dict[str, object], expected: PlanOptions) -> None:
    assert PlanOptions.from_command(options) == expected


def test_observed_snapshots_are_frozen_and_strict() -> None:
    container = ObservedContainer(
        id="c1", name="shop-web-1", stack="shop", service="web", number=1, state="running"
    )
    with pytest.raises(pydantic.ValidationError):
        ObservedContainer(id="c", name="n", stack="s", service="w", number=1, state="sleeping")  # type: ignore[arg-type]
    with pytest.raises(pydantic.ValidationError):
        container.state = "exited"  # type: ignore[misc]
    stack = ObservedStack(stack="shop", containers=(container,))
    assert stack.containers_of("web") == (container,)
    assert stack.containers_of("db") == ()
