"""Fixtures of the store tests: a store per backend on a real file, and a clock tests move.

The ``store`` fixture is parametrized by backend so that a second backend of the ``Store``
protocol runs the same contract tests by adding one entry to ``BACKENDS``.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from kedge.store import SqliteStore, Store


class MovableClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


def open_sqlite(path: pathlib.Path, clock: MovableClock) -> Store:
    return SqliteStore.open(path / "kedge.db", clock=clock)


BACKENDS: dict[str, Callable[[pathlib.Path, MovableClock], Store]] = {"sqlite": open_sqlite}


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(params=sorted(BACKENDS), ids=sorted(BACKENDS))
def store(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path, clock: MovableClock
) -> Iterator[Store]:
    opened = BACKENDS[request.param](tmp_path, clock)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_store(tmp_path: pathlib.Path, clock: MovableClock) -> Iterator[SqliteStore]:
    opened = SqliteStore.open(tmp_path / "kedge.db", clock=clock)
    yield opened
    opened.close()
