"""depends_on layers, cycles, gates and the depends-on label."""

from __future__ import annotations

import pytest

from kedge.errors import PlanError
from kedge.planning.actions import WaitFor
from kedge.planning.waves import (
    Condition,
    Dependency,
    find_cycle,
    order_layers,
    parse_depends_on_label,
    render_depends_on_label,
)

H = Condition.HEALTHY
C = Condition.COMPLETED


def deps(**spec: tuple[Dependency, ...] | tuple[str, ...]) -> dict[str, tuple[Dependency, ...]]:
    return {
        name: tuple(d if isinstance(d, Dependency) else Dependency(d) for d in entries)
        for name, entries in spec.items()
    }


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        pytest.param({}, (), id="empty"),
        pytest.param(deps(web=()), (("web",),), id="one"),
        pytest.param(deps(b=(), a=()), (("a", "b"),), id="independent-sorted"),
        pytest.param(
            deps(web=("api",), api=("db", "cache"), db=(), cache=(), worker=("db",)),
            (("cache", "db"), ("api", "worker"), ("web",)),
            id="dag",
        ),
        pytest.param(
            deps(web=("db", "api"), api=("db",), db=()),
            (("db",), ("api",), ("web",)),
            id="deepest-dependency-wins",
        ),
        pytest.param(deps(web=("gone",)), (("web",),), id="unknown-dependency-not-ordered"),
    ],
)
def test_order_layers(graph: dict[str, tuple[Dependency, ...]], expected: object) -> None:
    assert order_layers(graph) == expected


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        pytest.param(deps(a=("a",)), ("a", "a"), id="self"),
        pytest.param(deps(a=("b",), b=("a",)), ("a", "b", "a"), id="two"),
        pytest.param(
            deps(x=("a",), a=("b",), b=("c",), c=("a",)), ("a", "b", "c", "a"), id="three"
        ),
        pytest.param(deps(a=("b",), b=()), (), id="none"),
    ],
)
def test_find_cycle(graph: dict[str, tuple[Dependency, ...]], cycle: tuple[str, ...]) -> None:
    assert find_cycle(graph) == cycle


def test_a_cycle_is_a_plan_error_naming_it() -> None:
    with pytest.raises(PlanError, match=r"depends_on cycle: a -> b -> c -> a"):
        order_layers(deps(a=("b",), b=("c",), c=("a",)))


@pytest.mark.parametrize(
    ("condition", "wait_for"),
    [
        pytest.param(Condition.STARTED, WaitFor.STARTED, id="started"),
        pytest.param(Condition.HEALTHY, WaitFor.HEALTHY, id="healthy"),
        pytest.param(Condition.COMPLETED, WaitFor.COMPLETED, id="completed"),
    ],
)
def test_each_condition_has_its_gate(condition: Condition, wait_for: WaitFor) -> None:
    assert Dependency("db", condition).wait_for is wait_for


@pytest.mark.parametrize(
    ("dependencies", "label"),
    [
        pytest.param((), "", id="none"),
        pytest.param(
            (Dependency("db", H, restart=True), Dependency("cache")),
            "cache:service_started:false,db:service_healthy:true",
            id="sorted",
        ),
        pytest.param((Dependency("init", C),), "init:service_completed_successfully:false", id="c"),
    ],
)
def test_depends_on_label_round_trips(dependencies: tuple[Dependency, ...], label: str) -> None:
    assert render_depends_on_label(dependencies) == label
    parsed = parse_depends_on_label(label)
    assert {(d.service, d.condition, d.restart) for d in parsed} == {
        (d.service, d.condition, d.restart) for d in dependencies
    }


def test_a_garbled_label_keeps_what_parses() -> None:
    assert parse_depends_on_label("db:nonsense,,x") == (Dependency("db"), Dependency("x"))
