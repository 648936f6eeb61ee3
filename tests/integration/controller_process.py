"""A ``kedge controller`` subprocess for the controller's end-to-end, crash and metrics tests.

Starts the real CLI on a temporary folder and database, scrapes its ``/metrics`` and parses
them with prometheus-client's parser, writes spec files, and waits for conditions.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], T], *, timeout: float, what: str, every: float = 0.1) -> T:
    """Call ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def write_atomically(path: Path, text: str) -> None:
    """Write as editors and git do: a temporary file renamed over the target."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


LOOP = '["sh", "-c", "trap \'exit 0\' TERM; while true; do sleep 1; done"]'


def spec_text(
    name: str,
    *,
    image: str,
    rev: str = "1",
    healthy: bool = True,
    on_failure: str = "stay",
    drift: str = "heal",
    services: tuple[str, ...] = ("db", "web"),
) -> str:
    """A stack of a healthy ``db`` and a ``web`` that depends on it; ``rev`` changes web only."""
    lines = [
        f"name: {name}",
        "x-kedge:",
        f"  on_failure: {on_failure}",
        f"  drift: {drift}",
        "services:",
    ]
    if "db" in services:
        lines += [
            "  db:",
            f"    image: {image}",
            f"    command: {LOOP}",
            "    healthcheck:",
            '      test: ["CMD", "true"]',
            "      interval: 1s",
            "      retries: 1",
        ]
    if "web" in services:
        lines += [
            "  web:",
            f"    image: {image}",
            f"    command: {LOOP}",
            "    environment:",
            f'      REV: "{rev}"',
            "    healthcheck:",
            f'      test: ["CMD", "{"true" if healthy else "false"}"]',
            "      interval: 1s",
            "      retries: 1",
            "    x-kedge:",
            "      health_timeout: 10s",
        ]
        if "db" in services:
            lines += ["    depends_on:", "      db:", "        condition: service_healthy"]
    return "\n".join(lines) + "\n"


class ControllerProcess:
    """``kedge controller`` as a child process, with its log in ``log_path``."""

    def __init__(
        self,
        specs: Path,
        db: Path,
        *,
        resync: float = 60.0,
        workers: int = 2,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.specs, self.db = specs, db
        self.port = free_port()
        self.log_path = db.with_suffix(".log")
        self.args = [
            sys.executable,
            "-m",
            "kedge",
            "controller",
            "--specs",
            str(specs),
            "--db",
            str(db),
            "--workers",
            str(workers),
            "--resync",
            str(resync),
            "--metrics-addr",
            f"127.0.0.1:{self.port}",
            *extra,
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ControllerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=log)
        log.close()
        wait_for(self.is_serving, timeout=30, what="the controller's /metrics")
        return self

    def is_serving(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"controller exited with {self.proc.returncode}:\n{self.log()}")
        try:
            self.scrape_text()
        except OSError:
            return False
        return True

    def scrape_text(self) -> str:
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def scrape(self) -> Samples:
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(self.scrape_text())
            for s in family.samples
        }

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def sample(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value, 0 when absent."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def containers_of(client: Any, stack: str) -> list[Any]:
    """The stack's containers; a list that raced with a removal is taken again."""
    import docker

    for _ in range(20):
        try:
            return list(
                client.containers.list(all=True, filters={"label": [f"kedge.stack={stack}"]})
            )
        except docker.errors.NotFound:
            time.sleep(0.05)
    raise AssertionError(f"the containers of {stack} keep changing")


def running_healthy(client: Any, stack: str, *, services: int = 2) -> dict[str, Any] | None:
    """{service: container} when every service has one running, healthy container."""
    import docker

    found: dict[str, Any] = {}
    for c in containers_of(client, stack):
        try:
            c.reload()
        except docker.errors.NotFound:
            return None  # removed while we looked: not settled
        state = c.attrs["State"]
        if state["Status"] != "running" or state.get("Health", {}).get("Status") != "healthy":
            return None
        found[c.labels["kedge.service"]] = c
    return found if len(found) == services else None
