"""Peek: the list calls of one stack over a local Docker socket, with the standard library.

``kedge up`` with nothing to do should cost what the Docker list calls cost, not what Python's
imports do. So the list calls that ``observe`` makes (containers, networks and volumes by the
``kedge.stack`` label, images, external objects by name) have a second transport here that
needs only the standard library: ``Peek`` talks HTTP to the Docker socket itself (a few lines
of HTTP/1.1, ``_Connection``), for the local ``unix://`` daemons it can reach; any other
``DOCKER_HOST`` (TCP, TLS, ssh), and any docker context but the default, gets no peek, and the
caller takes the full path through ``engine.Engine``.

Only a transport: the answers are parsed, and fingerprinted, by ``reconcilers.listing``, as
``observe`` parses and fingerprints the engine's. Its failures are Kedge's engine errors,
translated here (socket and HTTP) and by ``reconcilers.refusals`` (the daemon's refusals),
as the engine adapter translates docker-py's.

Callers: ``cli.quick`` (``Peek``).
"""

from __future__ import annotations

import json
import os
import socket
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kedge import errors
from kedge.reconcilers import listing, refusals
from kedge.reconcilers.deadlines import Deadlines, stopped_answering
from kedge.specs import labels

__all__ = ["Peek"]


def _context(env: Mapping[str, str]) -> str:
    """The docker context in effect: ``DOCKER_CONTEXT``, else the config file's current one."""
    if env.get("DOCKER_CONTEXT"):
        return env["DOCKER_CONTEXT"]
    folder = Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "default"
    current = config.get("currentContext") if isinstance(config, dict) else None
    return current if isinstance(current, str) and current else "default"


class _Connection:
    """HTTP/1.1 GETs on one kept-alive unix socket: as much HTTP as the Docker API answers
    with (a status line, headers, a body of ``Content-Length`` bytes or in chunks), so a
    peek need not import ``http.client`` and the ``email`` package it parses headers with."""

    def __init__(self, path: str, timeout: float) -> None:
        self._path = path
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def get(self, target: str) -> tuple[int, bytes]:
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._sock.settimeout(self._timeout)
            self._sock.connect(self._path)
        self._sock.sendall(f"GET {target} HTTP/1.1\r\nHost: docker\r\n\r\n".encode())
        status_line, *lines = self._until(b"\r\n\r\n").split(b"\r\n")
        status = int(status_line.split()[1])
        headers = {}
        for line in lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            return status, self._chunked()
        return status, self._exactly(int(headers.get(b"content-length", b"0")))

    def _chunked(self) -> bytes:
        parts = []
        while size := int(self._until(b"\r\n").split(b";")[0] or b"0", 16):
            parts.append(self._exactly(size))
            self._exactly(2)  # the CRLF after each chunk
        while self._until(b"\r\n"):  # trailers, up to the empty line
            pass
        return b"".join(parts)

    def _until(self, mark: bytes) -> bytes:
        while (end := self._buffer.find(mark)) < 0:
            self._fill()
        found, self._buffer = self._buffer[:end], self._buffer[end + len(mark) :]
        return found

    def _exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        found, self._buffer = self._buffer[:size], self._buffer[size:]
        return found

    def _fill(self) -> None:
        assert self._sock is not None
        data = self._sock.recv(65536)
        if not data:
            raise ConnectionError("the Docker daemon closed the connection")
        self._buffer += data


class Peek:
    """The stack's list calls over a local Docker socket, with the standard library alone.

    Any failure raises an ``errors.EngineError``; the caller then takes the full path, whose
    engine says properly what is wrong. Each answer is awaited up to the ``read`` deadline
    (``reconcilers.deadlines``), as the engine's list calls are.
    """

    def __init__(self, socket_path: str, *, timeout: float = 10.0) -> None:
        self._connection = _Connection(socket_path, timeout)
        self._timeout = timeout
        self.calls = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Peek | None:
        """A peek at the daemon ``DOCKER_HOST`` names, or None when it is not a unix socket."""
        env = os.environ if env is None else env
        if not env.get("DOCKER_HOST") and _context(env) != "default":
            return None  # a docker context: the engine adapter resolves it
        host = env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        if not host.startswith("unix://") or env.get("DOCKER_TLS_VERIFY"):
            return None
        try:
            deadlines = Deadlines.from_env(env)
        except errors.SpecError:
            return None  # the full path says what is wrong with the setting
        return cls(host.removeprefix("unix://"), timeout=deadlines.read)

    def close(self) -> None:
        self._connection.close()

    def get(self, path: str, **query: Any) -> Any:
        """GET one API path (unversioned: the daemon's own API version) as decoded JSON."""
        target = path + ("?" + urllib.parse.urlencode(query) if query else "")
        what = f"GET {path}"
        with self._translated(what):
            status, body = self._connection.get(target)
            self.calls += 1
            if status != 200:
                raise refusals.refused(f"{what}: HTTP {status}{_reason(body)}", status=status)
            return json.loads(body)

    def stack(self, stack: str, probe: listing.Probe) -> str:
        """The fingerprint of ``stack`` now, making the same list calls as ``observe``."""
        by_label = json.dumps({"label": [f"{labels.STACK}={stack}"]})
        with self._translated(f"peek at stack {stack}"):
            raw = self.get("/containers/json", all=1, filters=by_label)
            containers = [f for f in map(listing.container_facts, raw) if f]
            networks = self.get("/networks", filters=by_label)
            volumes = self.get("/volumes", filters=by_label).get("Volumes") or []
            refs = listing.wanted_images(probe.get("images", ()), containers)
            found = self.get("/images/json") if refs else []
            images, built = listing.resolve_images(found, refs) if refs else ({}, {})
            return listing.fingerprint(
                containers,
                networks,
                volumes,
                images,
                built=built,
                external_networks=self._existing("/networks", probe.get("networks", ())),
                external_volumes=self._existing(
                    "/volumes", probe.get("volumes", ()), key="Volumes"
                ),
            )

    def _existing(
        self, path: str, names: Sequence[str], *, key: str | None = None
    ) -> frozenset[str]:
        if not names:
            return frozenset()
        found = self.get(path, filters=json.dumps({"name": sorted(names)}))
        return listing.existing(found if key is None else found.get(key) or [], names)

    @contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        """The socket's, HTTP's and JSON's failures as engine errors, ``from`` them: the fast
        path's one boundary, as ``engine._translated`` is docker-py's."""
        try:
            yield
        except TimeoutError as exc:
            raise stopped_answering(what, self._timeout) from exc
        except OSError as exc:
            raise errors.EngineUnavailable(
                f"{what}: the Docker daemon does not answer: {exc}"
            ) from exc
        except (ValueError, LookupError, TypeError, AttributeError) as exc:
            raise errors.EngineError(f"{what}: an answer Kedge cannot read: {exc!r}") from exc


def _reason(body: bytes) -> str:
    """Docker's explanation of a refusal (its JSON ``message``), if the body has one."""
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        return ""
    return f": {message}" if message else ""
