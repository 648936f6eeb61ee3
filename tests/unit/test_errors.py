"""The error tree renders file:line:column, the field path, and a hint."""

from __future__ import annotations

import pytest

from kedge import errors


@pytest.mark.parametrize(
    ("error", "text"),
    [
        pytest.param(
            errors.SpecError(
                "unknown key",
                location=errors.Location("a.yaml", 3, 5, "services.web.imag"),
                hint="did you mean 'image'?",
            ),
            "a.yaml:3:5: services.web.imag: unknown key (hint: did you mean 'image'?)",
            id="full",
        ),
        pytest.param(errors.SpecError("empty"), "<string>: empty", id="bare"),
    ],
)
def test_spec_error_renders(error: errors.SpecError, text: str) -> None:
    assert str(error) == text


def test_spec_errors_lists_each() -> None:
    many = errors.SpecErrors([errors.SpecError("a"), errors.SpecError("b")])
    assert many.render() == "<string>: a\n<string>: b"
    assert many.errors[1].message == "b"


def test_temporary_flags() -> None:
    assert errors.EngineUnavailable("x").temporary
    assert not errors.EngineRejected("x").temporary
    assert not errors.SpecError("x").temporary
    assert not errors.PlanError("x").temporary
    assert errors.HealthError("x").temporary  # a dependency or the container may recover
    assert errors.EngineNotFound("x").temporary  # e.g. an image pushed later


def test_the_specific_conflicts_are_conflicts() -> None:
    for conflict in (errors.EndpointsActive("x"), errors.RemovalInProgress("x")):
        assert isinstance(conflict, errors.EngineConflict)
        assert conflict.temporary
        assert conflict.retry is None
        assert conflict.retry_after is None
