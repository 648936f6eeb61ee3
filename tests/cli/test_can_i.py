"""``kedge auth can-i VERB STACK`` (issue #16, Roles): it prints the server's answer (yes,
exit 0; no, exit 1 with the reason) and so agrees with what the routes do; each cell is asked
of the CLI and of the server's route it stands for. A live API over a real SQLite store, no
Docker."""

from __future__ import annotations

import httpx
import pytest

from kedge.store.sqlite import SqliteStore
from tests.cli.conftest import LiveServer
from tests.cli.test_tokens import run

# (role, patterns, verb, stack, allowed)
CELLS = [
    pytest.param("viewer", ("*",), "get", "shop-a", True, id="viewer-get"),
    pytest.param("viewer", ("*",), "apply", "shop-a", False, id="viewer-apply"),
    pytest.param("operator", ("shop-*",), "apply", "shop-a", True, id="shop-operator-apply"),
    pytest.param("operator", ("shop-*",), "apply", "web", False, id="shop-operator-apply-web"),
    pytest.param("operator", ("*",), "delete", "shop-a", False, id="operator-delete"),
    pytest.param("admin", ("*",), "delete", "web", True, id="admin-delete"),
]


@pytest.mark.parametrize(("role", "stacks", "verb", "stack", "allowed"), CELLS)
def test_can_i_agrees_with_the_server(
    live: LiveServer,
    store: SqliteStore,
    *,
    role: str,
    stacks: tuple[str, ...],
    verb: str,
    stack: str,
    allowed: bool,
) -> None:
    secret = store.tokens.create("ci", role=role, stacks=stacks, lifetime=None).secret
    env: dict[str, str | None] = {"KEDGE_SERVER": live.url, "KEDGE_TOKEN": secret}
    asked = run("auth", "can-i", verb, stack, env=env)
    assert asked.exit_code == (0 if allowed else 1), asked.output
    assert asked.stdout.strip() == ("yes" if allowed else "no")
    if not allowed:
        assert f"token 'ci' (role {role}) may not {verb} stack '{stack}'" in asked.stderr
    server = httpx.get(
        f"{live.url}/api/v1/can-i",
        params={"verb": verb, "stack": stack},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert server.json()["allowed"] is allowed


def test_can_i_without_an_identity_says_yes(live: LiveServer) -> None:
    asked = run("auth", "can-i", "delete", "shop-a", env={"KEDGE_SERVER": live.url})
    assert asked.exit_code == 0, asked.output
    assert asked.stdout.strip() == "yes"
