"""A Docker API that stops answering, on demand: a proxy on a unix socket in front of the
real daemon's, for the deadline tests (issue 13, Done when 6).

``StallingProxy`` forwards every connection to ``/var/run/docker.sock`` byte for byte until
``stall(pattern)`` is called; from then on, a request whose line matches ``pattern`` (a
regular expression over ``"METHOD /path"``, all requests by default) is accepted and read,
and then nothing: it never reaches the daemon, and its connection never answers again —
what a client sees of a daemon whose network subsystem deadlocked. ``forward()`` ends it for
the requests that come next. ``swallowed`` counts the requests it kept.

A real daemon cannot be made to stop answering on demand, so this is the one stand-in the
tests use; everything it does forward is the real daemon's answer.
"""

from __future__ import annotations

import re
import socket
import threading
from pathlib import Path

__all__ = ["StallingProxy"]

DOCKER_SOCKET = "/var/run/docker.sock"
_REQUEST = re.compile(rb"^(GET|POST|PUT|DELETE|HEAD) (\S+) HTTP/1\.[01]\r\n")


class StallingProxy:
    """A unix socket that forwards to the Docker daemon, or swallows requests."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"unix://{path}"
        self.swallowed = 0
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(64)
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def stall(self, pattern: str = ".*") -> None:
        """Swallow from now on every request whose ``METHOD /path`` matches ``pattern``."""
        with self._lock:
            self._pattern = re.compile(pattern)

    def forward(self) -> None:
        """Forward every request that comes from now on."""
        with self._lock:
            self._pattern = None

    def close(self) -> None:
        self._closed = True
        self._server.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()
        self.path.unlink(missing_ok=True)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(DOCKER_SOCKET)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._answers, args=(upstream, client), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        """Client to daemon, unless a request is swallowed: then nothing more, ever."""
        swallowing = False
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                data = b""
            if not data:
                upstream.close()
                return
            if not swallowing and self._is_stalled(data):
                swallowing = True
                with self._lock:
                    self.swallowed += 1
            if not swallowing:
                try:
                    upstream.sendall(data)
                except OSError:
                    return

    def _is_stalled(self, data: bytes) -> bool:
        with self._lock:
            pattern = self._pattern
        found = _REQUEST.match(data)
        if pattern is None or found is None:
            return False
        line = f"{found.group(1).decode()} {found.group(2).decode(errors='replace')}"
        return pattern.search(line) is not None

    def _answers(self, upstream: socket.socket, client: socket.socket) -> None:
        while True:
            try:
                data = upstream.recv(65536)
            except OSError:
                data = b""
            if not data:
                client.close()
                return
            try:
                client.sendall(data)
            except OSError:
                upstream.close()
                return
