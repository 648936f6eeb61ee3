"""Store throughput: enqueue → claim → finish, in commands per second, and the p99 of a claim.

Usage: .venv/bin/python bench/store_bench.py [--commands N] [--stacks S] [--workers W]
       [--durability NORMAL|FULL]

Enqueues N DEPLOY commands over S stacks, then W worker processes (0: this process) claim
and finish them all. Prints enqueue rate, claim+finish rate, end-to-end rate and claim
latency percentiles, on a fresh SQLite file in a temporary folder.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

from kedge.specs.commands import CommandReason, CommandStatus, CommandType
from kedge.store import Durability, SqliteStore


def drain(db: str, worker: str, durability: str) -> tuple[list[float], float]:
    """Claim and finish until nothing is left; return each claim's latency in seconds and
    the CPU seconds spent."""
    store = SqliteStore.open(db, durability=Durability(durability))
    cpu = time.process_time()
    latencies = []
    while True:
        started = time.perf_counter()
        held = store.commands.claim(worker)
        latencies.append(time.perf_counter() - started)
        if held is None:
            if not store.commands.list(status=CommandStatus.PENDING, limit=1).items:
                break
            time.sleep(0.0005)
            continue
        store.commands.finish(held.id, token=held.token, status=CommandStatus.DONE, actions=0)
    cpu = time.process_time() - cpu
    store.close()
    return latencies, cpu


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=5000)
    parser.add_argument("--stacks", type=int, default=50)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--durability", choices=[d.value for d in Durability], default="NORMAL")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        db = str(Path(folder) / "bench.db")
        store = SqliteStore.open(db, durability=Durability(args.durability))
        started = time.perf_counter()
        cpu = time.process_time()
        for n in range(args.commands):
            store.commands.enqueue(
                f"stack-{n % args.stacks}", CommandType.DEPLOY, reason=CommandReason.API
            )
        enqueued = time.perf_counter() - started
        enqueue_cpu = time.process_time() - cpu

        started = time.perf_counter()
        if args.workers == 0:
            latencies, drain_cpu = drain(db, "bench", args.durability)
        else:
            ctx = multiprocessing.get_context("forkserver")
            with ctx.Pool(args.workers) as pool:
                runs = pool.starmap(
                    drain, [(db, f"bench-{n}", args.durability) for n in range(args.workers)]
                )
            latencies = [latency for run, _ in runs for latency in run]
            drain_cpu = sum(cpu for _, cpu in runs)
        drained = time.perf_counter() - started
        done = store.commands.list(status=CommandStatus.DONE, limit=1)
        assert done.items, "nothing was finished"
        store.close()

    n = args.commands
    print(
        f"store bench: {n} commands over {args.stacks} stacks, "
        f"workers={args.workers or 'in-process'}, synchronous={args.durability}"
    )
    print(f"  enqueue                 {n / enqueued:8.0f} commands/s")
    print(f"  claim + finish          {n / drained:8.0f} commands/s")
    print(f"  enqueue → claim → finish {n / (enqueued + drained):7.0f} commands/s")
    print(
        f"  per CPU-second: enqueue {n / enqueue_cpu:.0f}, claim + finish {n / drain_cpu:.0f},"
        f" enqueue → claim → finish {n / (enqueue_cpu + drain_cpu):.0f} commands"
        f" (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print(
        f"  claim latency  p50 {statistics.median(latencies) * 1e3:.3f} ms"
        f"  p99 {percentile(latencies, 0.99) * 1e3:.3f} ms"
        f"  max {max(latencies) * 1e3:.3f} ms  ({len(latencies)} claims incl. empty polls)"
    )


if __name__ == "__main__":
    main()
