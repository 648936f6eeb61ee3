"""A live Kedge server for the dashboard, events and monitoring tests: uvicorn in a thread on
a free loopback port, over a real SQLite store wrapped by the event publisher, as
``kedge serve`` composes it (optionally with a real engine, the Docker feed and a controller).
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from kedge.api import feeds
from kedge.api.app import create_app
from kedge.observability.hub import EventHub
from kedge.store.protocol import Store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Live:
    url: str
    store: Store  # the publishing store: what the server and its controller write through
    hub: EventHub
    server: uvicorn.Server
    thread: threading.Thread
    stops: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self.stops):
            stop()
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(
    store: Store,
    *,
    engine: Any = None,
    controller_factory: Any = None,
    hub: EventHub | None = None,
    port: int | None = None,
) -> Live:
    """Start a server; ``controller_factory(store)`` builds a controller over the
    publishing store (started here, stopped by ``Live.stop``)."""
    hub = hub or EventHub()
    published = feeds.publishing(store, hub)
    stops: list[Any] = []
    controller = None
    if engine is not None:
        feed = feeds.DockerFeed(engine, hub).start()
        stops.append(feed.close)
    if controller_factory is not None:
        controller = controller_factory(published)
        controller.start()
        stops.append(lambda: controller.stop(grace=30))
    app = create_app(published, engine, controller=controller)
    app.state.events = hub
    port = port or free_port()
    # open event streams never end by themselves: give them a second at shutdown
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    return Live(f"http://127.0.0.1:{port}", published, hub, server, thread, stops)
