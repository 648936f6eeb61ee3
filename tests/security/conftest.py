"""Fixtures of the security tests: the real app over a real SQLite store, in process
(``client``, ``api`` under a given host-safety policy) and on a real uvicorn server with
``kedge serve``'s limits (``live_server``), so that what travels on the wire (Content-Length,
chunks, half-sent headers) is real; and the folder source under the operator's policy
(``restricted`` unless a test gives another).

The probe these tests come from is ``../shared/reports/security-2026-12-07.md``; each test
names its row (S.., B.., D..).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from kedge.api.app import create_app
from kedge.controller.folder_source import FolderSource
from kedge.observability.metrics import Metrics
from kedge.specs.policy import Policy
from kedge.store.sqlite import SqliteStore
from tests.api.conftest import Clock, Seed

LOCAL = "http://127.0.0.1"
EVIL = "https://evil.example"


def write_settled(path: Path, text: str) -> Path:
    """Write a spec file as one that has settled (the folder source reads it at once)."""
    path.write_text(text)
    then = time.time() - 5
    os.utime(path, (then, then))
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    found = SqliteStore.open(tmp_path / "kedge.db", clock=Clock())
    yield found
    found.close()


@pytest.fixture
def seed(store: SqliteStore) -> Seed:
    return Seed(store, Clock())


@pytest.fixture
def client(store: SqliteStore) -> Iterator[TestClient]:
    with TestClient(create_app(store, None), base_url=LOCAL) as found:
        yield found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    host: str
    port: int
    server: uvicorn.Server

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def connect(self) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=10)


def _uvicorn_limits() -> dict[str, Any]:
    try:
        from kedge.cli.http import uvicorn_limits
    except ImportError:  # before the limits existed: plain uvicorn, as kedge serve ran it
        return {}
    return uvicorn_limits()


@pytest.fixture
def live_server() -> Iterator[Callable[..., Served]]:
    """``live_server(app, **uvicorn_settings)``: the app on a free loopback port with the
    limits ``kedge serve`` uses (``cli.http``), stopped after the test."""
    started: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: FastAPI, **settings: Any) -> Served:
        port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=1,
            **(_uvicorn_limits() | settings),
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        started.append((server, thread))
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.02)
        return Served("127.0.0.1", port, server)

    yield start
    for server, thread in started:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    specs = tmp_path / "specs"
    specs.mkdir()
    return specs


@pytest.fixture
def source(folder: Path, store: SqliteStore) -> Callable[..., FolderSource]:
    """The folder source over ``folder``; ``policy`` defaults to ``restricted``."""

    def make(
        policy: Policy | None = None, registry: CollectorRegistry | None = None
    ) -> FolderSource:
        metrics = Metrics(registry or CollectorRegistry())
        return FolderSource(folder, store=store, metrics=metrics, wake=lambda: None, policy=policy)

    return make


@pytest.fixture
def api(store: SqliteStore) -> Callable[..., TestClient]:
    """A client of the real app over ``store`` (no Docker) under ``policy``."""

    def make(policy: Policy | None = None, registry: CollectorRegistry | None = None) -> TestClient:
        return TestClient(create_app(store, None, registry=registry, policy=policy), base_url=LOCAL)

    return make
