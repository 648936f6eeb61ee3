"""Where ``kedge serve`` listens and where the client verbs look for it: one default address.

``DEFAULT_ADDR`` is ``kedge serve``'s ``--addr`` when none is given (what ``make run`` starts),
and ``DEFAULT_SERVER`` the URL the kubectl-like verbs talk to when neither ``--server`` nor
``KEDGE_SERVER`` names one, so the two can never disagree. The examples publish other host
ports (``tests/unit/test_examples.py`` holds them to it), so the first example runs beside the
server. ``parse_addr`` reads every ``HOST:PORT`` option (``serve --addr``, ``controller
--metrics-addr``); an empty host means loopback, as nothing Kedge serves has authentication.
Callers: ``cli.serve``, ``cli.controller``, ``cli.client``, ``cli.main``.
"""

from __future__ import annotations

import typer

__all__ = ["DEFAULT_ADDR", "DEFAULT_SERVER", "LOOPBACK", "parse_addr"]

LOOPBACK = "127.0.0.1"
DEFAULT_ADDR = f"{LOOPBACK}:8080"
DEFAULT_SERVER = f"http://{DEFAULT_ADDR}"


def parse_addr(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6, ``:PORT`` for loopback) as a host and a port."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise typer.BadParameter(f"{text!r} is not HOST:PORT (e.g. {DEFAULT_ADDR})")
    return host.strip("[]") or LOOPBACK, int(port)
