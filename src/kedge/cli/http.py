"""The HTTP server's own limits for ``kedge serve``: how many connections it holds, how long a
client may take to send a request's headers, how long an idle connection stays, how large the
headers may be.

uvicorn has a keep-alive timeout but none for headers: a client that opens a connection and
sends a byte now and then (slowloris) holds it for ever. ``BoundedH11Protocol`` closes a
connection whose request line and headers are not complete ``HEADER_SECONDS`` after it opened
(or after the previous answer on it). ``uvicorn_limits`` gives the rest as uvicorn settings.
The body limits are the API edge's (``api.edge``). Callers: ``cli.serve``, the abuse bench.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "HEADER_BYTES",
    "HEADER_SECONDS",
    "IDLE_SECONDS",
    "MAX_CONNECTIONS",
    "BoundedH11Protocol",
    "uvicorn_limits",
]

#: seconds a client has to send a request's line and headers
HEADER_SECONDS = 10.0
#: seconds an idle keep-alive connection stays open
IDLE_SECONDS = 5
#: the most bytes of a request line and headers
HEADER_BYTES = 64 * 1024
#: connections (and running answers) held at once; past it uvicorn answers 503
MAX_CONNECTIONS = 1000


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers."""

    header_seconds = HEADER_SECONDS

    _deadline: asyncio.TimerHandle | None = None
    _waiting_after: object = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self._deadline is not None and self.cycle is not self._waiting_after:
            self._disarm()  # a new request's headers are in

    def on_response_complete(self) -> None:
        self._arm()  # first: the next request may be waiting already (pipelined)
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._waiting_after = self.cycle
        self._deadline = self.loop.call_later(self.header_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def uvicorn_limits(
    *, max_connections: int = MAX_CONNECTIONS, header_seconds: float = HEADER_SECONDS
) -> dict[str, Any]:
    """The uvicorn settings that bound connections, header time, idle time and header size."""
    protocol: type[BoundedH11Protocol] = BoundedH11Protocol
    if header_seconds != protocol.header_seconds:
        protocol = type("BoundedH11Protocol", (protocol,), {"header_seconds": header_seconds})
    return {
        "http": protocol,
        "limit_concurrency": max_connections,
        "timeout_keep_alive": IDLE_SECONDS,
        "h11_max_incomplete_event_size": HEADER_BYTES,
        "backlog": 512,
    }
