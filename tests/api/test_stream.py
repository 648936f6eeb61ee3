"""The live log stream of a running command, over real HTTP: lines arrive while the command
runs, in order, once each, and the stream ends with the final command."""

from __future__ import annotations

import json
import threading
import time

from kedge.cli.client import Client
from kedge.specs.commands import CommandStatus, CommandType
from kedge.store.sqlite import SqliteStore
from tests.api.conftest import Seed
from tests.cli.conftest import start_server


def test_stream_follows_a_running_command_to_its_end(store: SqliteStore, seed: Seed) -> None:
    running = seed.command("shop", type=CommandType.DELETE, end=CommandStatus.RUNNING, lines=1)
    live = start_server(store)
    seen: list[dict[str, object]] = []
    final: dict[str, object] = {}

    def follow() -> None:
        with Client(live.url) as api:
            final.update(api.follow_command(running.id, on_line=seen.append))

    reader = threading.Thread(target=follow)
    reader.start()
    try:
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [line["message"] for line in seen] == ["line 1"]
        for n in (2, 3):
            store.commands.log(running.id, token=running.token, message=f"line {n}")
            time.sleep(0.3)
        store.commands.finish(running.id, token=running.token, status=CommandStatus.DONE)
        reader.join(timeout=10)
        assert not reader.is_alive()
    finally:
        live.stop()
    assert [line["seq"] for line in seen] == [1, 2, 3]
    assert final["status"] == "DONE"


def test_stream_resumes_after_the_last_event_id(store: SqliteStore, seed: Seed) -> None:
    command = seed.command("shop", type=CommandType.DELETE, lines=5)
    live = start_server(store)
    try:
        with Client(live.url) as api:
            events = list(api.stream(f"/api/v1/commands/{command.id}/logs/stream", after=3))
    finally:
        live.stop()
    lines = [json.loads(data)["seq"] for event, data in events if event == "line"]
    assert lines == [4, 5]
    assert events[-1][0] == "end"
