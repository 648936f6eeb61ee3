"""What a client can make the server hold: bodies, half-sent headers, open streams — the
probe's rows S13, S14, S15 and the stream bound of S17 (its Docker half is in
``test_log_streams.py``). Real uvicorn on loopback with ``kedge serve``'s limits, raw sockets
where the bytes on the wire matter.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from kedge.api import edge
from kedge.api.app import create_app
from kedge.store.sqlite import SqliteStore
from tests.security.conftest import Served

CAP = edge.default_max_body()  # the edge's body cap
CHUNK = 64 * 1024


def _head(path: str, *, length: int | None, media: str = "application/yaml") -> bytes:
    size = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {media}\r\n{size}\r\n\r\n"
    ).encode()


def _answer(sock: socket.socket, *, timeout: float = 10) -> str:
    """The status line and headers of the server's answer."""
    sock.settimeout(timeout)
    found = b""
    while b"\r\n\r\n" not in found:
        part = sock.recv(65536)
        if not part:
            break
        found += part
    return found.decode("latin-1")


@pytest.fixture
def served(store: SqliteStore, live_server: Callable[..., Served]) -> Served:
    return live_server(create_app(store, None))


@pytest.mark.parametrize("path", ["/api/v1/versions", "/api/v1/plan", "/api/v1/stacks/x/apply"])
def test_s13_s14_a_declared_large_body_is_refused_before_it_is_sent(
    served: Served, path: str
) -> None:
    """S13/S14: a 200 MB ``Content-Length`` is answered 413 at once, on the spec routes and on
    the JSON routes alike: the server does not wait for (or buffer) a byte of it."""
    media = "application/json" if path.endswith("/apply") else "application/yaml"
    with served.connect() as sock:
        sock.sendall(_head(path, length=200_000_000, media=media))
        answer = _answer(sock)
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "application/problem+json" in answer


def _send_chunked_until_answered(sock: socket.socket, total: int) -> tuple[int, str]:
    """Send ``total`` bytes as chunks; stop when the server answers. Returns how many bytes
    were sent by then and the answer."""
    sent = 0
    chunk = b"x" * CHUNK
    frame = f"{CHUNK:x}\r\n".encode() + chunk + b"\r\n"
    sock.setblocking(False)
    try:
        while sent < total:
            readable, writable, _ = select.select([sock], [sock], [], 10)
            if readable:
                break
            if not writable:
                continue
            try:
                sock.sendall(frame)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
            sent += CHUNK
    finally:
        sock.setblocking(True)
    with contextlib.suppress(ConnectionResetError):
        return sent, _answer(sock)
    return sent, ""


@pytest.mark.parametrize("path", ["/api/v1/versions", "/api/v1/stacks/x/apply"])
def test_s13_s14_a_chunked_body_is_cut_at_the_cap(served: Served, path: str) -> None:
    """S13/S14: a body without a length is counted while it streams in; past the cap the
    answer is 413 long before the client has sent it all (the probe saw 583 MiB of RSS for
    200 MB before its 413)."""
    total = 48 * CAP
    media = "application/json" if path.endswith("/apply") else "application/yaml"
    with served.connect() as sock:
        sock.sendall(_head(path, length=None, media=media))
        sent, answer = _send_chunked_until_answered(sock, total)
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    # what the kernel's socket buffers hold on both sides comes on top of the cap
    assert sent < total // 4, f"the server read {sent:,} bytes before refusing"


def test_a_spec_under_the_cap_is_read(served: Served) -> None:
    spec = "name: secp-big\nservices:\n  app:\n    image: busybox:1\n" + "# pad\n" * 100_000
    assert len(spec) < CAP
    answer = httpx.post(
        f"{served.url}/api/v1/versions",
        content=spec,
        headers={"Content-Type": "application/yaml"},
        params={"apply": False},
    )
    assert answer.status_code == 201, answer.text


def _closed_within(sock: socket.socket, seconds: float, *, trickle: bytes) -> bool:
    """Whether the server closes ``sock`` within ``seconds`` while the client trickles a
    header byte every 0.2 s (slowloris)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.2)
        if readable:
            try:
                if sock.recv(1024) == b"":
                    return True
            except ConnectionResetError:
                return True
        try:
            sock.sendall(trickle)
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def test_s15_half_sent_headers_are_cut_off(
    store: SqliteStore, live_server: Callable[..., Served]
) -> None:
    """S15: 200 connections that sent part of their headers were held for 65 s. Now a
    request's headers must be complete within the header deadline, even if the client keeps
    sending a byte now and then; a complete request on the same server is answered."""
    from kedge.cli.http import uvicorn_limits

    served = live_server(create_app(store, None), **uvicorn_limits(header_seconds=0.5))
    slow = [served.connect() for _ in range(5)]
    try:
        for sock in slow:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert httpx.get(f"{served.url}/healthz").status_code == 200
        assert all(_closed_within(sock, 8, trickle=b"X") for sock in slow)
    finally:
        for sock in slow:
            sock.close()


def test_s15_connections_are_bounded() -> None:
    """The server's other limits, as ``kedge serve`` passes them to uvicorn."""
    from kedge.cli.http import BoundedH11Protocol, uvicorn_limits

    limits = uvicorn_limits()
    assert issubclass(limits["http"], BoundedH11Protocol)
    assert 0 < limits["limit_concurrency"] <= 10_000
    assert 0 < limits["timeout_keep_alive"] <= 30
    assert 0 < limits["h11_max_incomplete_event_size"] <= 1_000_000


@contextlib.contextmanager
def _events(url: str, *, source: str = "127.0.0.1") -> Iterator[httpx.Response]:
    transport = httpx.HTTPTransport(local_address=source)
    with (
        httpx.Client(transport=transport, timeout=10) as client,
        client.stream("GET", f"{url}/api/v1/events") as response,
    ):
        yield response


def test_streams_are_bounded_per_client_and_in_all(
    store: SqliteStore, live_server: Callable[..., Served]
) -> None:
    """Open streams take slots: past the bound for one client address, or in all, a new one
    is 429 (problem+json) while other routes keep answering; a closed stream frees its slot."""
    from kedge.api.edge import EdgeSettings

    limits = EdgeSettings(max_streams=3, max_streams_per_client=2)
    served = live_server(create_app(store, None, limits=limits))
    with contextlib.ExitStack() as held:
        first = held.enter_context(_events(served.url))
        held.enter_context(_events(served.url))
        assert first.status_code == 200
        with _events(served.url) as third:
            assert third.status_code == 429
            assert third.headers["content-type"] == "application/problem+json"
        held.enter_context(_events(served.url, source="127.0.0.2"))  # another client
        with _events(served.url, source="127.0.0.3") as fourth:
            assert fourth.status_code == 429  # the server's bound
        assert httpx.get(f"{served.url}/healthz").status_code == 200
    deadline = time.monotonic() + 10
    while True:  # the closed streams' slots come back as the server sees them go
        with _events(served.url) as again:
            if again.status_code == 200:
                break
        assert time.monotonic() < deadline, "closed streams kept their slots"
        time.sleep(0.2)
