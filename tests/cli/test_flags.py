"""The verbs' shared flags are one definition each (``cli.options``), and the compose-like
verbs refuse a project they cannot read before touching Docker or the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kedge.cli import main

COMPOSE_LIKE = ["up", "down", "plan"]
WITH_A_STORE = ["up", "down", "plan", "rollback", "serve", "controller"]
PROJECT_FLAGS = {"--file": "-f", "--project-name": "-p", "--env-file": None, "--profile": None}


def params(verb: str) -> dict[str, Any]:
    command = main.load_verb(verb, rich_markup_mode=None)
    return {p.opts[0]: p for p in command.params if p.opts[0].startswith("--")}


def describe(param: Any) -> tuple[Any, ...]:
    return (tuple(param.opts), param.envvar, param.help, param.multiple, str(param.default))


@pytest.mark.parametrize("flag", PROJECT_FLAGS)
def test_the_compose_like_verbs_take_compose_project_flags_alike(flag: str) -> None:
    found = {verb: describe(params(verb)[flag]) for verb in COMPOSE_LIKE}
    assert len(set(found.values())) == 1, found
    short = PROJECT_FLAGS[flag]
    assert short is None or short in found["up"][0]
    assert found["up"][3] == (flag != "--project-name")  # every one but -p repeats


def test_every_verb_with_a_store_takes_the_same_db_flag() -> None:
    found = {verb: describe(params(verb)["--db"]) for verb in WITH_A_STORE}
    backup = main.load_verb("db", rich_markup_mode=None).commands["backup"]  # type: ignore[attr-defined]
    found["db backup"] = describe(next(p for p in backup.params if p.opts[0] == "--db"))
    assert len(set(found.values())) == 1, found
    assert found["plan"][1] == "KEDGE_DB"


def kedge(*args: str, **env: str) -> Any:
    return CliRunner().invoke(main.app, list(args), env={"COMPOSE_FILE": None, **env})


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        pytest.param(["up"], {}, "no compose file found", id="up: no file"),
        pytest.param(["down"], {}, "no compose file found", id="down: no file"),
        pytest.param(["plan", "-f", "nope.yaml"], {}, "nope.yaml' does not exist", id="no -f"),
        pytest.param(["up", "-p", "Shop"], {}, "invalid project name 'Shop' (from -p)", id="-p"),
        pytest.param(["down", "-p", "Shop"], {}, "invalid project name 'Shop'", id="down -p"),
        pytest.param(
            ["up", "-f", "{spec}"],
            {"COMPOSE_PROJECT_NAME": "My App"},
            "(from COMPOSE_PROJECT_NAME)",
            id="COMPOSE_PROJECT_NAME",
        ),
        pytest.param(
            ["down"],
            {"COMPOSE_PROJECT_NAME": "Shop"},
            "(from COMPOSE_PROJECT_NAME)",
            id="down: COMPOSE_PROJECT_NAME, read before any file",
        ),
        pytest.param(
            ["up", "-f", "{spec}", "--env-file", "gone.env"],
            {},
            "check the path given to --env-file",
            id="--env-file",
        ),
        pytest.param(
            ["down", "shop", "-f", "{spec}"], {}, "give either a stack NAME", id="down NAME -f"
        ),
    ],
)
def test_a_project_that_cannot_be_read_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], says: str
) -> None:
    spec = tmp_path / "project" / "compose.yaml"
    spec.parent.mkdir()
    spec.write_text("services: {app: {image: busybox}}\n")
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")
    db = tmp_path / "k.db"
    args = [a.replace("{spec}", str(spec)) for a in args]
    result = kedge(*args, "--db", str(db), **env)
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert not db.exists()  # refused before the store was opened


def test_down_and_delete_take_the_same_volumes_flag() -> None:
    found = {verb: describe(params(verb)["--volumes"]) for verb in ("down", "delete")}
    assert len(set(found.values())) == 1, found
    assert found["down"][0] == ("--volumes",)


@pytest.mark.parametrize("verb", ["up", "plan"])
def test_a_broken_project_file_says_where_and_what(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verb: str
) -> None:
    """A file the user named is theirs: its YAML error says what is wrong, where (an
    ``include``d file's error names only the line, as it may be anything)."""
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: x\n   bad: [\n")
    monkeypatch.chdir(tmp_path)
    result = kedge(verb, "--db", str(tmp_path / "k.db"))
    assert result.exit_code == 2, result.output
    assert "compose.yaml:4:4: YAML syntax error: did not find expected key" in result.output
    assert "check the indentation" in result.output
