"""The preview (observe + plan) that the API, the CLI and the controller share: a refused
plan is returned by ``preview`` (raised by ``plan_stack``), and a stack already observed (a
resync's snapshot) is planned without asking Docker again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kedge.planning import planner
from kedge.planning.actions import PlanRefused
from kedge.reconcilers import preview
from kedge.reconcilers.engine import Engine
from tests.unit.planning.test_planner import EXTERNAL, SHOP, nothing, parse


@pytest.fixture
def engine() -> Iterator[Engine]:
    opened = Engine.from_env()  # never asked: every test hands the observation in
    yield opened
    opened.close()


def test_a_given_observation_is_planned_as_it_is(engine: Engine) -> None:
    spec, seen = parse(SHOP), nothing(SHOP)
    planned = preview.preview(engine, spec.name, spec, observed=seen)
    assert planned.observed is seen
    assert planned.plan.render() == planner.plan(spec, seen).render()
    assert not planned.plan.is_empty


def test_a_refused_plan_is_returned_not_raised(engine: Engine) -> None:
    spec = parse(EXTERNAL)
    seen = nothing(EXTERNAL).model_copy(update={"external_networks": frozenset()})
    with pytest.raises(PlanRefused):
        planner.plan(spec, seen)
    planned = preview.preview(engine, spec.name, spec, observed=seen, options=preview.APPLYING)
    assert planned.plan.is_refused
    assert "docker network create traefik" in planned.plan.render()
