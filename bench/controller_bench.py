"""Benchmark of ``kedge controller`` against the real daemon (issue 5, Done when 5).

Runs the controller as a subprocess on a temporary folder with 20 one-service stacks and
prints, over 20 trials each:

- file written → pass started: a spec file is rewritten (atomically, as git does) and the
  time until its APPLY command is RUNNING (``started_at`` in the store) is taken;
- container removed → running again: a managed container is removed by hand and the time
  until its replacement is running (polled through the Docker API) is taken;
- the controller's CPU share and memory (RSS) while idle with 20 stacks for 60 s.

Aim: under 0.5 s, under 2 s, under 2 % CPU. Usage: ``.venv/bin/python bench/controller_bench.py
[--stacks 20] [--trials 20] [--idle 60]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker
from tests.conftest import build_test_image, remove_stack_objects
from tests.integration.controller_process import (
    ControllerProcess,
    running_healthy,
    spec_text,
    wait_for,
    write_atomically,
)

from kedge.specs.commands import CommandType
from kedge.store import SqliteStore


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def show(label: str, values: list[float]) -> None:
    print(
        f"{label:<36} p50 {statistics.median(values):7.3f} s"
        f"   p95 {percentile(values, 0.95):7.3f} s"
        f"   (n={len(values)}, min {min(values):.3f}, max {max(values):.3f})"
    )


def file_to_pass(
    store: SqliteStore, specs: Path, stacks: list[str], *, image: str, trials: int
) -> list[float]:
    took = []
    for trial in range(trials):
        stack = stacks[trial % len(stacks)]
        latest = store.versions.latest(stack)
        expected = 1 if latest is None else latest.number + 1
        written = time.time()
        write_atomically(
            specs / f"{stack}.yaml",
            spec_text(stack, image=image, rev=f"b{trial}", services=("web",)),
        )

        def started(s: str = stack, n: int = expected) -> datetime | None:
            for command in store.commands.list(stack=s, type=CommandType.APPLY, limit=5).items:
                if command.version == n and command.started_at is not None:
                    return command.started_at
            return None

        began = wait_for(started, timeout=30, what=f"{stack}'s pass", every=0.005)
        took.append(began.timestamp() - written)
        wait_for(lambda s=stack: _settled(store, s), timeout=60, what=f"{stack} done")
    return took


def _settled(store: SqliteStore, stack: str) -> bool:
    return all(c.is_final for c in store.commands.list(stack=stack, limit=5).items)


def removal_to_running(client: Any, stacks: list[str], *, trials: int) -> list[float]:
    took = []
    for trial in range(trials):
        stack = stacks[trial % len(stacks)]
        old = wait_for(
            lambda s=stack: running_healthy(client, s, services=1),
            timeout=60,
            what=f"{stack} healthy",
        )["web"]
        old.remove(force=True)
        removed = time.monotonic()

        def replaced(s: str = stack, old_id: str = old.id) -> bool:
            found = client.containers.list(
                filters={"label": [f"kedge.stack={s}"], "status": "running"}
            )
            return any(c.id != old_id for c in found)

        wait_for(replaced, timeout=60, what=f"{stack} running again", every=0.01)
        took.append(time.monotonic() - removed)
    return took


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def idle(pid: int, *, seconds: float) -> tuple[float, float]:
    cpu, wall = _cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    share = (_cpu_seconds(pid) - cpu) / (time.monotonic() - wall)
    return share, _rss_mib(pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=20)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--idle", type=float, default=60.0)
    args = parser.parse_args()
    client = docker.from_env(timeout=120)
    image = build_test_image(client)
    stacks = [f"kb{uuid.uuid4().hex[:8]}{i:02d}" for i in range(args.stacks)]
    with tempfile.TemporaryDirectory() as tmp:
        specs, db = Path(tmp) / "specs", Path(tmp) / "kedge.db"
        specs.mkdir()
        for stack in stacks:
            write_atomically(
                specs / f"{stack}.yaml", spec_text(stack, image=image, services=("web",))
            )
        ctl = ControllerProcess(specs, db, resync=60).start()
        store = SqliteStore.open(db)
        try:
            for stack in stacks:
                wait_for(
                    lambda s=stack: running_healthy(client, s, services=1),
                    timeout=180,
                    what=f"{stack} healthy",
                    every=0.2,
                )
            print(
                f"kedge controller, {args.stacks} stacks, {args.trials} trials each "
                f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores)"
            )
            show(
                "file written -> pass started",
                file_to_pass(store, specs, stacks, image=image, trials=args.trials),
            )
            show(
                "container removed -> running again",
                removal_to_running(client, stacks, trials=args.trials),
            )
            for stack in stacks:
                wait_for(lambda s=stack: _settled(store, s), timeout=60, what="quiet")
            assert ctl.proc is not None
            share, rss = idle(ctl.proc.pid, seconds=args.idle)
            print(
                f"{'idle for ' + str(int(args.idle)) + ' s':<36} CPU {share * 100:6.2f} %"
                f"      RSS {rss:6.1f} MiB"
            )
        finally:
            store.close()
            ctl.terminate()
            for stack in stacks:
                remove_stack_objects(client, stack)


if __name__ == "__main__":
    main()
