"""The README's first run (issue 13, Done when 5): ``make run`` in one terminal, then the first
example the README names in another, ends with a healthy stack — with no registry.

The steps are read from the README's "Two commands" section, not written out again: its
``make run`` (with the overrides the README documents, so that the test's server has a free
port, a store and a spec folder of its own) and its ``kedge apply -f examples/… --wait``. The
example is applied under the test's own stack name (a copy of the file, with the ``.env``
that ``make run`` wrote beside the examples when no registry answers) and publishes a free
port (``WEB_PORT``), so the test runs beside a developer's own server and stacks; that the
example's default port is not the server's is held by ``tests/unit/test_examples.py``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.conftest import free_port
from tests.integration.controller_process import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def readme_steps() -> tuple[list[str], list[str]]:
    """The run command and the first example's command of the README's "Two commands"."""
    section = README.read_text().split("\n## Two commands\n", 1)[1].split("\n## ", 1)[0]
    lines = [line.split("#", 1)[0].strip() for line in section.splitlines()]
    run = next(line for line in lines if line.startswith("make run"))
    first = next(line for line in lines if " apply -f examples/" in line)
    return shlex.split(run), shlex.split(first)


def test_the_readme_names_make_run_and_the_first_example() -> None:
    run, first = readme_steps()
    assert run == ["make", "run"]
    assert first[:3] == [".venv/bin/kedge", "apply", "-f"]
    assert (ROOT / first[3]).is_file(), first
    assert "--wait" in first


@contextlib.contextmanager
def running(command: list[str], *, log: Path) -> Any:
    """A process group of its own (make and the kedge serve it starts), stopped as Ctrl-C does."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _answers(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return 0


def test_the_first_example_comes_up_healthy_beside_make_run(
    tmp_path: Path, stack_name: str, docker_client: Any
) -> None:
    run, first = readme_steps()
    port, web_port = free_port(), free_port()
    server = f"http://127.0.0.1:{port}"
    overrides = [f"ADDR=127.0.0.1:{port}", f"DB={tmp_path}/kedge.db", f"SPECS={tmp_path}/specs"]
    log = tmp_path / "make-run.log"
    with running([*run, *overrides], log=log):
        wait_for(lambda: _ready(server), timeout=180, what=f"make run to serve ({log})")
        made = log.read_text()
        assert "images: busybox: kedge-local/busybox:" in made, made  # make run made the image
        assert "images: examples:" in made, made

        example = ROOT / first[3]
        copy = tmp_path / "first" / f"{stack_name}.yaml"
        copy.parent.mkdir()
        # the example names its stack (name:); the copy runs under the test's unique name
        text = re.sub(r"(?m)^name: .*$", f"name: {stack_name}", example.read_text())
        copy.write_text(text)
        if (example.parent / ".env").is_file():  # written by make run: no registry answers
            copy.with_name(".env").write_text((example.parent / ".env").read_text())
        env = {**os.environ, "KEDGE_SERVER": server, "WEB_PORT": str(web_port)}
        applied = subprocess.run(
            [*first[:3], str(copy), *first[4:]],
            check=False,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert applied.returncode == 0, applied.stdout + applied.stderr + log.read_text()

        stack = httpx.get(f"{server}/api/v1/stacks/{stack_name}", timeout=10).json()
        assert (stack["health"], stack["sync"]) == ("Healthy", "Synced"), stack
        containers = docker_client.containers.list(filters={"label": f"kedge.stack={stack_name}"})
        assert sorted(c.labels["kedge.service"] for c in containers) == ["db", "web"]
        assert all(c.status == "running" for c in containers)
        status = wait_for(
            lambda: _answers(f"http://127.0.0.1:{web_port}/"), timeout=20, what="the web server"
        )
        assert status == 200, status  # the example's web server answers on its port
