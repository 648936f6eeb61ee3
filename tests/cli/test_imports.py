"""``kedge`` imports a verb's module only when that verb runs (``cli.main.VERBS``): ``kedge up``
loads none of the server's or the HTTP client's libraries, ``kedge --help`` none of the verbs,
and the help line listed for each verb is the first paragraph of the verb's own help.

The import checks run ``kedge`` in a fresh interpreter, since this one has imported everything.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kedge.cli import main

#: what only ``kedge serve``, ``kedge controller`` or the remote verbs need
SERVER_AND_CLIENT = [
    "anyio",
    "fastapi",
    "httpx",
    "jinja2",
    "kedge.api",
    "kedge.cli.client",
    "kedge.cli.serve",
    "kedge.controller.controller",
    "kedge.observability",
    "prometheus_client",
    "rich",
    "starlette",
    "structlog",
    "uvicorn",
    "watchfiles",
]

_RUN = """
import json, sys
from kedge.cli import entry
sys.argv = ["kedge", *json.loads(sys.argv[1])]
try:
    entry.main()
except SystemExit as exc:
    code = exc.code
print("\\nMODULES " + json.dumps([code, sorted(sys.modules)]))
"""


def run_kedge(*args: str, cwd: Path) -> tuple[object, set[str]]:
    """Run ``kedge ARGS`` in a fresh interpreter: its exit code and the modules it imported."""
    done = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "KEDGE_FULL_PASS": "1"},
        timeout=60,
        check=True,
    )
    code, modules = json.loads(done.stdout.rpartition("\nMODULES ")[2])
    return code, set(modules)


def loaded(modules: set[str], names: list[str]) -> list[str]:
    return [n for n in names if n in modules or any(m.startswith(f"{n}.") for m in modules)]


def test_kedge_up_imports_no_server_or_client_library(tmp_path: Path) -> None:
    spec = tmp_path / "imports.yaml"
    spec.write_text("services:\n  a: {image: busybox, imgae: typo}\n")
    code, modules = run_kedge("up", "-f", str(spec), "--db", str(tmp_path / "k.db"), cwd=tmp_path)
    assert code == 2  # the spec is refused: the verb ran, its module was imported
    assert "kedge.cli.local" in modules
    assert loaded(modules, SERVER_AND_CLIENT) == []


def test_kedge_help_imports_no_verb(tmp_path: Path) -> None:
    code, modules = run_kedge("--help", cwd=tmp_path)
    assert code == 0
    verbs = sorted({verb.module for verb in main.VERBS.values()})
    assert loaded(modules, verbs) == []
    assert loaded(modules, ["pydantic", "docker", "sqlite_utils", "httpx", "fastapi"]) == []


def test_kedge_help_lists_every_verb() -> None:
    result = CliRunner().invoke(main.app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = result.output.split("Commands", 1)[1].splitlines()
    listed = {row.strip("│ ").split("  ")[0]: row for row in rows}
    for name, verb in main.VERBS.items():
        assert verb.help in listed[name], name
    assert "version" in listed


@pytest.mark.parametrize("name", list(main.VERBS))
def test_the_listed_help_is_the_verbs_own(name: str) -> None:
    command = main.load_verb(name, rich_markup_mode=main.app.rich_markup_mode)
    first = inspect.cleandoc(command.help or "").split("\n\n")[0]
    assert " ".join(first.split()) == main.VERBS[name].help
