"""Sync derived from a plan: a table with ids (health: ``tests/unit/planning/test_health``)."""

from __future__ import annotations

import pytest

from kedge.controller.status import Sync, derive_sync


@pytest.mark.parametrize(
    ("actions", "expected"),
    [(0, Sync.SYNCED), (3, Sync.OUT_OF_SYNC), (None, Sync.UNKNOWN)],
    ids=["empty-plan", "actions-left", "no-plan"],
)
def test_sync(actions: int | None, expected: Sync) -> None:
    assert derive_sync(plan_actions=actions) == expected
