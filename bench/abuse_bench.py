"""Abuse benchmark of ``kedge serve`` (issue 14, Done when 5): bounded load on 127.0.0.1 only,
stopping by itself.

Starts ``kedge serve`` as a subprocess (real store, real Docker, the shipped limits) with one
stack of one quiet running container, measures ``/healthz`` and the server's memory at rest,
then, all at once for ``--seconds``:

- 200 half-open connections: each sends part of a request's headers and then one byte a
  second (slowloris); the server's header deadline should close them;
- 100 ``GET /api/v1/stacks/{name}/logs?follow=true`` streams, held open and read, from four
  loopback client addresses (25 each: one address may hold 64 streams);
- a 200 MB chunked body to ``POST /api/v1/versions``: the server should answer 413 once the
  body passes its 1 MB cap, long before it is all sent;

while ``/healthz`` is asked every 20 ms and the server's RSS is sampled every 100 ms. Prints
the figures and the verdicts against the goals: ``/healthz`` p99 under 100 ms, RSS under
``--rss-bound`` MiB (default 200; about 80 at rest). Everything it starts it stops, and the
stack is removed.

Usage: ``.venv/bin/python bench/abuse_bench.py [--seconds 20] [--rss-bound 200]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker
import httpx
import psutil
from tests.conftest import build_test_image, remove_stack_objects

HOST = "127.0.0.1"
HALF_OPEN = 200
STREAMS = 100
STREAM_ADDRESSES = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")
BODY = 200 * 1024 * 1024
CHUNK = 64 * 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Figures:
    healthz_ms: list[float] = field(default_factory=list)
    healthz_at: list[float] = field(default_factory=list)  # seconds since the start
    healthz_failed: int = 0
    rss_mib: list[float] = field(default_factory=list)
    threads: list[int] = field(default_factory=list)
    half_open_closed_after: list[float] = field(default_factory=list)
    streams_ok: int = 0
    streams_refused: dict[int, int] = field(default_factory=dict)
    stream_lines: int = 0
    body_status: str = ""
    body_sent: int = 0
    body_seconds: float = 0.0


def probe_healthz(url: str, stop: threading.Event, figures: Figures) -> None:
    began = time.monotonic()
    with httpx.Client(timeout=5) as client:
        while not stop.is_set():
            start = time.perf_counter()
            try:
                ok = client.get(f"{url}/healthz").status_code == 200
            except httpx.HTTPError:
                ok = False
            took = (time.perf_counter() - start) * 1000
            if ok:
                figures.healthz_ms.append(took)
                figures.healthz_at.append(time.monotonic() - began)
            else:
                figures.healthz_failed += 1
            stop.wait(0.02)


def sample_server(pid: int, stop: threading.Event, figures: Figures) -> None:
    process = psutil.Process(pid)
    while not stop.is_set():
        with contextlib.suppress(psutil.Error):
            figures.rss_mib.append(process.memory_info().rss / 2**20)
            figures.threads.append(process.num_threads())
        stop.wait(0.1)


def half_open(port: int, stop: threading.Event, figures: Figures) -> None:
    """200 connections that never finish their headers; note when the server closes each."""
    opened: dict[socket.socket, float] = {}
    for _ in range(HALF_OPEN):
        sock = socket.create_connection((HOST, port), timeout=5)
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\n".encode())
        sock.setblocking(False)
        opened[sock] = time.monotonic()
    last_trickle = time.monotonic()
    try:
        while opened and not stop.is_set():
            readable, _, _ = select.select(list(opened), [], [], 0.2)
            for sock in readable:
                try:
                    gone = sock.recv(4096) == b""
                except (ConnectionResetError, BlockingIOError):
                    gone = True
                if gone:
                    figures.half_open_closed_after.append(time.monotonic() - opened.pop(sock))
                    sock.close()
            if time.monotonic() - last_trickle >= 1.0:
                last_trickle = time.monotonic()
                for sock in list(opened):
                    with contextlib.suppress(OSError):
                        sock.send(b"X")
    finally:
        for sock in opened:
            sock.close()


def follow(
    url: str, source: str, stop: threading.Event, figures: Figures, lock: threading.Lock
) -> None:
    transport = httpx.HTTPTransport(local_address=source)
    with (
        httpx.Client(transport=transport, timeout=httpx.Timeout(10, read=2)) as client,
        client.stream("GET", url, params={"follow": True, "tail": 1}) as response,
    ):
        with lock:
            if response.status_code == 200:
                figures.streams_ok += 1
            else:
                refused = figures.streams_refused
                refused[response.status_code] = refused.get(response.status_code, 0) + 1
        if response.status_code != 200:
            return
        lines = response.iter_lines()
        while not stop.is_set():
            try:
                next(lines)
                with lock:
                    figures.stream_lines += 1
            except httpx.ReadTimeout:
                continue  # a quiet container: keep holding the stream
            except (StopIteration, httpx.HTTPError):
                return


def big_body(port: int, figures: Figures) -> None:
    """200 MB chunked; stop sending when the server answers."""
    head = (
        f"POST /api/v1/versions HTTP/1.1\r\nHost: {HOST}\r\n"
        "Content-Type: application/yaml\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    frame = f"{CHUNK:x}\r\n".encode() + b"#" * CHUNK + b"\r\n"
    start = time.monotonic()
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        while figures.body_sent < BODY:
            readable, writable, _ = select.select([sock], [sock], [], 10)
            if readable or not writable:
                break
            try:
                sock.sendall(frame)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
            figures.body_sent += CHUNK
        sock.setblocking(True)
        sock.settimeout(10)
        try:
            figures.body_status = sock.recv(200).split(b"\r\n")[0].decode("latin-1")
        except OSError as exc:
            figures.body_status = f"no answer ({exc.__class__.__name__})"
    figures.body_seconds = time.monotonic() - start


def wait_for(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            if check():
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"abuse bench: {what} did not happen within {timeout:.0f} s")
        time.sleep(0.2)


def measure_rest(url: str, seconds: float) -> list[float]:
    found = []
    with httpx.Client(timeout=5) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            start = time.perf_counter()
            client.get(f"{url}/healthz")
            found.append((time.perf_counter() - start) * 1000)
            time.sleep(0.02)
    return found


def show_ms(label: str, values: list[float]) -> None:
    if not values:
        print(f"{label:<34} no answer")
        return
    print(
        f"{label:<34} p50 {statistics.median(values):6.1f} ms"
        f"   p99 {percentile(values, 0.99):6.1f} ms   max {max(values):6.1f} ms   (n={len(values)})"
    )


def run(seconds: float, rss_bound: float) -> bool:
    client = docker.from_env()
    image = build_test_image(client)
    stack = f"abuse{uuid.uuid4().hex[:8]}"
    port = free_port()
    url = f"http://{HOST}:{port}"
    with tempfile.TemporaryDirectory(prefix="kedge-abuse-") as tmp:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kedge",
                "serve",
                "--db",
                f"{tmp}/k.db",
                "--addr",
                f"{HOST}:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(Path(tmp) / "serve.log", "w"),  # noqa: SIM115
        )
        try:
            wait_for(lambda: httpx.get(f"{url}/healthz").status_code == 200, 60, "kedge serve")
            spec = (
                f"name: {stack}\nservices:\n  app:\n    image: {image}\n"
                '    command: ["sh", "-c", "echo started; exec sleep 3600"]\n'
            )
            created = httpx.post(
                f"{url}/api/v1/versions", content=spec, headers={"Content-Type": "application/yaml"}
            )
            created.raise_for_status()
            wait_for(
                lambda: client.containers.get(f"{stack}-app-1").status == "running",
                120,
                "the stack",
            )
            rest = measure_rest(url, 3)
            pid_rss = psutil.Process(server.pid).memory_info().rss / 2**20
            print(f"kedge serve on {url}, stack {stack} (1 quiet container); {os.cpu_count()} CPUs")
            show_ms("/healthz at rest", rest)
            print(f"{'server RSS at rest':<34} {pid_rss:6.1f} MiB")

            figures = Figures()
            stop = threading.Event()
            lock = threading.Lock()
            logs_url = f"{url}/api/v1/stacks/{stack}/logs"
            workers = [
                threading.Thread(target=probe_healthz, args=(url, stop, figures)),
                threading.Thread(target=sample_server, args=(server.pid, stop, figures)),
                threading.Thread(target=half_open, args=(port, stop, figures)),
                threading.Thread(target=big_body, args=(port, figures)),
                *[
                    threading.Thread(
                        target=follow,
                        args=(
                            logs_url,
                            STREAM_ADDRESSES[n % len(STREAM_ADDRESSES)],
                            stop,
                            figures,
                            lock,
                        ),
                    )
                    for n in range(STREAMS)
                ],
            ]
            start = time.monotonic()
            for worker in workers:
                worker.start()
            stop.wait(seconds)
            stop.set()
            for worker in workers:
                worker.join(timeout=30)
            took = time.monotonic() - start
            after = measure_rest(url, 2)
        finally:
            with contextlib.suppress(httpx.HTTPError):
                httpx.delete(f"{url}/api/v1/stacks/{stack}", timeout=10)
                wait_for(
                    lambda: not client.containers.list(filters={"name": f"{stack}-app-1"}),
                    60,
                    "the delete",
                )
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
            remove_stack_objects(client, stack)
            client.close()

    print(f"\nall at once for {took:.1f} s:")
    closed = figures.half_open_closed_after
    print(
        f"{'half-open connections':<34} {HALF_OPEN} opened, {len(closed)} closed by the server"
        + (f" after {min(closed):.1f}-{max(closed):.1f} s" if closed else "")
    )
    print(
        f"{'log-follow streams':<34} {STREAMS} asked: {figures.streams_ok} served"
        f" ({figures.stream_lines} lines read), refused {figures.streams_refused or 'none'}"
    )
    print(
        f"{'200 MB chunked body':<34} {figures.body_status!r}"
        f" after {figures.body_sent / 2**20:.1f} MiB sent, in {figures.body_seconds:.2f} s"
    )
    show_ms("/healthz during the abuse", figures.healthz_ms)
    if figures.healthz_ms:
        slowest = figures.healthz_ms.index(max(figures.healthz_ms))
        late = sum(1 for ms in figures.healthz_ms if ms > 100)
        print(
            f"{'/healthz slowest':<34} at +{figures.healthz_at[slowest]:.1f} s;"
            f" {late} of {len(figures.healthz_ms)} over 100 ms"
        )
    print(f"{'/healthz failures':<34} {figures.healthz_failed}")
    peak = max(figures.rss_mib, default=0.0)
    print(f"{'server RSS peak':<34} {peak:6.1f} MiB (bound {rss_bound:.0f} MiB)")
    print(f"{'server threads peak':<34} {max(figures.threads, default=0)}")
    show_ms("/healthz after", after)

    p99 = percentile(figures.healthz_ms, 0.99) if figures.healthz_ms else float("inf")
    verdicts = {
        "healthz p99 < 100 ms": p99 < 100 and figures.healthz_failed == 0,
        f"RSS < {rss_bound:.0f} MiB": peak < rss_bound,
        "body cut at the cap": figures.body_status.startswith("HTTP/1.1 413")
        and figures.body_sent < BODY // 4,
        "half-open connections closed": len(closed) == HALF_OPEN,
        "100 streams served": figures.streams_ok == STREAMS,
    }
    print()
    for name, ok in verdicts.items():
        print(f"{name:<34} {'ok' if ok else 'MISSED'}")
    return all(verdicts.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the abuse lasts")
    parser.add_argument("--rss-bound", type=float, default=200.0, help="MiB the server may use")
    args = parser.parse_args()
    sys.exit(0 if run(args.seconds, args.rss_bound) else 1)


if __name__ == "__main__":
    main()
