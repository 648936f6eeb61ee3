"""``kedge controller``: run the controller in the foreground until SIGTERM or Ctrl-C.

A standalone controller (``runtime.open_runtime``): the SQLite store, the Docker engine from
the environment (``DOCKER_HOST`` or the local socket), the spec folder, and ``/metrics`` on
``--metrics-addr``. SIGTERM and SIGINT stop claiming and let running passes finish within
``--grace`` seconds; the exit status is 0 when they did.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated

import structlog
import typer
from prometheus_client import start_http_server

from kedge import errors, runtime
from kedge.cli.addresses import parse_addr
from kedge.cli.options import DEFAULT_DB, DbOption
from kedge.cli.policy import PolicyOption, server_policy
from kedge.observability.logs import configure_logging

__all__ = ["RetryBaseOption", "RetryCapOption", "controller", "opened"]

log = structlog.get_logger(__name__)


RetryBaseOption = Annotated[
    float,
    typer.Option(
        "--retry-base",
        min=0.1,
        help="Seconds before the first retry of a stack that failed for a reason that may"
        " clear by itself; doubled per attempt.",
    ),
]
RetryCapOption = Annotated[
    float, typer.Option("--retry-cap", min=0.1, help="The longest wait between such retries.")
]


def opened(prefix: str, open_runtime: Callable[[], runtime.Runtime]) -> runtime.Runtime:
    """The runtime ``open_runtime`` opens; Docker not answering exits 2 with ``prefix`` and
    the reason (``kedge controller`` and ``kedge serve``)."""
    try:
        return open_runtime()
    except errors.EngineError as exc:
        typer.echo(f"{prefix} {exc}", err=True)
        raise typer.Exit(2) from exc


def controller(
    *,
    specs: Annotated[
        Path, typer.Option("--specs", help="The folder of spec files to watch.")
    ] = Path("specs"),
    db: DbOption = DEFAULT_DB,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Passes run at once.")] = 2,
    resync: Annotated[
        float, typer.Option("--resync", min=1, help="Seconds between drift checks.")
    ] = 60.0,
    metrics_addr: Annotated[
        str,
        typer.Option(
            "--metrics-addr", help="Serve /metrics on HOST:PORT (:PORT is loopback; off if empty)."
        ),
    ] = "",
    prune: Annotated[
        bool, typer.Option("--prune/--no-prune", help="Delete stacks whose file is removed.")
    ] = True,
    grace: Annotated[
        float, typer.Option("--grace", min=0, help="Seconds running passes get at shutdown.")
    ] = 30.0,
    retry_base: RetryBaseOption = 10.0,
    retry_cap: RetryCapOption = 300.0,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info or warning.")] = "info",
    policy_file: PolicyOption = None,
) -> None:
    """Run the controller: keep every stack of the spec folder converged."""
    configure_logging(level=log_level)
    kedge = opened(
        "kedge controller: Docker is not reachable:",
        lambda: runtime.open_runtime(
            db,
            workers=workers,
            specs=specs,
            events=False,
            policy=server_policy(policy_file),
            resync=resync,
            prune=prune,
            retry_base=retry_base,
            retry_cap=retry_cap,
        ),
    )
    if metrics_addr:
        host, port = parse_addr(metrics_addr)
        start_http_server(port, addr=host, registry=kedge.registry)
        log.info("metrics served", addr=f"{host}:{port}", path="/metrics")
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal received", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    kedge.start()
    while not stop.wait(1.0):
        pass
    raise typer.Exit(0 if kedge.close(grace=grace) else 1)
