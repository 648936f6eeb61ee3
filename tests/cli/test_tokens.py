"""``kedge token`` offline on ``--db`` (the bootstrap: no server, no default password),
``kedge login`` (checks the token with the server, keeps it with mode 0600) and ``kedge auth
whoami``; the remote verbs send ``KEDGE_TOKEN`` (which wins) or the kept token as a bearer.
Issue #16, first slice. A live API over a real SQLite store, no Docker."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from kedge.cli.main import app as kedge_app
from kedge.store.sqlite import SqliteStore
from tests.api.conftest import Seed
from tests.cli.conftest import LiveServer


def run(*args: str, env: dict[str, str | None] | None = None, stdin: str | None = None) -> Result:
    given: dict[str, str | None] = {"NO_COLOR": "1", "KEDGE_TOKEN": None, "COLUMNS": "200"}
    return CliRunner().invoke(kedge_app, list(args), input=stdin, env=given | (env or {}))


def create(db: Path, *args: str) -> str:
    made = run("token", "create", "--db", str(db), *args)
    assert made.exit_code == 0, made.output
    return made.stdout.strip()


# -- kedge token, offline ---------------------------------------------------------------------


def test_token_create_works_offline_and_prints_the_token_once(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"  # no store yet, no server: the first start
    made = run(
        "token", "create", "--db", str(db), "--name", "ci", "--role", "operator",
        "--stacks", "shop-*", "--expires", "30d",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("kedge_")
    assert made.stdout == secret + "\n"  # stdout holds the token alone: `$(kedge token create)`
    assert "shown once" in made.stderr
    store = SqliteStore.open(db)
    try:
        (token,) = store.tokens.list()
        assert (token.name, token.role, token.stacks) == ("ci", "operator", ("shop-*",))
        assert token.expires_at is not None
        assert token.expires_at - token.created_at == timedelta(days=30)
        found = store.tokens.authenticate(secret)
        assert found is not None
        assert found.name == "ci"
    finally:
        store.close()


def test_token_list_never_prints_a_secret(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    first = create(db, "--name", "ci", "--role", "operator")
    second = create(db, "--name", "admin", "--role", "admin")
    assert run("token", "revoke", "ci", "--db", str(db)).exit_code == 0
    listed = run("token", "list", "--db", str(db))
    assert listed.exit_code == 0, listed.output
    for secret in (first, second):
        assert secret not in listed.output
        assert secret[len("kedge_") :][:8] not in listed.output
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert "revoked" in rows["ci"]
    assert "active" in rows["admin"]


def test_the_store_file_never_holds_a_secret(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    secret = create(db, "--name", "ci", "--role", "admin")
    for path in tmp_path.iterdir():  # the file and any WAL or journal beside it
        assert secret.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--name", "ci", "--role", "root"], 1, "role is one of viewer, operator, admin"),
        (["--name", "Bad Name"], 1, "name"),
        (["--name", "ci", "--expires", "30x"], 2, "--expires"),
        (["--name", "ci", "--expires", "0d"], 2, "--expires"),
    ],
)
def test_token_create_refuses_bad_input(
    tmp_path: Path, args: list[str], code: int, says: str
) -> None:
    db = tmp_path / "k.db"
    made = run("token", "create", "--db", str(db), *args)
    assert made.exit_code == code, made.output
    assert says in made.stderr
    assert "kedge_" not in made.stdout


def test_token_create_refuses_a_taken_name_and_revoke_an_unknown_one(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    create(db, "--name", "ci")
    again = run("token", "create", "--db", str(db), "--name", "ci")
    assert again.exit_code == 1
    assert "exists" in again.stderr
    unknown = run("token", "revoke", "nobody", "--db", str(db))
    assert unknown.exit_code == 1
    assert "no token named 'nobody'" in unknown.stderr


# -- login, whoami and the bearer of the remote verbs ------------------------------------------


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return tmp_path / "config"


def test_login_checks_the_token_and_keeps_it_with_mode_0600(
    live: LiveServer, store: SqliteStore, config: Path
) -> None:
    secret = store.tokens.create("ci", role="operator", stacks=("*",), lifetime=None).secret
    env: dict[str, str | None] = {"KEDGE_SERVER": live.url, "XDG_CONFIG_HOME": str(config)}
    logged = run("login", env=env, stdin=secret + "\n")
    assert logged.exit_code == 0, logged.output
    assert "token:ci" in logged.stdout
    kept = config / "kedge" / "token"
    assert kept.read_text() == secret + "\n"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    who = run("auth", "whoami", env=env)
    assert who.exit_code == 0, who.output
    assert who.stdout.strip() == "token:ci (role operator, stacks *)"


def test_login_with_a_bad_token_keeps_nothing(
    live: LiveServer, store: SqliteStore, config: Path
) -> None:
    store.tokens.create("ci", role="operator", stacks=("*",), lifetime=None)
    env: dict[str, str | None] = {"KEDGE_SERVER": live.url, "XDG_CONFIG_HOME": str(config)}
    logged = run("login", env=env, stdin="kedge_" + "B" * 43 + "\n")
    assert logged.exit_code == 2
    assert "unknown, revoked or expired" in logged.stderr
    assert not (config / "kedge" / "token").exists()


def test_login_to_a_server_without_identity_keeps_nothing(live: LiveServer, config: Path) -> None:
    env: dict[str, str | None] = {"KEDGE_SERVER": live.url, "XDG_CONFIG_HOME": str(config)}
    logged = run("login", env=env, stdin="kedge_" + "B" * 43 + "\n")
    assert logged.exit_code == 2
    assert "no identity configured" in logged.stderr
    assert not (config / "kedge" / "token").exists()


def test_the_remote_verbs_send_the_token_and_kedge_token_wins(
    live: LiveServer, store: SqliteStore, seed: Seed, config: Path
) -> None:
    seed.version("shop")
    kept = store.tokens.create("kept", role="viewer", stacks=("*",), lifetime=None).secret
    env: dict[str, str | None] = {"KEDGE_SERVER": live.url, "XDG_CONFIG_HOME": str(config)}
    anonymous = run("get", "stacks", env=env)
    assert anonymous.exit_code == 2
    assert "Authentication is required" in anonymous.stderr
    assert run("login", env=env, stdin=kept).exit_code == 0
    assert "shop" in run("get", "stacks", env=env).stdout
    ci = store.tokens.create("ci", role="operator", stacks=("*",), lifetime=None).secret
    who = run("auth", "whoami", env=env | {"KEDGE_TOKEN": ci})
    assert who.stdout.startswith("token:ci ")
    revoked = run("auth", "whoami", env=env | {"KEDGE_TOKEN": "kedge_" + "C" * 43})
    assert revoked.exit_code == 2  # a wrong KEDGE_TOKEN is not helped by the kept file


def test_serve_offers_metrics_auth() -> None:
    shown = run("serve", "--help")
    assert shown.exit_code == 0, shown.output
    assert "--metrics-auth" in shown.stdout
