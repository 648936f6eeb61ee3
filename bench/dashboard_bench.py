"""Dashboard under load: 50 stacks, events at 100 per second, for minutes.

Usage: .venv/bin/python bench/dashboard_bench.py [--minutes 10] [--stacks 50] [--rate 100]
       [--clients 4] [--docker]

Starts a Kedge server in a child process (this script with ``--serve``): a real SQLite store
seeded with ``--stacks`` stacks (a version, an applied APPLY each), wrapped by the event
publisher, the real app on uvicorn, and a writer thread that plays the controller's part —
enqueue, claim, log the actions, finish, set the status — through the publishing store at
``--rate`` events a second. ``--docker`` also gives the server the real engine (the pages
then ask Docker too). This process then, for ``--minutes``:

- keeps ``--clients`` SSE clients on ``/api/v1/events`` (one filtered by stack) and measures
  the delivery lag of every event (received − published, one clock);
- loads the stack list (``/``) and one stack page, each once a second, timing the answer;
- samples the server's resident memory every 5 s.

It prints p50/p95/p99/max of page times and of the delivery lag, the events delivered per
second, and the memory at start, after the warm-up (two minutes: the event hub's ring
buffer fills, caches grow), and at the end, with the growth after the warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from kedge.cli.client import iter_sse


def serve(args: argparse.Namespace) -> None:
    """The server side: store, publisher, app, uvicorn, and the writer thread."""
    import uvicorn

    from kedge.api import feeds
    from kedge.api.app import create_app
    from kedge.observability.hub import EventHub
    from kedge.store import SqliteStore

    store = SqliteStore.open(args.db)
    hub = EventHub()
    published = feeds.publishing(store, hub)
    names = seed(published, args.stacks)
    engine = None
    if args.docker:
        from kedge.reconcilers.engine import Engine

        engine = Engine.from_env()
    app = create_app(published, engine)
    app.state.events = hub
    threading.Thread(target=write, args=(published, names, args.rate), daemon=True).start()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


def seed(store: Any, count: int) -> list[str]:
    from kedge.specs.commands import CommandReason, CommandStatus, CommandType

    names = [f"bench{i:03d}" for i in range(count)]
    for name in names:
        document = {"name": name, "services": {"web": {"image": "busybox:1"}}}
        store.versions.record(name, document, digest=f"{hash(name) & (2**64 - 1):064x}", source="b")
        command = store.commands.enqueue(
            name, CommandType.APPLY, reason=CommandReason.API, version=1
        )
        held = store.commands.claim("bench")
        store.commands.finish(command.id, token=held.token, status=CommandStatus.DONE, actions=1)
        store.stacks.set_status(
            name, sync="Synced", health="Healthy", applied_version=1, desired_version=1
        )
    return names


def write(store: Any, names: list[str], rate: float) -> None:
    """One RECONCILE per cycle, with four action lines: eight events; paced to ``rate``."""
    from kedge.specs.commands import CommandReason, CommandStatus, CommandType

    per_cycle, started, sent, i = 8, time.monotonic(), 0, 0
    while True:
        name = names[i % len(names)]
        i += 1
        store.commands.enqueue(name, CommandType.RECONCILE, reason=CommandReason.DRIFT, version=1)
        held = store.commands.claim("bench")
        if held is None:
            continue
        for step in ("stop", "remove", "create", "start"):
            message = f"{step}_container container:{name}-web-1 done in 0.01 s"
            store.commands.log(held.id, token=held.token, message=message)
        store.commands.finish(held.id, token=held.token, status=CommandStatus.DONE, actions=4)
        sent += per_cycle  # drift.seen, queued, started, 4 actions, finished
        ahead = sent / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)


class Client(threading.Thread):
    """One SSE client: delivery lag of every event it receives."""

    def __init__(self, url: str, *, stack: str | None, until: float) -> None:
        super().__init__(daemon=True)
        self.url, self.stack, self.until = url, stack, until
        self.lags: list[float] = []
        self.count = 0

    def run(self) -> None:
        params = {"stack": self.stack} if self.stack else {}
        timeout = httpx.Timeout(10.0, read=30.0)
        with httpx.stream("GET", f"{self.url}/api/v1/events", params=params, timeout=timeout) as r:
            for kind, data in iter_sse(r.iter_lines()):
                if kind in ("keepalive", "gap"):
                    continue
                at = datetime.fromisoformat(json.loads(data)["at"])
                self.lags.append((datetime.now(UTC) - at).total_seconds())
                self.count += 1
                if time.monotonic() > self.until:
                    return


def percentiles(values: list[float]) -> str:
    if not values:
        return "no samples"
    ordered = sorted(values)
    q = (
        statistics.quantiles(ordered, n=100, method="inclusive")
        if len(ordered) > 1
        else ordered * 99
    )
    return (
        f"p50 {q[49] * 1000:.1f} ms, p95 {q[94] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms,"
        f" max {ordered[-1] * 1000:.1f} ms (n={len(ordered)})"
    )


def time_pages(url: str, *, until: float, pages: dict[str, list[float]]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        while time.monotonic() < until:
            for path, times in pages.items():
                started = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text[:200]
            time.sleep(1.0)


def bench(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="kedge-dash-bench-"))
    port = free_port()
    command = [sys.executable, __file__, "--serve", "--db", str(folder / "kedge.db")]
    command += ["--port", str(port), "--stacks", str(args.stacks), "--rate", str(args.rate)]
    command += ["--docker"] if args.docker else []
    server = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        process = psutil.Process(server.pid)
        run(args, url, process)
    finally:
        server.terminate()
        server.wait(timeout=30)


def run(args: argparse.Namespace, url: str, process: psutil.Process) -> None:
    duration = args.minutes * 60
    until = time.monotonic() + duration
    clients = [
        Client(url, stack="bench007" if i == 0 else None, until=until) for i in range(args.clients)
    ]
    for client in clients:
        client.start()
    pages: dict[str, list[float]] = {"/": [], "/stacks/bench007": []}
    pager = threading.Thread(
        target=time_pages, args=(url,), kwargs={"until": until, "pages": pages}
    )
    pager.start()
    memory: list[tuple[float, int]] = []
    started = time.monotonic()
    while time.monotonic() < until:
        memory.append((time.monotonic() - started, process.memory_info().rss))
        time.sleep(5)
    memory.append((time.monotonic() - started, process.memory_info().rss))
    pager.join()
    for client in clients:
        client.join(timeout=40)
    report(args, clients, pages, memory, duration=duration)


def report(
    args: argparse.Namespace,
    clients: list[Client],
    pages: dict[str, list[float]],
    memory: list[tuple[float, int]],
    *,
    duration: float,
) -> None:
    mib = 1024 * 1024
    print(f"dashboard bench: {args.stacks} stacks, {args.rate:g} events/s, {args.minutes:g} min,")
    print(f"  {args.clients} SSE clients (one filtered by stack), pages timed once a second")
    for path, times in pages.items():
        print(f"  page {path:<18} {percentiles(times)}")
    everyone = [c for c in clients if c.stack is None]
    lags = [lag for c in everyone for lag in c.lags]
    print(f"  SSE delivery lag     {percentiles(lags)}")
    rate = sum(c.count for c in everyone) / max(len(everyone), 1) / duration
    print(f"  events received per client per second: {rate:.1f} (all stacks)")
    print(f"  filtered client (one stack): {clients[0].count} events")
    first = memory[0][1]
    # warm-up: the hub's ring buffer fills (10,000 events: 100 s at 100 a second), caches grow
    warm_at = min(120.0, duration / 2)
    warm = next((rss for t, rss in memory if t >= warm_at), memory[-1][1])
    last = memory[-1][1]
    peak = max(rss for _, rss in memory)
    print(
        f"  server RSS: start {first / mib:.1f} MiB, after warm-up {warm / mib:.1f} MiB,"
        f" end {last / mib:.1f} MiB, peak {peak / mib:.1f} MiB;"
        f" growth after warm-up ({warm_at / 60:.0f} min) {(last - warm) / mib:+.1f} MiB"
    )
    print(f"  machine load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    step = max(len(memory) // 10, 1)
    trail = ", ".join(f"{t / 60:.1f}m {rss / mib:.0f}" for t, rss in memory[::step])
    print(f"  RSS over time (MiB): {trail}")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the bench server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--stacks", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100.0, help="events per second")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--docker", action="store_true", help="give the server the engine")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
    else:
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        bench(args)


if __name__ == "__main__":
    main()
