"""The API client of the remote verbs: one httpx client per call of ``kedge``.

Every remote verb (``get``, ``describe``, ``apply``, ``diff``, ``rollback``, ``delete``,
``cancel``, ``history``, ``logs``, ``status``) talks to a Kedge server through ``Client``:
``--server`` or ``KEDGE_SERVER`` names it, ``addresses.DEFAULT_SERVER`` (what ``kedge serve``
listens on) is the default. Problems answered by the server (``application/problem+json``)
become ``RemoteError`` with their ``type``; a server that does not answer becomes a
``RemoteError`` that says how to start one. ``follow_command`` follows a command to its end
over the server-sent events of its log lines. Each request carries the CLI's token
(``cli.credentials``: ``KEDGE_TOKEN``, else ``kedge login``'s file) as a bearer when there is one.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import platform
import sys
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import httpx
import typer

from kedge.cli import addresses, credentials

__all__ = [
    "DEFAULT_SERVER",
    "EXIT_ERROR",
    "Client",
    "RemoteError",
    "ServerOption",
    "connect",
    "iter_sse",
]

DEFAULT_SERVER = addresses.DEFAULT_SERVER
PROBLEM_BASE = "https://kedge.dev/problems/"
#: a stream that says nothing, not even a keepalive, for this long is taken as dropped
STREAM_READ_TIMEOUT = 15.0

ServerOption = Annotated[
    str,
    typer.Option(
        "--server",
        envvar="KEDGE_SERVER",
        help="The Kedge server to talk to.",
        show_default=True,
    ),
]


class RemoteError(Exception):
    """The server answered a problem, or no server answered."""

    def __init__(self, message: str, *, kind: str = "unreachable", status: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


def _problem_message(response: httpx.Response) -> RemoteError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    kind = str(body.get("type", "")).removeprefix(PROBLEM_BASE) or "http-error"
    lines = [str(body.get("title") or f"HTTP {response.status_code}")]
    errors = body.get("errors") or []
    if errors:
        lines += [_spec_line(e) for e in errors]
    elif body.get("detail"):
        lines[0] += f": {body['detail']}"
    return RemoteError("\n".join(lines), kind=kind, status=response.status_code)


def _spec_line(error: dict[str, Any]) -> str:
    where = str(error.get("file", ""))
    for key in ("line", "column"):
        if error.get(key) is not None:
            where += f":{error[key]}"
    text = f"  {where}: "
    if error.get("path"):
        text += f"{error['path']}: "
    text += str(error.get("message", ""))
    if error.get("hint"):
        text += f" (hint: {error['hint']})"
    return text


#: the exit status of a verb that could not do its work (bad input, no server, a problem)
EXIT_ERROR = 2


@contextlib.contextmanager
def connect(server: str, *, token: str | None = None) -> Iterator[Client]:
    """A client for one verb; a ``RemoteError`` ends the verb with its message and exit 2."""
    try:
        with Client(server, token=token) as client:
            yield client
    except RemoteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_ERROR) from exc


class Client:
    """A Kedge server; methods answer decoded JSON or raise ``RemoteError``."""

    def __init__(self, server: str, *, timeout: float = 30.0, token: str | None = None) -> None:
        self.server = server.rstrip("/")
        # the header names the author only while the server has no identity configured;
        # once it has, the bearer token (``token``, else ``credentials.read``) is who asks
        headers = {"X-Kedge-User": f"{getpass.getuser()}@{platform.node()}"}
        bearer = token or credentials.read()
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        self._http = httpx.Client(base_url=self.server, timeout=timeout, headers=headers)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.is_error:
            raise _problem_message(response)
        return response.json()

    def _unreachable(self, exc: Exception) -> RemoteError:
        return RemoteError(
            f"no Kedge server answers at {self.server} ({exc.__class__.__name__}): "
            "start one with `kedge serve`, or name another with --server or KEDGE_SERVER"
        )

    def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, following ``next_cursor``."""
        cursor: str | None = None
        while True:
            page = self.get(path, cursor=cursor, **params)
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def stream(self, path: str, **params: Any) -> Iterator[tuple[str, str]]:
        """The (event, data) pairs of a server-sent events route, until it ends."""
        try:
            timeout = httpx.Timeout(10.0, read=STREAM_READ_TIMEOUT)
            with self._http.stream("GET", path, params=params, timeout=timeout) as response:
                if response.is_error:
                    response.read()
                    raise _problem_message(response)
                yield from iter_sse(response.iter_lines())
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    def stream_text(self, path: str, **params: Any) -> Iterator[str]:
        """The lines of a streamed text route, until it ends."""
        try:
            with self._http.stream("GET", path, params=params, timeout=None) as response:
                if response.is_error:
                    response.read()
                    raise _problem_message(response)
                yield from response.iter_lines()
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    def follow_command(
        self,
        command_id: int,
        *,
        on_line: Callable[[dict[str, Any]], None],
        deadline: float | None = None,
    ) -> dict[str, Any]:
        """Follow a command's log lines until it ends; answers the final command.
        ``TimeoutError`` when ``deadline`` (a ``time.monotonic()`` value) passes first."""
        after = 0
        while True:  # a dropped stream is resumed after the last line seen
            try:
                for event, data in self.stream(
                    f"/api/v1/commands/{command_id}/logs/stream", after=after
                ):
                    if event == "line":
                        line = json.loads(data)
                        after = int(line["seq"])
                        on_line(line)
                    elif event == "end":
                        return dict(json.loads(data))
                    if deadline is not None and time.monotonic() > deadline:
                        raise TimeoutError(f"command #{command_id} did not end in time")
            except RemoteError as exc:
                if exc.kind != "unreachable" or (
                    deadline is not None and time.monotonic() > deadline
                ):
                    raise
                time.sleep(0.5)


def iter_sse(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """Decode server-sent events: (event name, data) per blank-line-terminated event."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith(":"):
            yield "keepalive", ""
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield event, "\n".join(data)
