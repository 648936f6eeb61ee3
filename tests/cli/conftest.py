"""Fixtures of the CLI tests: a live Kedge API (uvicorn in a thread on a free loopback port)
over a real SQLite store, and a runner of ``kedge`` verbs against it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner, Result

from kedge.api.app import create_app
from kedge.cli.main import app as kedge_app
from kedge.store.sqlite import SqliteStore
from tests.api.conftest import Clock, Seed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    store: SqliteStore
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_server(store: SqliteStore, *, engine: Any = None, controller: Any = None) -> LiveServer:
    port = free_port()
    config = uvicorn.Config(
        create_app(store, engine, controller=controller),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{port}", store, server, thread)


@contextmanager
def serve_with_controller(db: Path) -> Iterator[LiveServer]:
    """``kedge serve`` in the test: the API and a real controller over a real store (``db``)
    and the real daemon, stopped (controller first) when the block ends."""
    from prometheus_client import CollectorRegistry

    from kedge.controller.controller import Controller
    from kedge.controller.settings import ControllerSettings
    from kedge.reconcilers.engine import Engine
    from kedge.store.records import RetryPolicy

    store = SqliteStore.open(db)
    engine = Engine.from_env()
    no_retry = RetryPolicy(max_attempts=1, backoff=timedelta(seconds=1))
    settings = ControllerSettings(workers=2, resync=3600, retry=no_retry, converge=no_retry)
    controller = Controller(
        store=store, engine=engine, registry=CollectorRegistry(), settings=settings
    )
    controller.start()
    live = start_server(store, engine=engine, controller=controller)
    try:
        yield live
    finally:
        live.stop()
        controller.stop(10)
        store.close()
        engine.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    found = SqliteStore.open(tmp_path / "kedge.db", clock=Clock())
    yield found
    found.close()


@pytest.fixture
def seed(store: SqliteStore) -> Seed:
    return Seed(store, Clock())


@pytest.fixture
def live(store: SqliteStore) -> Iterator[LiveServer]:
    """A live API without Docker."""
    found = start_server(store)
    yield found
    found.stop()


class Kedge:
    """Runs ``kedge`` verbs in-process against one server."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        return self.runner.invoke(
            kedge_app, [*args], input=stdin, env={"KEDGE_SERVER": self.url, "NO_COLOR": "1"}
        )


@pytest.fixture
def kedge(live: LiveServer) -> Kedge:
    return Kedge(live.url)
