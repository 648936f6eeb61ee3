"""How fast the spec parser reads ordinary files and refuses hostile ones.

Prints, for each input, its size, the median time of ``load_yaml`` over several runs, the
peak memory traced during one run, and whether it was accepted. Run it with
``.venv/bin/python bench/yaml_bench.py``.
"""

from __future__ import annotations

import contextlib
import statistics
import time
import tracemalloc
from collections.abc import Callable

from kedge.errors import SpecError
from kedge.specs.interpolation import interpolate
from kedge.specs.yamlsource import load_yaml

SERVICE = """\
  svc{i}:
    image: ${{IMAGE:-busybox:1}}
    command: [sh, -c, 'echo {i} && sleep 3600']
    environment: {{INDEX: "{i}", MODE: production}}
    ports: ["{port}:80"]
    healthcheck: {{test: [CMD, true], interval: 5s}}
"""


def spec(services: int) -> str:
    return "services:\n" + "".join(SERVICE.format(i=i, port=10000 + i) for i in range(services))


def bomb() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def measure(name: str, text: str, work: Callable[[str], object], runs: int = 5) -> None:
    times = []
    outcome = "accepted"
    for _ in range(runs):
        started = time.perf_counter()
        try:
            work(text)
        except SpecError as exc:
            outcome = f"refused at line {exc.location.line}"
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    with contextlib.suppress(SpecError):
        work(text)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    median = statistics.median(times) * 1000
    print(
        f"{name:<34} {len(text.encode()):>10,} B {median:>9.1f} ms {peak / 1e6:>8.1f} MB  {outcome}"
    )


def parse_and_interpolate(text: str) -> object:
    document = load_yaml(text)
    return interpolate(document.data, {}, locate=document.locate)


def main() -> None:
    print(f"{'input':<34} {'size':>12} {'median':>12} {'peak':>11}  outcome")
    measure("1 service", spec(1), load_yaml)
    measure("20 services", spec(20), load_yaml)
    measure("20 services + interpolation", spec(20), parse_and_interpolate)
    measure("1,500 services (~0.3 MiB)", spec(1500), load_yaml, runs=3)
    measure("3,000 services (~0.6 MiB)", spec(3000), load_yaml, runs=3)
    measure("billion laughs (9 x 9 aliases)", bomb(), load_yaml)
    measure("1,000-level nesting", "a: " + "[" * 1000 + "]" * 1000 + "\n", load_yaml)
    measure("5 MiB comment file", "a: 1\n" + ("#" * 80 + "\n") * ((5 << 20) // 81), load_yaml)


if __name__ == "__main__":
    main()
