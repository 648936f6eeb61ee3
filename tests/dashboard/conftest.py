"""Fixtures of the browser tests: a live ``kedge serve``-like server (uvicorn on a free loopback
port, a real store, the real Docker engine, the controller running) and headless Chromium.

Chromium is Debian's (``/usr/bin/chromium``), driven by playwright's Python package; no
browser is ever downloaded. Screenshots go to ``artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from kedge.controller import Controller
from kedge.reconcilers.engine import Engine
from kedge.store.sqlite import SqliteStore
from tests.dashboard.live import Live, serve

CHROMIUM = os.environ.get("KEDGE_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def make_controller(store: Any, engine: Engine) -> Controller:
    from kedge.controller.controller import Controller
    from kedge.controller.settings import ControllerSettings

    settings = ControllerSettings(workers=2, resync=2.0, heartbeat=0.5, lease=5.0, poll=0.5)
    return Controller(store=store, engine=engine, registry=CollectorRegistry(), settings=settings)


@pytest.fixture
def kedge_server(tmp_path: Path, stack_name: str) -> Iterator[Live]:
    """API + controller + Docker feed in one process, as ``kedge serve`` runs them; stopped
    before ``stack_name`` cleans up, so the controller does not repair the cleanup."""
    store = SqliteStore.open(tmp_path / "kedge.db")
    engine = Engine.from_env()
    live = serve(store, engine=engine, controller_factory=lambda s: make_controller(s, engine))
    yield live
    live.stop()
    engine.close()
    store.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run does)")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        found = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield found
        found.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    found = context.new_page()
    found.set_default_timeout(30_000)
    yield found
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
