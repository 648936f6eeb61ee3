"""The token contract of the ``Store`` protocol (issue #16), run on every backend: a token is
shown once and kept only as its digest; names are unique forever; revoked and expired tokens
do not authenticate; ``any_active`` and ``generation`` say when authentication is on."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kedge import errors
from kedge.store import Store
from kedge.store import tokens as token_rules
from tests.unit.store.conftest import MovableClock


def test_a_made_token_authenticates_as_itself(store: Store) -> None:
    made = store.tokens.create("ci", role="operator", stacks=("shop-*",), lifetime=None)
    assert made.secret.startswith(token_rules.PREFIX)
    found = store.tokens.authenticate(made.secret)
    assert found is not None
    assert (found.name, found.role, found.stacks) == ("ci", "operator", ("shop-*",))
    assert store.tokens.authenticate(made.secret + "x") is None
    assert store.tokens.authenticate("kedge_" + "A" * 43) is None
    assert store.tokens.authenticate("") is None


def test_each_token_is_random(store: Store) -> None:
    first = store.tokens.create("a", role="viewer", stacks=("*",), lifetime=None).secret
    second = store.tokens.create("b", role="viewer", stacks=("*",), lifetime=None).secret
    assert first != second
    assert token_rules.digest(first) != token_rules.digest(second)


def test_expiry_is_the_stores_clock(store: Store, clock: MovableClock) -> None:
    made = store.tokens.create("ci", role="viewer", stacks=("*",), lifetime=timedelta(days=30))
    clock.advance(timedelta(days=30) - timedelta(seconds=1))
    assert store.tokens.authenticate(made.secret) is not None
    clock.advance(timedelta(seconds=1))
    assert store.tokens.authenticate(made.secret) is None
    assert store.tokens.any_active()  # expired is not revoked: authentication stays on


def test_revocation_is_final_and_turns_authentication_off_when_last(store: Store) -> None:
    assert not store.tokens.any_active()
    before = store.tokens.generation
    made = store.tokens.create("ci", role="admin", stacks=("*",), lifetime=None)
    assert store.tokens.any_active()
    first = store.tokens.revoke("ci").revoked_at
    assert store.tokens.revoke("ci").revoked_at == first
    assert store.tokens.authenticate(made.secret) is None
    assert not store.tokens.any_active()
    assert store.tokens.generation == before + 3
    with pytest.raises(errors.NotFoundError):
        store.tokens.revoke("nobody")
    with pytest.raises(errors.ConflictError):
        store.tokens.create("ci", role="admin", stacks=("*",), lifetime=None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("2w", timedelta(weeks=2))],
)
def test_expiries(text: str, expected: timedelta) -> None:
    assert token_rules.parse_expiry(text) == expected


@pytest.mark.parametrize("text", ["", "0d", "30", "d", "-1d", "1y", "1.5d", "30 days"])
def test_bad_expiries(text: str) -> None:
    with pytest.raises(ValueError, match="expiry"):
        token_rules.parse_expiry(text)
