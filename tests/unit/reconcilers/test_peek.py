"""Peek's few lines of HTTP against a unix-socket server that answers as Docker may: a body
with ``Content-Length`` or in chunks, several requests on one kept-alive connection."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kedge import errors
from kedge.reconcilers import peek

ANSWERS = [
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n[{"a":1}]',
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'4\r\n{"Vo\r\n0b;ext=1\r\nlumes": []}\r\n0\r\n\r\n',
    b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}",
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, list[bytes]]]:
    path = str(tmp_path / "docker.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    requests: list[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            for answer in ANSWERS:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(4096)
                requests.append(data)
                for i in range(0, len(answer), 7):  # in pieces, as a socket may deliver them
                    conn.sendall(answer[i : i + 7])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, requests
    thread.join(timeout=5)
    listener.close()


def test_bodies_by_length_and_in_chunks_on_one_connection(server: tuple[str, list[bytes]]):
    path, requests = server
    looker = peek.Peek(path)
    try:
        assert looker.get("/containers/json", all=1) == [{"a": 1}]
        assert looker.get("/volumes") == {"Volumes": []}
        # a refusal is the engine's error for it (it was a ValueError before P1 of the review)
        with pytest.raises(errors.EngineNotFound, match="HTTP 404"):
            looker.get("/nothing")
    finally:
        looker.close()
    assert looker.calls == 3
    assert requests[0].startswith(b"GET /containers/json?all=1 HTTP/1.1\r\n")


def test_only_a_local_socket_is_peeked_at():
    assert peek.Peek.from_env({}) is not None  # the default /var/run/docker.sock
    assert peek.Peek.from_env({"DOCKER_HOST": "unix:///run/user/1/docker.sock"}) is not None
    assert peek.Peek.from_env({"DOCKER_HOST": "tcp://10.0.0.1:2376"}) is None
    assert peek.Peek.from_env({"DOCKER_HOST": "ssh://me@host"}) is None
    tls = {"DOCKER_HOST": "unix:///var/run/docker.sock", "DOCKER_TLS_VERIFY": "1"}
    assert peek.Peek.from_env(tls) is None


def test_a_docker_context_is_left_to_the_engine_adapter(tmp_path: Path):
    config = {"DOCKER_CONFIG": str(tmp_path)}
    assert peek.Peek.from_env({**config, "DOCKER_CONTEXT": "remote"}) is None
    assert peek.Peek.from_env({**config, "DOCKER_CONTEXT": "default"}) is not None
    assert peek.Peek.from_env(config) is not None  # no config file: the default context
    (tmp_path / "config.json").write_text('{"currentContext": "remote"}')
    assert peek.Peek.from_env(config) is None  # docker context use remote
    # DOCKER_HOST wins over any context, as in the docker CLI
    assert peek.Peek.from_env({**config, "DOCKER_HOST": "unix:///var/run/docker.sock"})


def test_a_daemon_that_does_not_answer_is_unavailable(tmp_path: Path):
    looker = peek.Peek(str(tmp_path / "none.sock"))
    with pytest.raises(errors.EngineUnavailable, match="does not answer"):
        looker.stack("shop", {})
    looker.close()
