"""API latency with a big store: p50 and p99 of ``GET /api/v1/stacks`` and of commands pages.

Fills a fresh SQLite store through the ``Store`` protocol with 1,000 stacks (a version and a
status each) and 100,000 commands (100 per stack, created over ~4 days), starts the real app
with uvicorn on a free loopback port, and times real HTTP requests with httpx:

- ``GET /api/v1/stacks`` (first page, default size) and the walk over every stacks page;
- ``GET /api/v1/commands`` first page, and the walk over every page to the last one
  (keyset pagination: the last page should cost what the first does);
- ``GET /api/v1/commands?stack=…`` (one stack's commands) and ``?status=FAILED``;
- then the same reads with the app called in process (``httpx.ASGITransport``), which shows
  the app's own cost apart from the socket. The machine's load average is printed too: on a
  shared, busy machine the p99 measures the scheduler more than Kedge.

Usage: ``.venv/bin/python bench/api_bench.py [--stacks 1000] [--commands 100000]
[--requests 300] [--db PATH]`` (an existing ``--db`` is reused, so a second run skips the fill).
Aim (issue 6): p99 under 50 ms, and the last page as fast as the first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from kedge.api.app import create_app
from kedge.specs.commands import CommandReason, CommandStatus, CommandType
from kedge.store.sqlite import SqliteStore


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def fill(path: Path, *, stacks: int, commands: int) -> None:
    clock = Clock()
    store = SqliteStore.open(path, clock=clock)
    started = time.perf_counter()
    names = [f"stack-{n:04d}" for n in range(stacks)]
    for name in names:
        document = {"name": name, "services": {"web": {"image": "busybox:1"}}}
        store.versions.record(name, document, digest=f"sha256:{name}", source="bench")
    rng = random.Random(6)
    kinds = [CommandType.APPLY, CommandType.RECONCILE, CommandType.DELETE]
    for n in range(commands):
        clock.now += timedelta(seconds=3.5)
        name = names[n % stacks]
        kind = rng.choice(kinds)
        store.commands.enqueue(
            name,
            kind,
            reason=CommandReason.FILE,
            version=None if kind is CommandType.DELETE else 1,
        )
        if n % 97 == 0:  # some commands run and fail, as in life
            claimed = store.commands.claim("bench")
            if claimed is not None:
                store.commands.finish(
                    claimed.id, token=claimed.token, status=CommandStatus.FAILED, error="bench"
                )
    for name in names:
        store.stacks.set_status(name, sync="Synced", health="Healthy", applied_version=1)
    store.close()
    print(f"filled {stacks} stacks, {commands} commands in {time.perf_counter() - started:.1f}s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"p50 {statistics.median(ordered) * 1000:6.1f} ms   p99 {p99 * 1000:6.1f} ms"
        f"   (n={len(ordered)})"
    )


def timed(client: httpx.Client, path: str, params: dict[str, object]) -> tuple[float, Any]:
    started = time.perf_counter()
    answer = client.get(path, params=params)
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    return elapsed, answer.json()


def repeat(client: httpx.Client, path: str, params: dict[str, object], n: int) -> list[float]:
    timed(client, path, params)  # warm
    return [timed(client, path, params)[0] for _ in range(n)]


def walk(client: httpx.Client, path: str, params: dict[str, object]) -> list[float]:
    """Every page of a listing in order; the time of each."""
    samples, cursor = [], None
    while True:
        elapsed, page = timed(client, path, {**params, **({"cursor": cursor} if cursor else {})})
        samples.append(elapsed)
        cursor = page["next_cursor"]
        if not cursor:
            return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=1000)
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()
    path = args.db or Path(tempfile.mkdtemp(prefix="kedge-api-bench-")) / "kedge.db"
    if not path.exists():
        fill(path, stacks=args.stacks, commands=args.commands)
    store = SqliteStore.open(path)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(store, None), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    n = args.requests
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        rows = [
            ("GET /api/v1/stacks (first page, 100)", repeat(client, "/api/v1/stacks", {}, n)),
            ("GET /api/v1/stacks, every page", walk(client, "/api/v1/stacks", {})),
            ("GET /api/v1/commands (first page, 50)", repeat(client, "/api/v1/commands", {}, n)),
        ]
        pages = walk(client, "/api/v1/commands", {"limit": 50})
        rows.append((f"GET /api/v1/commands, all {len(pages)} pages", pages))
        rows.append(("  of which the first 100 pages", pages[:100]))
        rows.append(("  of which the last 100 pages", pages[-100:]))
        one = {"stack": "stack-0500"}
        rows.append(("GET /api/v1/commands?stack=…", repeat(client, "/api/v1/commands", one, n)))
        failed = {"status": "FAILED"}
        rows.append(
            ("GET /api/v1/commands?status=FAILED", walk(client, "/api/v1/commands", failed))
        )
    server.should_exit = True
    inside = asyncio.run(in_process(store, n))
    print(f"store {path}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("over HTTP (uvicorn on loopback, httpx):")
    for label, samples in rows:
        print(f"  {label:<42} {percentiles(samples)}")
    print("in process (the ASGI app called directly, no socket):")
    for label, samples in inside:
        print(f"  {label:<42} {percentiles(samples)}")
    store.close()


async def in_process(store: SqliteStore, n: int) -> list[tuple[str, list[float]]]:
    """The same reads through ``httpx.ASGITransport``: the app's own cost, without the
    loopback socket and uvicorn's thread hand-offs (which a busy machine stretches most)."""
    transport = httpx.ASGITransport(app=create_app(store, None))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:

        async def sample(path: str, params: dict[str, object]) -> float:
            started = time.perf_counter()
            answer = await client.get(path, params=params)
            answer.raise_for_status()
            return time.perf_counter() - started

        await sample("/api/v1/stacks", {})
        stacks = [await sample("/api/v1/stacks", {}) for _ in range(n)]
        first = [await sample("/api/v1/commands", {}) for _ in range(n)]
        pages, cursor = [], None
        while True:  # every page of 50, in order
            started = time.perf_counter()
            answer = await client.get(
                "/api/v1/commands", params={"cursor": cursor} if cursor else {}
            )
            pages.append(time.perf_counter() - started)
            cursor = answer.json()["next_cursor"]
            if not cursor:
                break
    return [
        ("GET /api/v1/stacks (first page, 100)", stacks),
        ("GET /api/v1/commands first page (50)", first),
        (f"GET /api/v1/commands, all {len(pages)} pages", pages),
        ("  of which the first 100 pages", pages[:100]),
        ("  of which the last 100 pages", pages[-100:]),
    ]


if __name__ == "__main__":
    main()
