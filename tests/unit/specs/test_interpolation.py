"""Interpolation follows compose-go's ``template`` rules, and locates every problem."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kedge.errors import SpecError, SpecErrors
from kedge.specs.interpolation import UnsetVariable, interpolate, substitute
from kedge.specs.yamlsource import load_yaml

ENV = {"FOO": "first", "BAR": "", "PORT": "8080"}

SUBSTITUTIONS = [
    pytest.param("plain text", "plain text", id="no-dollar"),
    pytest.param("$$", "$", id="escaped-dollar"),
    pytest.param("$${FOO}", "${FOO}", id="escaped-braced"),
    pytest.param("$$FOO", "$FOO", id="escaped-named"),
    pytest.param("$FOO", "first", id="named"),
    pytest.param("${FOO}", "first", id="braced"),
    pytest.param("$FOO-bar", "first-bar", id="named-ends-at-non-name-char"),
    pytest.param("a${FOO}b$FOO.c", "afirstbfirst.c", id="several"),
    pytest.param("${MISSING}", "", id="unset-is-empty"),
    pytest.param("${BAR}", "", id="empty"),
    pytest.param("${MISSING:-def}", "def", id="soft-default-unset"),
    pytest.param("${BAR:-def}", "def", id="soft-default-empty"),
    pytest.param("${FOO:-def}", "first", id="soft-default-set"),
    pytest.param("${MISSING-def}", "def", id="hard-default-unset"),
    pytest.param("${BAR-def}", "", id="hard-default-empty"),
    pytest.param("${BAR:-/non:-alphanumeric}", "/non:-alphanumeric", id="default-keeps-operators"),
    pytest.param("${MISSING:-}", "", id="empty-default"),
    pytest.param("${MISSING-${FOO}}", "first", id="nested-braced"),
    pytest.param("${MISSING-$FOO}", "first", id="nested-named"),
    pytest.param("${BAR:-${FOO} ${FOO}}", "first first", id="nested-twice"),
    pytest.param("${A:-${B:-${FOO}}}", "first", id="nested-deep"),
    pytest.param("${MISSING-myerror?msg}", "myerror?msg", id="first-operator-wins"),
    pytest.param("${FOO?bar-baz}", "first", id="required-set"),
    pytest.param("${FOO:?err}", "first", id="required-nonempty-set"),
    pytest.param("${BAR?err}", "", id="required-allows-empty"),
    pytest.param("${FOO:+alt}", "alt", id="alt-set"),
    pytest.param("${BAR:+alt}", "", id="alt-nonempty-empty"),
    pytest.param("${BAR+alt}", "alt", id="alt-set-empty"),
    pytest.param("${MISSING+alt}", "", id="alt-unset"),
    pytest.param("${foo_1:-x}", "x", id="lowercase-name"),
    pytest.param("${PORT}:80", "8080:80", id="port"),
    pytest.param("${MISSING:-{a}}", "{a}", id="braces-in-default"),
    pytest.param("${MISSING:-a}}", "a}", id="extra-closing-brace-is-text"),
    pytest.param("€ ${FOO} ü", "€ first ü", id="unicode"),
    # a '$' that starts no substitution stays, as in compose
    pytest.param("$}", "$}", id="dollar-brace"),
    pytest.param("price: 5$", "price: 5$", id="trailing-dollar"),
    pytest.param("echo $1", "echo $1", id="positional"),
    pytest.param("$ FOO", "$ FOO", id="dollar-space"),
    pytest.param("${MISSING:-$}", "$", id="lone-dollar-as-default"),
    pytest.param("$$$", "$$", id="escaped-then-lone"),
]


@pytest.mark.parametrize(("template", "expected"), SUBSTITUTIONS)
def test_substitute(template: str, expected: str) -> None:
    assert substitute(template, ENV) == expected


INVALID = [
    pytest.param("${", "is never closed", id="open"),
    pytest.param("${FOO", "is never closed", id="unclosed-name"),
    pytest.param("${FOO:-${BAR}", "is never closed", id="unclosed-outer"),
    pytest.param("${}", "not a valid substitution", id="empty-braces"),
    pytest.param("${ }", "not a valid substitution", id="space"),
    pytest.param("${ foo}", "not a valid substitution", id="leading-space"),
    pytest.param("${foo }", "not a valid substitution", id="trailing-space"),
    pytest.param("${foo!}", "not a valid substitution", id="bang"),
    pytest.param("${foo:bar}", "not a valid substitution", id="colon-without-operator"),
    pytest.param("${1A}", "not a valid substitution", id="digit-first"),
]


@pytest.mark.parametrize(("template", "problem"), INVALID)
def test_substitute_rejects_invalid(template: str, problem: str) -> None:
    with pytest.raises(SpecError) as caught:
        substitute(template, ENV)
    assert problem in caught.value.message
    assert repr(template) in caught.value.message
    assert "$$" in caught.value.hint


REQUIRED = [
    pytest.param(
        "${MISSING:?Mandatory Variable Unset}",
        "MISSING",
        ": Mandatory Variable Unset",
        id="colon-unset",
    ),
    pytest.param("${BAR:?empty}", "BAR", ": empty", id="colon-empty"),
    pytest.param("${MISSING:?}", "MISSING", "", id="colon-no-message"),
    pytest.param("${MISSING?unset}", "MISSING", ": unset", id="plain-unset"),
    pytest.param("${MISSING?}", "MISSING", "", id="plain-no-message"),
    pytest.param("${MISSING?bar-baz}", "MISSING", ": bar-baz", id="message-with-dash"),
    pytest.param("${MISSING:?need ${FOO}}", "MISSING", ": need first", id="message-nested"),
    pytest.param("${FOO:-${MISSING:?x}}", "MISSING", ": x", id="default-evaluated-like-compose"),
]


@pytest.mark.parametrize(("template", "name", "detail"), REQUIRED)
def test_required_variables(template: str, name: str, detail: str) -> None:
    with pytest.raises(SpecError) as caught:
        substitute(template, ENV)
    assert caught.value.message == f"required variable {name} is missing a value{detail}"
    assert name in caught.value.hint


def test_unset_names_are_collected() -> None:
    unset: list[str] = []
    assert substitute("$A ${B} ${C:-x} ${FOO} ${D-y} ${E:+z}", ENV, unset=unset) == "  x first y "
    assert unset == ["A", "B"]


def test_interpolate_walks_values_not_keys() -> None:
    data: dict[str, Any] = {
        "services": {
            "${FOO}": {"image": "app:${FOO}", "ports": ["${PORT}:80", 443], "read_only": True},
        },
        "x-extra": {"note": "$FOO"},
        "count": 3,
        "nothing": None,
    }
    result = interpolate(data, ENV)
    assert result == {
        "services": {
            "${FOO}": {"image": "app:first", "ports": ["8080:80", 443], "read_only": True},
        },
        "x-extra": {"note": "first"},
        "count": 3,
        "nothing": None,
    }
    assert data["services"]["${FOO}"]["image"] == "app:${FOO}", "the input is not changed"


def test_interpolate_reports_every_problem_with_its_location() -> None:
    text = (
        "services:\n"
        "  web:\n"
        "    image: ${IMAGE\n"
        "    command: echo ${1\n"
        "    environment:\n"
        "      - KEY=${SECRET:?set SECRET}\n"
        "      - OK=$FOO\n"
    )
    document = load_yaml(text, source="shop.yaml")
    with pytest.raises(SpecErrors) as caught:
        interpolate(document.data, ENV, locate=document.locate)
    errors = caught.value.errors
    assert [(e.location.line, e.location.path) for e in errors] == [
        (3, "services.web.image"),
        (4, "services.web.command"),
        (6, "services.web.environment[0]"),
    ]
    assert all(e.location.file == "shop.yaml" for e in errors)
    assert "required variable SECRET is missing a value: set SECRET" in errors[2].message
    rendered = caught.value.render().splitlines()
    assert rendered[0].startswith("shop.yaml:3:5: services.web.image: invalid interpolation")


def test_interpolate_without_locate_names_the_path() -> None:
    with pytest.raises(SpecErrors) as caught:
        interpolate({"a": [{"b": "${"}]}, ENV)
    assert caught.value.errors[0].location.path == "a[0].b"


def test_interpolate_records_unset_variables_with_locations() -> None:
    document = load_yaml("services:\n  web:\n    image: ${TAG}x\n    user: $WHO\n", source="s.yaml")
    unset: list[UnsetVariable] = []
    interpolate(document.data, {}, locate=document.locate, unset=unset)
    assert [(u.name, u.location.line) for u in unset] == [("TAG", 3), ("WHO", 4)]
    assert unset[0].render() == (
        's.yaml:3:5: services.web.image: the "TAG" variable is not set, using an empty string'
    )


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_escaped_text_comes_back_unchanged(text: str) -> None:
    assert substitute(text.replace("$", "$$"), ENV) == text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="$"), max_size=40))
def test_text_without_dollar_is_untouched(text: str) -> None:
    assert substitute(text, {}) == text


@settings(max_examples=200, deadline=None)
@given(
    name=st.from_regex(r"[_A-Za-z][_A-Za-z0-9]{0,8}", fullmatch=True),
    value=st.text(max_size=10),
    default=st.text(alphabet=st.characters(blacklist_characters="${}"), max_size=10),
)
def test_operators_against_a_reference(name: str, value: str, default: str) -> None:
    for env in ({}, {name: ""}, {name: value}):
        got = env.get(name)
        assert substitute(f"${{{name}:-{default}}}", env) == (got if got else default)
        assert substitute(f"${{{name}-{default}}}", env) == (default if got is None else got)
        assert substitute(f"${{{name}:+{default}}}", env) == (default if got else got or "")
        assert substitute(f"${{{name}+{default}}}", env) == ("" if got is None else default)
