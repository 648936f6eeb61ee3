"""An action tried again only when its error says when and how (no sleep in a reconciler)."""

from __future__ import annotations

import pytest

from kedge import errors
from kedge.reconcilers import retrying


def test_an_error_that_names_its_retry_is_waited_out() -> None:
    waited: list[float] = []
    calls: list[int] = []

    def second() -> None:
        calls.append(2)

    def first() -> None:
        calls.append(1)
        raise errors.EndpointsActive("has active endpoints", retry_after=0.5, retry=second)

    retrying.attempt(first, pause=waited.append)
    assert calls == [1, 2]
    assert waited == [0.5]


def test_any_other_error_is_raised_at_once() -> None:
    waited: list[float] = []

    def refused() -> None:
        raise errors.EndpointsActive("has active endpoints (attached: intruder)")

    with pytest.raises(errors.EndpointsActive, match="intruder"):
        retrying.attempt(refused, pause=waited.append)
    assert waited == []
