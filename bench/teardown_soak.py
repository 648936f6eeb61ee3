"""Teardown soak: ``kedge up`` / ``kedge down`` of a 50-service stack, many times in a row,
checking after each cycle that dockerd still answers.

Issue 13: during a ``kedge down`` of a 50-service stack, moby 20.10's network subsystem once
stopped answering (``docker network ls`` hung: libnetwork's lock-order deadlock between a
container leaving a network and an endpoint being deleted, moby/libnetwork#2649). This runs
``--cycles`` cycles (20 by default) of a cold ``kedge up --wait`` and a ``kedge down
--volumes`` of the converge bench's stack (``bench/converge_bench.py``: one ``db`` with a
volume, the others on two networks, 1 s healthchecks, depending on ``db``), each as a whole
process, and after each cycle runs ``docker network ls`` with a deadline (``--answer``,
5 s). It prints one row per cycle: the times of up and down, the longest network removal of
the down (a removal the daemon made wait for its endpoints takes longer than a few
milliseconds), and how long ``docker network ls`` took or that it did not answer. A daemon
that stops answering ends the soak (exit 1) rather than piling more work on it.

Not a test: it takes about 20 minutes. Run: ``.venv/bin/python bench/teardown_soak.py``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from converge_bench import ensure_image, render_stack  # noqa: E402

KEDGE = [sys.executable, "-m", "kedge"]
_NETWORK = re.compile(r"network:(\S+)")
_REMOVED = re.compile(r"remove_network network:\S+ done in ([0-9.]+) s")


def run(args: list[str], *, env: dict[str, str]) -> tuple[float, int, str]:
    """(seconds, exit status, output) of one whole process."""
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done.returncode, done.stdout + done.stderr


def daemon_answers(within: float) -> float | None:
    """Seconds ``docker network ls`` took, or None when it did not answer within ``within``."""
    started = time.perf_counter()
    try:
        subprocess.run(
            ["docker", "network", "ls", "-q"], capture_output=True, timeout=within, check=True
        )
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError):
        return None
    return time.perf_counter() - started


def last_error(output: str) -> str:
    """The last error line of a run's output, shortened."""
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    lines = lines or output.strip().splitlines() or [""]
    text = lines[-1].removeprefix("error: ")
    if "lost count" in text:  # moby/moby#42119: only a restart of dockerd frees the network
        found = _NETWORK.search(text)
        return f"{found.group(1) if found else 'a network'}: daemon lost count (moby#42119)"
    return text[:140]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--answer", type=float, default=5.0, help="docker network ls deadline")
    parser.add_argument("--tag", default=os.urandom(2).hex(), help="suffix of the stack name")
    args = parser.parse_args()
    ensure_image()
    name = f"soak{args.tag}"
    env = {**os.environ, "KEDGE_FULL_PASS": "1"}
    folder = pathlib.Path(tempfile.mkdtemp(prefix="kedge-soak-"))
    spec, db = folder / f"{name}.yaml", str(folder / "kedge.db")
    spec.write_text(render_stack(name, args.services))
    print(f"stack {name}: {args.services} services, {args.cycles} cycles; {folder}")
    header = f"{'cycle':>5}  {'up s':>6}  {'down s':>6}  {'net rm s':>8}  {'network ls':>10}  note"
    print(header, flush=True)
    failures = 0
    for cycle in range(1, args.cycles + 1):
        up_s, up_rc, up_out = run([*KEDGE, "up", "-f", str(spec), "--wait", "--db", db], env=env)
        down_s, down_rc, down_out = run([*KEDGE, "down", name, "--volumes", "--db", db], env=env)
        removals = [float(s) for s in _REMOVED.findall(down_out)]
        answered = daemon_answers(args.answer)
        notes = []
        if up_rc:
            notes.append(f"up exit {up_rc}: {last_error(up_out)}")
        if down_rc:
            notes.append(f"down exit {down_rc}: {last_error(down_out)}")
        failures += bool(up_rc or down_rc)
        net = f"{max(removals):8.2f}" if removals else f"{'-':>8}"
        ls = f"{answered:9.2f}s" if answered is not None else f"{'NO ANSWER':>10}"
        print(
            f"{cycle:>5}  {up_s:6.1f}  {down_s:6.1f}  {net}  {ls}  {'; '.join(notes)}",
            flush=True,
        )
        if answered is None:
            print(f"dockerd did not answer `docker network ls` within {args.answer:g} s: stopped")
            return 1
    print(f"{args.cycles} cycles, {failures} with a failed up or down; dockerd answered after each")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
