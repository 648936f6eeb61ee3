"""The daemon's refusals as the most specific engine error, read once (P7 of the review):
the status, and the words of the conflicts Docker answers with another status."""

from __future__ import annotations

import pytest

from kedge import errors
from kedge.reconcilers import refusals

ENDPOINTS = "error while removing network: network shop_back id 72fc has active endpoints"
IN_PROGRESS = "removal of container 3f2a is already in progress"


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        pytest.param(403, ENDPOINTS, errors.EndpointsActive, id="endpoints-403"),
        pytest.param(409, IN_PROGRESS, errors.RemovalInProgress, id="removal-409"),
        pytest.param(409, "name is already in use", errors.EngineConflict, id="conflict-409"),
        pytest.param(403, "port is already allocated", errors.EngineConflict, id="words-403"),
        pytest.param(404, "no such network", errors.EngineNotFound, id="not-found"),
        pytest.param(503, "busy", errors.EngineUnavailable, id="unavailable"),
        pytest.param(400, "invalid reference", errors.EngineRejected, id="bad-request"),
        pytest.param(500, "something", errors.EngineRejected, id="otherwise"),
    ],
)
def test_a_refusal_is_its_most_specific_class(
    status: int, message: str, kind: type[errors.EngineError]
) -> None:
    found = refusals.refused(f"call: {message}", status=status)
    assert type(found) is kind
    assert str(found) == f"call: {message}"


def test_the_call_says_what_a_plain_refusal_means() -> None:
    found = refusals.refused("pull image a:1: x", status=500, otherwise=errors.EngineNotFound)
    assert type(found) is errors.EngineNotFound
