"""Scale: many stacks under one ``kedge controller`` (issue 15, Done when 5).

One controller runs as a subprocess on a folder of stacks of ``--services`` services each
(busybox ``sleep``, ``network_mode: none`` — Docker 20.10's default address pools hold about
30 bridge networks, too few for a network per stack — and no healthcheck, so that 500
containers do not keep two cores busy). It reaches Docker through the converge bench's
counting proxy (``DOCKER_HOST`` points at it), which stamps every request. The stacks are
added in steps (``--sizes 10,50,100``); at each step, once every container runs and the
queue is empty:

- a full resync: its Docker API calls, its wall time, and the controller's CPU and peak RSS
  in it. The controller logs ``resync done`` (at ``--log-level debug``) with the resync's
  length, which gives the window in which the proxy's requests and the CPU samples are
  counted; two resyncs are taken per step;
- idle: the controller's CPU share, RSS and Docker calls over ``--idle`` seconds between two
  resyncs (so ``--resync`` must exceed ``--idle``).

At the last step, ``--trials`` times: one container is removed together with ``--others``
containers of other stacks, all at once; the time until the first is running again (a new
container for its service), and until all are, is taken with the Docker calls made meanwhile.

Every container of the run is removed at the end, whatever happened (``try``/``finally``).
Usage: ``.venv/bin/python bench/scale_bench.py [--sizes 10,50,100] [--services 5]
[--idle 30] [--resync 45] [--trials 3] [--others 20] [--workers 4]``; iterate with
``--sizes 5,10 --idle 5 --resync 12 --trials 1 --others 4``.
"""

from __future__ import annotations

import argparse
import bisect
import concurrent.futures
import contextlib
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import converge_bench  # the counting proxy: one owner
import docker
from tests.conftest import build_test_image
from tests.integration.controller_process import ControllerProcess, wait_for, write_atomically

from kedge.specs.commands import CommandStatus
from kedge.store import SqliteStore

__all__ = ["main", "render_stack"]

ROOT = Path(__file__).resolve().parents[1]


def render_stack(name: str, services: int, *, image: str) -> str:
    """A stack of ``services`` independent sleepers without a network."""
    lines = [f"name: {name}", "services:"]
    for n in range(services):
        lines += [
            f"  s{n}:",
            f"    image: {image}",
            "    command: [sleep, '86400']",
            "    stop_signal: SIGKILL",
            "    network_mode: none",
        ]
    return "\n".join(lines) + "\n"


# -- what the controller process does --------------------------------------------------------


class Sampler:
    """The controller's CPU seconds and RSS, sampled every ``every`` seconds in a thread."""

    def __init__(self, pid: int, *, every: float = 0.05) -> None:
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float, float]] = []  # (time, cpu s, rss MiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        ticks = os.sysconf("SC_CLK_TCK")
        while not self._stop.wait(self.every):
            try:
                stat = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
                status = Path(f"/proc/{self.pid}/status").read_text()
            except OSError:
                return  # the controller ended
            rss = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:"))
            cpu = (int(stat[11]) + int(stat[12])) / ticks
            self.samples.append((time.time(), cpu, rss / 1024))

    def cpu(self, at: float) -> float:
        """CPU seconds used by ``at`` (the nearest sample at or after it)."""
        times = [t for t, _, _ in self.samples]
        i = min(bisect.bisect_left(times, at), len(times) - 1)
        return self.samples[i][1]

    def window(self, start: float, end: float) -> tuple[float, float, float]:
        """CPU seconds, CPU share and peak RSS between ``start`` and ``end``."""
        used = self.cpu(end) - self.cpu(start)
        peak = max((r for t, _, r in self.samples if start <= t <= end + self.every), default=0)
        return used, used / max(end - start, 1e-9), peak


@dataclass(frozen=True)
class Resync:
    start: float
    end: float
    stacks: int


class ResyncLog:
    """The controller's ``resync done`` lines, read from its JSON log as it grows."""

    def __init__(self, path: Path) -> None:
        self.path, self._offset = path, 0
        self.seen: list[Resync] = []

    def poll(self) -> list[Resync]:
        with self.path.open("rb") as log:
            log.seek(self._offset)
            chunk = log.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("event") == "resync done":
                    end = datetime.fromisoformat(entry["timestamp"]).timestamp()
                    self.seen.append(Resync(end - entry["seconds"], end, entry["stacks"]))
        return self.seen

    def next_after(self, moment: float, *, stacks: int, timeout: float) -> Resync:
        """The first resync of all ``stacks`` that began after ``moment``."""

        def found() -> Resync | None:
            return next((r for r in self.poll() if r.start > moment and r.stacks == stacks), None)

        resync = wait_for(found, timeout=timeout, what=f"a resync of {stacks} stacks", every=0.2)
        assert resync is not None
        return resync


def calls_between(proxy: converge_bench.CountingProxy, start: float, end: float) -> int:
    return sum(1 for t, _ in list(proxy.requests) if start <= t <= end)


# -- the stacks' state, seen directly (not through the proxy) --------------------------------


def running(client: Any, prefix: str) -> dict[tuple[str, str], str]:
    """{(stack, service): container id} of the run's running containers."""
    found = client.api.containers(filters={"name": prefix, "status": "running"})
    return {
        (c["Labels"]["kedge.stack"], c["Labels"]["kedge.service"]): c["Id"]
        for c in found
        if c["Labels"].get("kedge.stack", "").startswith(prefix)
    }


def quiet(store: SqliteStore) -> bool:
    return not any(
        store.commands.list(status=state, limit=1).items
        for state in (CommandStatus.PENDING, CommandStatus.RUNNING)
    )


def settle(client: Any, store: SqliteStore, prefix: str, *, containers: int) -> float:
    """Wait until every container runs and no command is pending; returns when that was."""
    wait_for(
        lambda: len(running(client, prefix)) == containers and quiet(store),
        timeout=120 + containers * 3,
        what=f"{containers} containers running, the queue empty",
        every=1.0,
    )
    return time.time()


def remove_run(client: Any, prefix: str) -> None:
    """Remove every container of the run (four at a time: a kind load on the daemon)."""
    found = client.api.containers(all=True, filters={"name": prefix})
    ours = [c["Id"] for c in found if c["Labels"].get("kedge.stack", "").startswith(prefix)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: _remove(client, i), ours))


def _remove(client: Any, container: str) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        client.api.remove_container(container, force=True)


# -- the measurements ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    stacks: int
    containers: int
    resyncs: list[tuple[int, float, float, float, float]]  # calls, s, cpu s, cpu share, rss
    idle: tuple[float, float, int]  # cpu share, rss, calls


@dataclass
class Run:
    proxy: converge_bench.CountingProxy
    client: Any
    store: SqliteStore
    sampler: Sampler
    log: ResyncLog
    prefix: str
    args: argparse.Namespace


def measure_step(run: Run, stacks: int) -> Step:
    containers = stacks * run.args.services
    settled = settle(run.client, run.store, run.prefix, containers=containers)
    wait = run.args.resync * 2 + 60
    first = run.log.next_after(settled, stacks=stacks, timeout=wait)
    idle_from = first.end + 0.5
    time.sleep(max(idle_from + run.args.idle - time.time(), 0))
    idle_cpu = run.sampler.window(idle_from, idle_from + run.args.idle)
    idle_calls = calls_between(run.proxy, idle_from, idle_from + run.args.idle)
    second = run.log.next_after(first.end, stacks=stacks, timeout=wait)
    time.sleep(0.2)  # the sampler's last samples of it
    return Step(
        stacks,
        containers,
        [_resync_figures(run, r) for r in (first, second)],
        (idle_cpu[1], _rss_at(run.sampler, idle_from + run.args.idle), idle_calls),
    )


def _resync_figures(run: Run, resync: Resync) -> tuple[int, float, float, float, float]:
    calls = calls_between(run.proxy, resync.start - 0.01, resync.end + 0.01)
    used, share, peak = run.sampler.window(resync.start, resync.end)
    return calls, resync.end - resync.start, used, share, peak


def _rss_at(sampler: Sampler, at: float) -> float:
    return min(sampler.samples, key=lambda s: abs(s[0] - at))[2]


def repair(run: Run, stacks: list[str], trial: int) -> tuple[int, float, float, int]:
    """Remove one container and ``--others`` of other stacks at once; time their return."""
    before = running(run.client, run.prefix)
    target = (stacks[trial % len(stacks)], f"s{trial % run.args.services}")
    pool = [k for k in before if k[0] != target[0]]
    random.Random(trial).shuffle(pool)
    others = _spread(pool, run.args.others)
    victims = [before[target], *(before[k] for k in others)]
    calls, began = run.proxy.count, time.time()
    with concurrent.futures.ThreadPoolExecutor(len(victims)) as removers:
        list(removers.map(lambda i: _remove(run.client, i), victims))

    def back(keys: list[tuple[str, str]]) -> bool:
        now = running(run.client, run.prefix)
        return all(k in now and now[k] != before[k] for k in keys)

    wait_for(lambda: back([target]), timeout=600, what=f"{target} running again", every=0.05)
    first = time.time() - began
    wait_for(lambda: back([target, *others]), timeout=600, what="all running again", every=0.2)
    every = time.time() - began
    made = run.proxy.count - calls
    settle(run.client, run.store, run.prefix, containers=len(before))
    return len(victims), first, every, made


def _spread(pool: list[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    """``count`` containers of ``pool``: one per stack before any stack gives a second."""
    by_stack: dict[str, list[tuple[str, str]]] = {}
    for key in pool:
        by_stack.setdefault(key[0], []).append(key)
    rounds = itertools.zip_longest(*by_stack.values())
    return [key for keys in rounds for key in keys if key is not None][:count]


# -- the table -------------------------------------------------------------------------------


def print_header(args: argparse.Namespace) -> None:
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(
        f"kedge controller at {commit or ROOT}, stacks of {args.services} services,"
        f" {args.workers} workers, resync every {args.resync:g} s"
        f" ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores)\n"
    )
    print(
        "| stacks | containers | resync API calls | resync s | resync CPU s | resync CPU % "
        f"| resync peak RSS MiB | idle {args.idle:g} s CPU % | idle RSS MiB | idle API calls "
        "| load average |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)


def print_step(step: Step) -> None:
    calls = "/".join(str(r[0]) for r in step.resyncs)
    took = statistics.median(r[1] for r in step.resyncs)
    used = statistics.median(r[2] for r in step.resyncs)
    share = statistics.median(r[3] for r in step.resyncs)
    peak = max(r[4] for r in step.resyncs)
    idle_share, idle_rss, idle_calls = step.idle
    print(
        f"| {step.stacks} | {step.containers} | {calls} | {took:.2f} | {used:.2f} "
        f"| {share * 100:.0f} | {peak:.1f} | {idle_share * 100:.2f} | {idle_rss:.1f} "
        f"| {idle_calls} | {os.getloadavg()[0]:.1f} |",
        flush=True,
    )


def print_repairs(repairs: list[tuple[int, float, float, int]], *, stacks: int) -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nrepair, {stacks} stacks: one container removed together with others of other"
        f" stacks (load average at the end {load})\n"
    )
    print(
        "| trial | removed at once | that one running again s | all running again s "
        "| controller API calls |"
    )
    print("|---:|---:|---:|---:|---:|")
    for trial, (removed, first, every, calls) in enumerate(repairs, 1):
        print(f"| {trial} | {removed} | {first:.2f} | {every:.2f} | {calls} |", flush=True)


# -- the run ---------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,100", help="stack counts, measured in turn")
    parser.add_argument("--services", type=int, default=5, help="services per stack")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle measured")
    parser.add_argument("--resync", type=float, default=45.0, help="the controller's --resync")
    parser.add_argument("--trials", type=int, default=3, help="repairs timed")
    parser.add_argument("--others", type=int, default=20, help="containers removed besides")
    parser.add_argument("--workers", type=int, default=4, help="the controller's --workers")
    args = parser.parse_args()
    if args.resync <= args.idle + 5:
        parser.error("--resync must exceed --idle by more than 5 s: idle is between resyncs")
    return args


def main() -> None:
    args = arguments()
    sizes = [int(s) for s in args.sizes.split(",")]
    client = docker.DockerClient(base_url=f"unix://{converge_bench.DOCKER_SOCKET}", timeout=300)
    image = build_test_image(client)
    prefix = f"sc{uuid.uuid4().hex[:4]}"
    names = [f"{prefix}{i:03d}" for i in range(max(sizes))]
    with tempfile.TemporaryDirectory(prefix="kedge-scale-") as tmp:
        folder = Path(tmp)
        specs = folder / "specs"
        specs.mkdir()
        # the controller (a child) reaches Docker through the proxy; this process does not
        os.environ["DOCKER_HOST"] = f"unix://{folder / 'docker.sock'}"
        os.environ.pop("DOCKER_API_VERSION", None)
        with converge_bench.CountingProxy(str(folder / "docker.sock")) as proxy:
            try:
                measure_all(args, client, proxy, folder, names, image=image)
            finally:
                remove_run(client, prefix)


def measure_all(
    args: argparse.Namespace,
    client: Any,
    proxy: converge_bench.CountingProxy,
    folder: Path,
    names: list[str],
    *,
    image: str,
) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    extra = ("--log-level", "debug")
    ctl = ControllerProcess(
        folder / "specs",
        folder / "kedge.db",
        resync=args.resync,
        workers=args.workers,
        extra=extra,
    ).start()
    store = SqliteStore.open(folder / "kedge.db")
    assert ctl.proc is not None
    try:
        with Sampler(ctl.proc.pid) as sampler:
            run = Run(proxy, client, store, sampler, ResyncLog(ctl.log_path), names[0][:6], args)
            print_header(args)
            for size in sizes:
                for name in names[:size]:
                    path = folder / "specs" / f"{name}.yaml"
                    if not path.exists():
                        write_atomically(path, render_stack(name, args.services, image=image))
                print_step(measure_step(run, size))
            repairs = [repair(run, names[: sizes[-1]], t) for t in range(args.trials)]
            print_repairs(repairs, stacks=sizes[-1])
    finally:
        store.close()
        ctl.terminate()


if __name__ == "__main__":
    main()
