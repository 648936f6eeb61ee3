"""``kedge get events`` against a live server: the recent events as a table or JSON lines,
filtered by stack; ``-w`` follows new ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kedge.cli.main import app
from kedge.observability.hub import EventHub
from kedge.store.sqlite import SqliteStore
from tests.dashboard.live import Live, serve


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    store = SqliteStore.open(tmp_path / "kedge.db")
    found = serve(store, hub=EventHub(first_id=1))
    found.hub.publish("pass.started", stack="shop", message="APPLY #1 started by w0")
    found.hub.publish("docker.container.die", stack="blog", message="blog-web-1: die")
    found.hub.publish("pass.finished", stack="shop", message="APPLY #1 DONE: 2 actions")
    yield found
    found.stop()
    store.close()


def kedge(live: Live, *args: str) -> str:
    result = CliRunner().invoke(app, ["get", "events", *args], env={"KEDGE_SERVER": live.url})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(
    ("args", "kinds"),
    [
        pytest.param((), ["pass.started", "docker.container.die", "pass.finished"], id="all"),
        pytest.param(("--stack", "shop"), ["pass.started", "pass.finished"], id="one-stack"),
        pytest.param(("--limit", "1"), ["pass.finished"], id="limit"),
    ],
)
def test_recent_events_as_json_lines(live: Live, args: tuple[str, ...], kinds: list[str]) -> None:
    lines = kedge(live, "--json", *args).splitlines()
    assert [json.loads(line)["kind"] for line in lines] == kinds


def test_recent_events_as_a_table(live: Live) -> None:
    lines = kedge(live).splitlines()
    assert lines[0].split() == ["AGE", "STACK", "KIND", "MESSAGE"]
    assert lines[1].split()[1:4] == ["shop", "pass.started", "APPLY"]
    assert lines[3].endswith("APPLY #1 DONE: 2 actions")


def test_watch_follows_new_events(live: Live) -> None:
    watch = subprocess.Popen(
        [sys.executable, "-m", "kedge", "get", "events", "-w", "--stack", "shop", "--json"],
        env={**os.environ, "KEDGE_SERVER": live.url},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert watch.stdout is not None
        first = [json.loads(watch.stdout.readline())["kind"] for _ in range(2)]
        assert first == ["pass.started", "pass.finished"]
        live.hub.publish("docker.container.die", stack="blog", message="not shop")
        live.hub.publish("drift.seen", stack="shop", message="out of sync")
        assert json.loads(watch.stdout.readline())["kind"] == "drift.seen"
    finally:
        watch.terminate()
        watch.wait(timeout=10)
