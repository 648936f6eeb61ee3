"""Compose's project rules (``specs.projects`` + ``loader.load_project``) against compose's own.

Each case lays out a project folder, then asks both tools what project it is, with the same
working directory, arguments and environment: the compose v2 binary (``docker compose
config --format json``, which needs no daemon) and Kedge (``projects.resolve`` then
``loader.load_project``, as ``kedge up``/``down``/``plan`` do). Compared: the project's
name, the services that are active (profiles), and each one's merged image, command,
environment and labels — or that both refuse the project.

Where Kedge deliberately differs (written down in the README's CLI section): a service left
out by its profiles stays in the stored version, inactive (``StackSpec.active_services``), so
that enabling the profile later is a new version of the same stack.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kedge.errors import SpecError
from kedge.specs import loader, projects
from tests.compose_reference import required_compose_binary

BASE = """
services:
  web:
    image: busybox:${TAG:-1}
    command: [sleep, "1"]
    environment: {A: "${A:-unset}", B: "${B:-unset}", KEEP: base}
    labels: [from=base, kept=yes]
  debug:
    image: busybox
    profiles: [debug]
  tools:
    image: busybox
    profiles: [tools, ops]
"""
OVERRIDE = """
services:
  web:
    command: [sleep, "2"]
    environment: {A: override}
    labels: [from=override]
"""


@dataclass(frozen=True)
class Case:
    """A project folder (path → text, under the test's folder), where the verb runs (a
    sub-folder of it), its arguments and its environment."""

    files: dict[str, str]
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = "My_App.X"


CASES = {
    "discovery: compose.yaml and compose.override.yaml, from a sub-folder": Case(
        {"My_App.X/compose.yaml": BASE, "My_App.X/compose.override.yaml": OVERRIDE},
        cwd="My_App.X/sub",
    ),
    "discovery prefers compose.yaml, and compose.override.yml to docker-compose's": Case(
        {
            "My_App.X/compose.yaml": BASE,
            "My_App.X/docker-compose.yml": "services: {other: {image: busybox}}\n",
            "My_App.X/compose.override.yml": OVERRIDE,
            "My_App.X/docker-compose.override.yml": "services: {web: {image: nope}}\n",
        }
    ),
    "discovery of docker-compose.yml and its override": Case(
        {
            "My_App.X/docker-compose.yml": BASE,
            "My_App.X/docker-compose.override.yaml": OVERRIDE,
        }
    ),
    "discovery stops at the nearest folder with a file": Case(
        {
            "My_App.X/compose.yaml": "services: {outer: {image: busybox}}\n",
            "My_App.X/inner/compose.yaml": BASE,
            "My_App.X/compose.override.yaml": OVERRIDE,
        },
        cwd="My_App.X/inner/deeper",
    ),
    "-f twice: merged in order, named by the first file's folder": Case(
        {"Base/app.yaml": BASE, "elsewhere/more.yaml": OVERRIDE},
        args=["-f", "../Base/app.yaml", "-f", "../elsewhere/more.yaml"],
    ),
    "relative paths of every file are relative to the first file's folder": Case(
        {
            "Base/app.yaml": BASE,
            "Base/app.env": "C=base-folder\n",
            "elsewhere/more.yaml": "services:\n  web:\n    env_file: app.env\n",
            "elsewhere/app.env": "C=override-folder\n",
        },
        args=["-f", "../Base/app.yaml", "-f", "../elsewhere/more.yaml"],
    ),
    "-f alone: no override is discovered": Case(
        {"My_App.X/compose.yaml": BASE, "My_App.X/compose.override.yaml": OVERRIDE},
        args=["-f", "compose.yaml"],
    ),
    "!reset and !override in an override file": Case(
        {
            "My_App.X/compose.yaml": BASE,
            "My_App.X/compose.override.yaml": (
                "services:\n  web:\n    labels: !reset []\n"
                "    environment: !override {ONLY: this}\n"
            ),
        }
    ),
    "an empty file among several adds nothing": Case(
        {"My_App.X/compose.yaml": "# nothing yet\n", "My_App.X/compose.override.yaml": BASE}
    ),
    "an empty project is refused": Case(
        {"My_App.X/compose.yaml": "", "My_App.X/compose.override.yaml": "# nothing\n"}
    ),
    "COMPOSE_FILE, split on COMPOSE_PATH_SEPARATOR": Case(
        {"My_App.X/a.yaml": BASE, "My_App.X/b.yaml": OVERRIDE},
        env={"COMPOSE_FILE": "a.yaml;b.yaml", "COMPOSE_PATH_SEPARATOR": ";"},
    ),
    "name: of the last file that sets it, normalised": Case(
        {
            "My_App.X/compose.yaml": "name: base\n" + BASE,
            "My_App.X/compose.override.yaml": "name: Hello World.2\n" + OVERRIDE,
        }
    ),
    "COMPOSE_PROJECT_NAME over name:": Case(
        {"My_App.X/compose.yaml": "name: base\n" + BASE},
        env={"COMPOSE_PROJECT_NAME": "from-env"},
    ),
    "COMPOSE_PROJECT_NAME from .env": Case(
        {"My_App.X/compose.yaml": BASE, "My_App.X/.env": "COMPOSE_PROJECT_NAME=dotenv\n"}
    ),
    "-p over COMPOSE_PROJECT_NAME and name:": Case(
        {"My_App.X/compose.yaml": "name: base\n" + BASE},
        args=["-p", "given_1"],
        env={"COMPOSE_PROJECT_NAME": "from-env"},
    ),
    "an invalid -p is refused": Case({"My_App.X/compose.yaml": BASE}, args=["-p", "Not-Valid"]),
    "an invalid COMPOSE_PROJECT_NAME is refused": Case(
        {"My_App.X/compose.yaml": BASE}, env={"COMPOSE_PROJECT_NAME": "Shop"}
    ),
    "a folder whose name normalises to nothing is refused": Case(
        {"__/compose.yaml": BASE}, cwd="__"
    ),
    "no compose file is refused": Case({"My_App.X/other.yaml": BASE}),
    ".env of the project folder": Case(
        {"My_App.X/compose.yaml": BASE, "My_App.X/.env": "A=dot\nTAG=2\n"}
    ),
    ".env of the working folder first, the project's for what is unset": Case(
        {
            "My_App.X/compose.yaml": BASE,
            "My_App.X/.env": "A=project\nB=project\n",
            "My_App.X/sub/.env": "A=working\n",
        },
        cwd="My_App.X/sub",
    ),
    "--env-file replaces .env; a later one wins; the environment wins over all": Case(
        {
            "My_App.X/compose.yaml": BASE,
            "My_App.X/.env": "A=dot\nB=dot\nTAG=dot\n",
            "My_App.X/one.env": "A=one\nB=one\nTAG=3\n",
            "My_App.X/two.env": "A=two-${TAG}\n",
        },
        args=["--env-file", "one.env", "--env-file", "two.env"],
        env={"B": "shell"},
    ),
    "--env-file is relative to the working folder": Case(
        {"My_App.X/compose.yaml": BASE, "vars/e.env": "A=vars\n"},
        args=["--env-file", "../vars/e.env"],
    ),
    "a missing --env-file is refused": Case(
        {"My_App.X/compose.yaml": BASE}, args=["--env-file", "missing.env"]
    ),
    "--profile, repeated": Case(
        {"My_App.X/compose.yaml": BASE}, args=["--profile", "debug", "--profile", "ops"]
    ),
    "COMPOSE_PROFILES": Case(
        {"My_App.X/compose.yaml": BASE}, env={"COMPOSE_PROFILES": "tools, debug"}
    ),
    "COMPOSE_PROFILES from --env-file": Case(
        {"My_App.X/compose.yaml": BASE, "My_App.X/p.env": "COMPOSE_PROFILES=debug\n"},
        args=["--env-file", "p.env"],
    ),
    "--profile replaces COMPOSE_PROFILES": Case(
        {"My_App.X/compose.yaml": BASE},
        args=["--profile", "ops"],
        env={"COMPOSE_PROFILES": "debug"},
    ),
    "COMPOSE_PROFILES=* enables every profile": Case(
        {"My_App.X/compose.yaml": BASE}, env={"COMPOSE_PROFILES": "*"}
    ),
}


def lay_out(root: Path, case: Case) -> Path:
    for name, text in case.files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    cwd = root / case.cwd
    cwd.mkdir(parents=True, exist_ok=True)
    return cwd


def environment(root: Path, case: Case) -> dict[str, str]:
    """A clean environment: nothing of the test runner's COMPOSE_* or variables leaks in."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(root / "home"), **case.env}


def compose_says(cwd: Path, case: Case, env: dict[str, str]) -> dict[str, Any] | None:
    """The project as compose loads it, or None when compose refuses it."""
    done = subprocess.run(
        [required_compose_binary(), *case.args, "config", "--format", "json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    project = json.loads(done.stdout)
    return {
        "name": project["name"],
        "services": {
            name: summary(s.get("image"), s.get("command"), s.get("environment"), s.get("labels"))
            for name, s in project["services"].items()
        },
    }


def kedge_says(cwd: Path, case: Case, env: dict[str, str]) -> dict[str, Any] | None:
    """The project as ``kedge up`` loads it, or None when Kedge refuses it."""
    try:
        options = projects.ProjectOptions(**parse_args(case.args))
        spec = loader.load_project(projects.resolve(options, cwd=cwd, environ=env))
    except SpecError:
        return None
    return {
        "name": spec.name,
        "services": {
            name: summary(s.image, s.command, s.environment, s.labels)
            for name, s in spec.active_services.items()
        },
    }


def parse_args(args: list[str]) -> dict[str, Any]:
    """compose's global options, as ``cli.options`` declares them to typer."""
    found: dict[str, Any] = {"files": [], "env_files": [], "profiles": []}
    keys = {"-f": "files", "--env-file": "env_files", "--profile": "profiles"}
    pairs = iter(args)
    for flag in pairs:
        value = next(pairs)
        if flag == "-p":
            found["name"] = value
        else:
            found[keys[flag]].append(Path(value) if keys[flag] != "profiles" else value)
    return {k: tuple(v) if isinstance(v, list) else v for k, v in found.items()}


def summary(image: Any, command: Any, environment: Any, labels: Any) -> dict[str, Any]:
    return {
        "image": image,
        "command": list(command) if command else None,
        "environment": {k: str(v) for k, v in (environment or {}).items()},
        "labels": dict(labels or {}),
    }


@dataclass(frozen=True)
class Laid:
    cwd: Path
    env: dict[str, str]
    compose: dict[str, Any] | None


@pytest.fixture(scope="module")
def laid_out(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Laid]:
    """Every case laid out once, with compose's verdict on it."""
    found = {}
    for number, (name, case) in enumerate(CASES.items()):
        root = tmp_path_factory.mktemp(f"case{number}")
        cwd, env = lay_out(root, case), environment(root, case)
        found[name] = Laid(cwd, env, compose_says(cwd, case, env))
    return found


@pytest.mark.parametrize("name", CASES.keys())
def test_kedge_reads_a_project_as_compose_does(laid_out: dict[str, Laid], name: str) -> None:
    laid = laid_out[name]
    assert kedge_says(laid.cwd, CASES[name], laid.env) == laid.compose


def test_the_cases_cover_each_rule(laid_out: dict[str, Laid]) -> None:
    """Not every case is a refusal, and the rules take effect: a few verdicts spelled out."""
    verdicts = {name: laid.compose for name, laid in laid_out.items()}
    refused = sorted(name for name, verdict in verdicts.items() if verdict is None)
    assert refused == sorted(name for name in CASES if "refused" in name)
    merged = verdicts["discovery: compose.yaml and compose.override.yaml, from a sub-folder"]
    assert merged == {
        "name": "my_appx",
        "services": {
            "web": {
                "image": "busybox:1",
                "command": ["sleep", "2"],
                "environment": {"A": "override", "B": "unset", "KEEP": "base"},
                "labels": {"from": "override", "kept": "yes"},
            }
        },
    }
    env_files = verdicts[
        "--env-file replaces .env; a later one wins; the environment wins over all"
    ]
    assert env_files is not None
    assert env_files["services"]["web"]["environment"] == {
        "A": "two-3",
        "B": "shell",
        "KEEP": "base",
    }
    given = verdicts["-p over COMPOSE_PROJECT_NAME and name:"]
    assert given is not None
    assert given["name"] == "given_1"
    profiles = verdicts["--profile, repeated"]
    assert profiles is not None
    assert sorted(profiles["services"]) == ["debug", "tools", "web"]


def test_the_spec_folder_keeps_its_rule(tmp_path: Path) -> None:
    """``load_file`` (the watched folder, ``validate``, ``apply``) names a stack by its file's
    stem and reads no override file, where a compose project is named by its folder."""
    (tmp_path / "Shop").mkdir()
    (tmp_path / "Shop/compose.yaml").write_text(BASE)
    (tmp_path / "Shop/compose.override.yaml").write_text(OVERRIDE)
    spec = loader.load_file(tmp_path / "Shop/compose.yaml", env={})
    assert (spec.name, spec.services["web"].command) == ("compose", ["sleep", "1"])
    project = projects.resolve(projects.ProjectOptions(), cwd=tmp_path / "Shop", environ={})
    merged = loader.load_project(project)
    assert (merged.name, merged.services["web"].command) == ("shop", ["sleep", "2"])


def test_files_alone_are_what_the_fast_path_may_answer() -> None:
    for files in ((), (Path("a.yaml"),), (Path("a.yaml"), Path("b.yaml"))):
        assert projects.ProjectOptions(files=files).files_only
    for other in (
        projects.ProjectOptions(name="x"),
        projects.ProjectOptions(files=(Path("a.yaml"),), env_files=(Path(".env"),)),
        projects.ProjectOptions(profiles=("debug",)),
    ):
        assert not other.files_only, other


def test_several_compose_files_in_a_folder_are_warned_of_as_compose_does(tmp_path: Path) -> None:
    for name in ("compose.yaml", "docker-compose.yml", "compose.override.yml"):
        (tmp_path / name).write_text(BASE)
    (tmp_path / "docker-compose.override.yaml").write_text(OVERRIDE)
    done = subprocess.run(
        [required_compose_binary(), "config", "--services"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Found multiple config files with supported names" in done.stderr
    assert "Found multiple override files with supported names" in done.stderr
    project = projects.resolve(projects.ProjectOptions(), cwd=tmp_path, environ={})
    assert [p.name for p in project.files] == ["compose.yaml", "compose.override.yml"]
    assert project.warnings == (
        f"found several compose files in {tmp_path}: compose.yaml, docker-compose.yml;"
        " using compose.yaml",
        f"found several override files in {tmp_path}: compose.override.yml,"
        " docker-compose.override.yaml; using compose.override.yml",
    )
    given = projects.ProjectOptions(files=(Path("compose.yaml"),))
    assert projects.resolve(given, cwd=tmp_path, environ={}).warnings == ()
