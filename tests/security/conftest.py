"""Fixtures of the security tests: a real SQLite store, the folder source and the real app,
each under the operator's host-safety policy (``restricted`` unless a test gives another)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from kedge.api.app import create_app
from kedge.controller.folder_source import FolderSource
from kedge.observability.metrics import Metrics
from kedge.specs.policy import Policy
from kedge.store import SqliteStore


def write_settled(path: Path, text: str) -> Path:
    """Write a spec file as one that has settled (the folder source reads it at once)."""
    path.write_text(text)
    then = time.time() - 5
    os.utime(path, (then, then))
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore.open(tmp_path / "kedge.db")
    yield store
    store.close()


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
        return TestClient(create_app(store, None, registry=registry, policy=policy))

    return make
