"""The inputs fingerprint of a spec file: it changes whenever loading could give another spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from kedge.specs import inputs

SPEC = "services:\n  app:\n    image: ${IMAGE:-busybox}\n    environment: [TOKEN]\n"


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text(SPEC)
    return path


def test_the_same_inputs_give_the_same_fingerprint(spec: Path):
    env = {"IMAGE": "x", "UNRELATED": "1"}
    assert inputs.fingerprint(spec, env=env) == inputs.fingerprint(spec, env=dict(env))
    assert inputs.fingerprint(spec, env=env) == inputs.fingerprint(spec, env={"IMAGE": "x"})


@pytest.mark.parametrize(
    "env",
    [
        {"IMAGE": "y"},  # an interpolated variable changed
        {},  # ... or became unset
        {"IMAGE": "x", "TOKEN": "t"},  # a bare `environment` key now has a value
        {"IMAGE": "x", "COMPOSE_PROFILES": "debug"},  # compose's own variables
    ],
)
def test_a_variable_the_spec_can_read_changes_it(spec: Path, env: dict[str, str]):
    assert inputs.fingerprint(spec, env=env) != inputs.fingerprint(spec, env={"IMAGE": "x"})


def test_the_file_its_dotenv_and_its_path_change_it(spec: Path, tmp_path: Path):
    before = inputs.fingerprint(spec, env={})
    (tmp_path / ".env").write_text("IMAGE=z\n")
    with_dotenv = inputs.fingerprint(spec, env={})
    assert with_dotenv != before
    (tmp_path / ".env").write_text("IMAGE=w\n")
    assert inputs.fingerprint(spec, env={}) != with_dotenv
    spec.write_text(SPEC + "    command: [sleep, '1']\n")
    assert inputs.fingerprint(spec, env={}) not in (before, with_dotenv)
    other = tmp_path / "other.yaml"
    other.write_text(spec.read_text())
    assert inputs.fingerprint(other, env={}) != inputs.fingerprint(spec, env={})


def test_a_variable_named_only_in_dotenv_counts(spec: Path, tmp_path: Path):
    (tmp_path / ".env").write_text("IMAGE=${REGISTRY}/app\n")
    assert inputs.fingerprint(spec, env={"REGISTRY": "a"}) != inputs.fingerprint(
        spec, env={"REGISTRY": "b"}
    )


@pytest.mark.parametrize(
    "extra",
    [
        "    env_file: app.env\n",
        "    build: .\n",
        "    extends: {file: base.yaml, service: base}\n",
        "    label_file: labels.env\n",
        "secrets:\n  key: {file: ./key.txt}\n",
        "include: [other.yaml]\n",
    ],
)
def test_a_spec_that_reads_other_files_has_none(spec: Path, extra: str):
    spec.write_text(SPEC + extra)
    assert inputs.fingerprint(spec, env={}) is None


def test_an_unreadable_file_has_none(tmp_path: Path):
    assert inputs.fingerprint(tmp_path / "missing.yaml", env={}) is None


SECRET_SPEC = (
    "services:\n  app:\n    image: busybox\n    secrets: [token]\n"
    "secrets:\n  token: {environment: TOKEN}\n"
)


def test_a_spec_that_may_read_a_secret_from_a_variable_gets_a_slow_fingerprint(tmp_path: Path):
    path = tmp_path / "app.yaml"
    path.write_text(SECRET_SPEC)
    first = inputs.fingerprint(path, env={"TOKEN": "abc"})
    assert first is not None
    assert first.startswith("scrypt:")
    assert first == inputs.fingerprint(path, env={"TOKEN": "abc"})
    assert first != inputs.fingerprint(path, env={"TOKEN": "abd"})
    assert str(inputs.fingerprint(tmp_path / "app.yaml", env={})).startswith("scrypt:")
    path.write_text(SPEC)
    assert str(inputs.fingerprint(path, env={"TOKEN": "abc"})).startswith("sha256:")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A compose project folder with a sub-folder to run from."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "compose.yaml").write_text(SPEC)
    return tmp_path


def test_a_discovered_project_is_fingerprinted_as_its_files_given_in_order(project: Path):
    discovered = inputs.project_fingerprint([], cwd=project, env={})
    assert discovered is not None
    assert discovered == inputs.project_fingerprint(["compose.yaml"], cwd=project, env={})
    assert discovered == inputs.project_fingerprint([], cwd=project / "sub", env={})
    (project / "compose.override.yaml").write_text("services: {app: {command: [a]}}\n")
    with_override = inputs.project_fingerprint([], cwd=project, env={})
    assert with_override not in (None, discovered)
    both = ["compose.yaml", "compose.override.yaml"]
    assert with_override == inputs.project_fingerprint(both, cwd=project, env={})
    reversed_order = inputs.project_fingerprint(both[::-1], cwd=project, env={})
    assert reversed_order not in (None, with_override)
    (project / "compose.override.yaml").write_text("services: {app: {command: [b]}}\n")
    assert inputs.project_fingerprint([], cwd=project, env={}) != with_override


def test_the_working_folders_dotenv_counts_for_a_discovered_project(project: Path):
    before = inputs.project_fingerprint([], cwd=project / "sub", env={})
    (project / "sub" / ".env").write_text("IMAGE=from-sub\n")
    after = inputs.project_fingerprint([], cwd=project / "sub", env={})
    assert after not in (None, before)
    given = inputs.project_fingerprint(["../compose.yaml"], cwd=project / "sub", env={})
    assert given == inputs.project_fingerprint(["compose.yaml"], cwd=project, env={})


@pytest.mark.parametrize(
    ("dotenv", "env"),
    [
        pytest.param(None, {"COMPOSE_FILE": "compose.yaml"}, id="COMPOSE_FILE"),
        pytest.param("COMPOSE_FILE=compose.yaml\n", {}, id="COMPOSE_FILE in .env"),
    ],
)
def test_files_chosen_by_compose_file_have_no_fingerprint(
    project: Path, dotenv: str | None, env: dict[str, str]
):
    if dotenv is not None:
        (project / "sub" / ".env").write_text(dotenv)
    assert inputs.project_fingerprint([], cwd=project / "sub", env=env) is None
    assert inputs.project_fingerprint(["../compose.yaml"], cwd=project / "sub", env=env)


def test_no_compose_file_has_no_fingerprint(tmp_path: Path):
    assert inputs.project_fingerprint([], cwd=tmp_path, env={}) is None
