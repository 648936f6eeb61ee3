"""``kedge serve``: the API, the controller and ``/metrics`` in one process — the embedded
default that ``make run`` starts.

It opens the store (``--db``), connects to Docker as the docker CLI does, runs the
controller (workers, the folder source when ``--specs`` is given, Docker events, resync) and
serves the API with uvicorn on ``--addr``. The API has no authentication yet, so a
non-loopback ``--addr`` is refused unless ``--insecure-listen`` says the operator means it;
the API answers only to the host names it was told (loopback, the address, each
``--allowed-host``), and uvicorn runs with the limits of ``cli.http``. Every spec, from the
folder or the API, is held to the operator's host-safety policy (``--policy``; ``restricted``
without one); a posted spec reads server files only under ``--spec-root`` and interpolates
only the server variables named by ``--allow-variable`` (``cli.policy``). SIGINT/SIGTERM stop
the server, then the controller within its grace period. The system is wired by the
composition root, ``runtime.open_runtime``. Callers: ``cli.main``.
"""

from __future__ import annotations

import ipaddress
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import structlog
import typer
import uvicorn

from kedge import runtime
from kedge.cli.addresses import DEFAULT_ADDR, parse_addr
from kedge.cli.controller import RetryBaseOption, RetryCapOption, opened
from kedge.cli.http import uvicorn_limits
from kedge.cli.options import DEFAULT_DB, DbOption
from kedge.cli.policy import AllowVariableOption, PolicyOption, SpecRootOption, server_policy
from kedge.observability.hub import EventHub
from kedge.observability.logs import configure_logging

__all__ = ["serve"]

log = structlog.get_logger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    *,
    specs: Annotated[
        Path | None, typer.Option("--specs", help="A folder of spec files to keep converged.")
    ] = None,
    db: DbOption = DEFAULT_DB,
    addr: Annotated[str, typer.Option("--addr", help="Where the API listens.")] = DEFAULT_ADDR,
    workers: Annotated[int, typer.Option("--workers", help="Passes run at once.")] = 2,
    grace: Annotated[
        float, typer.Option("--grace", help="Seconds running passes get to finish on stop.")
    ] = 30.0,
    retry_base: RetryBaseOption = 10.0,
    retry_cap: RetryCapOption = 300.0,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info or warning.")] = "info",
    policy_file: PolicyOption = None,
    spec_root: SpecRootOption = None,
    allow_variable: AllowVariableOption = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A host name the API answers to besides loopback and --addr (repeat it;"
            " *.example.com allows subdomains). Others get 421 (DNS rebinding).",
        ),
    ] = None,
    insecure_listen: Annotated[
        bool,
        typer.Option(
            "--insecure-listen",
            help="Listen on a non-loopback --addr although the API has no authentication:"
            " anyone who reaches it drives Docker, which is root on this host.",
        ),
    ] = False,
    metrics_auth: Annotated[
        bool,
        typer.Option(
            "--metrics-auth",
            help="/metrics needs a token too once an identity is configured (kedge token"
            " create); by default it stays open to scrapers.",
        ),
    ] = False,
) -> None:
    """Run the API, the controller and /metrics in one process."""
    configure_logging(level=log_level)
    policy = server_policy(policy_file, spec_root=spec_root, variables=allow_variable)
    host, port = parse_addr(addr)
    if not _is_loopback(host):
        if not insecure_listen:
            typer.echo(
                f"error: --addr {addr} is not a loopback address, and the API has no"
                " authentication: anyone who reaches it can run containers as root on this"
                " host. Listen on 127.0.0.1, or say --insecure-listen if a firewall or a"
                " loopback-only publish (as in the shipped compose.yaml) guards it",
                err=True,
            )
            raise typer.Exit(2)
        typer.echo(
            f"warning: the API has no authentication and listens on {host}, not loopback"
            " (--insecure-listen)",
            err=True,
        )
    if specs is not None:
        specs.mkdir(parents=True, exist_ok=True)
    kedge = opened(
        "error:",
        lambda: runtime.open_runtime(
            db,
            workers=workers,
            specs=specs,
            policy=policy,
            retry_base=retry_base,
            retry_cap=retry_cap,
        ),
    )
    app = kedge.api(
        policy=policy,
        host=host,
        allowed_hosts=tuple(allowed_host or ()),
        metrics_auth=metrics_auth,
    )
    kedge.start()
    typer.echo(f"kedge serves http://{addr} (store {db}, specs {specs or '-'})", err=True)
    # uvicorn handles SIGINT/SIGTERM while it serves and raises the signal again when it has
    # stopped; this handler takes that second delivery, so the controller gets its grace
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _after_server)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=5,
        **uvicorn_limits(),
    )
    server = _Server(config, hub=kedge.hub)
    try:
        server.run()
    finally:
        clean = kedge.close(grace=grace)
    if not server.started:  # uvicorn said why (e.g. the address is in use)
        raise typer.Exit(2)
    raise typer.Exit(0 if clean else 1)


class _Server(uvicorn.Server):
    """uvicorn's server, which also ends the open event streams (dashboards) when asked to
    stop: they never end by themselves, and uvicorn waits for every open answer."""

    def __init__(self, config: uvicorn.Config, *, hub: EventHub | None) -> None:
        super().__init__(config)
        self._hub = hub

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._hub is not None:
            self._hub.close()
        super().handle_exit(sig, frame)


def _after_server(signum: int, _frame: FrameType | None) -> None:
    log.info("stopping", signal=signal.Signals(signum).name)
